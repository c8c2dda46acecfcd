"""Throughput of the SFT pipeline's non-generation stages: datatrove on 1 and 2 workers vs a naive `datasets.map`.

Stages measured: ingest, normalize, decontamination, classification, exact + near dedup, cross-verification of the
source responses (math-verify, the code sandbox, IFEval), sampling. Distillation and grading (generation) are off.
The baseline runs the same per-record functions in one process with `datasets.Dataset.map`/`filter` and in-memory
exact/MinHash dedup, in the same run on the same records (it writes no output files and does not sample, so it
does less than the pipeline). Two input sizes: the bundled sources (~2,000 records) and the same generators at 8x
scale (~16,000 records: new problems from the same templates, so dedup removes more), where fixed per-stage costs
amortise. The machine may be shared: every repeat runs workers=1, workers=2 and the baseline back to back, and the
ratios are taken within a repeat.

    python benchmarks/curate_sft.py                      # both sizes, 2 repeats
    python benchmarks/curate_sft.py --scales 1 --repeats 3
    python benchmarks/curate_sft.py --quick              # ~40% of the bundled records, 1 repeat
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml


ROOT = Path(__file__).resolve().parents[1]


def make_config(folder: Path, sources: Path, workers: int) -> Path:
    cfg = yaml.safe_load((ROOT / "pipelines" / "sft_corpus.yaml").read_text())
    for src in cfg["sources"]:
        src["path"] = str(sources / Path(src["path"]).name)
    for bench in cfg["decontamination"]["benchmarks"]:
        bench["path"] = str(sources / "benchmarks" / Path(bench["path"]).name)
    cfg["distill"]["enabled"] = False
    cfg["grade"]["enabled"] = False
    cfg["sample"].update(target_size=0)
    cfg["executor"].update(tasks=workers, workers=workers)
    path = folder / f"pipeline_w{workers}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_datatrove(folder: Path, sources: Path, workers: int) -> tuple[float, dict, int]:
    from nebula_hub.curate.sft import run_sft

    out = folder / f"out_w{workers}"
    start = time.perf_counter()
    run_sft(make_config(folder, sources, workers), output=out)
    wall = time.perf_counter() - start
    stats = json.loads((out / "stats.json").read_text())
    return wall, stats["timings_s"], stats["totals"]["curated"]


def run_naive(sources: Path, config_path: Path) -> tuple[float, int]:
    """The same per-record steps, single process, with datasets.map/filter and in-memory dedup."""
    from datasets import Dataset
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

    from nebula_hub.curate.classify import classify_by_rules, prompt_language
    from nebula_hub.curate.crossverify import CrossVerifyFilter
    from nebula_hub.curate.decont import DecontaminationFilter, build_decont_index
    from nebula_hub.curate.dedup import WordTokenizer, minhash_config
    from nebula_hub.curate.ingest import SourceReader
    from nebula_hub.curate.normalize import NormalizeFilter
    from nebula_hub.curate.sft import load_sft_config

    cfg = load_sft_config(config_path)
    start = time.perf_counter()
    rows = [
        {"id": d.id, "text": d.text, "metadata": json.dumps(d.metadata)}
        for d in SourceReader(cfg.sources).run(None, 0, 1)
    ]
    ds = Dataset.from_list(rows)
    index = Path(tempfile.mkdtemp()) / "index"
    build_decont_index(cfg.decontamination.benchmarks, index, cfg.decontamination.n_grams)
    normalize, decont = NormalizeFilter(), DecontaminationFilter(str(index), cfg.decontamination.n_grams)
    verify = CrossVerifyFilter(cfg.verify)

    def as_doc(row):
        return Document(text=row["text"], id=row["id"], metadata=json.loads(row["metadata"]))

    def step(fn):
        def apply(row):
            doc = as_doc(row)
            ok = fn(doc) is True
            return {"id": doc.id, "text": doc.text, "metadata": json.dumps(doc.metadata), "keep": ok}

        return apply

    ds = ds.map(step(normalize.filter)).filter(lambda r: r["keep"])
    ds = ds.map(step(decont.filter)).filter(lambda r: r["keep"])

    def classify(doc):
        label, conf = classify_by_rules(doc.text, doc.metadata.get("reference") or {})
        doc.metadata["task"] = {"label": label, "confidence": conf}
        doc.metadata["language"] = prompt_language(doc.text)  # TaskClassifier does this too
        return True

    ds = ds.map(step(classify))
    seen = set()
    ds = ds.filter(lambda r: not (r["text"] in seen or seen.add(r["text"])))
    sig = MinhashDedupSignature(tempfile.mkdtemp(), minhash_config(), WordTokenizer())
    bands: dict = {}

    def near_unique(row):
        shingles = sig.get_shingles(row["text"])
        if shingles.size == 0:
            return True
        keys = [(b, *band) for b, band in enumerate(sig.get_signature(shingles))]
        if any(k in bands for k in keys):
            return False
        bands.update(dict.fromkeys(keys, row["id"]))
        return True

    ds = ds.filter(near_unique)
    ds = ds.map(step(verify.filter)).filter(lambda r: r["keep"])
    kept = len(ds)
    return time.perf_counter() - start, kept


def warm_up() -> None:
    """Import the heavy modules and load the language profiles once, before anything is timed."""
    import datasets  # noqa: F401

    from nebula_hub.curate.classify import TaskClassifier
    from nebula_hub.curate.crossverify import CrossVerifyFilter
    from nebula_hub.curate.sft_config import VerifyConfig

    TaskClassifier().warm_up()
    CrossVerifyFilter(VerifyConfig()).warm_up()


def cold_caches() -> None:
    """Empty the per-text caches of the language and sentence helpers so no run reuses an earlier run's work."""
    from nebula_hub.verify.ifeval import text

    for fn in (text.detect_language, text.count_sentences, text._word_tokens):
        fn.cache_clear()


def bench_size(folder: Path, scale: float, repeats: int) -> None:
    from nebula_hub.curate.samples import generate_samples

    sources = folder / f"sources_x{scale:g}"
    counts = generate_samples(sources, scale=scale)
    n = sum(counts.values())
    print(f"\n== scale {scale:g}: {n} records in ({len(counts)} files) ==")
    ratios = {"w2/w1": [], "w1 vs naive": [], "w2 vs naive": []}
    for rep in range(repeats):
        walls = {}
        for workers in (1, 2):
            run_dir = folder / f"x{scale:g}_r{rep}"
            run_dir.mkdir(exist_ok=True)
            cold_caches()
            wall, timings, curated = run_datatrove(run_dir, sources, workers)
            walls[workers] = wall
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items() if v)
            print(
                f"[{rep}] datatrove workers={workers}: {wall:.1f}s wall, {n / wall:.0f} records/s, {curated} curated; "
                f"per-stage task time: {stages}"
            )
        cold_caches()
        naive, kept = run_naive(sources, folder / f"x{scale:g}_r{rep}" / "pipeline_w1.yaml")
        print(f"[{rep}] naive datasets.map (1 process): {naive:.1f}s, {n / naive:.0f} records/s, {kept} kept")
        ratios["w2/w1"].append(walls[1] / walls[2])
        ratios["w1 vs naive"].append(naive / walls[1])
        ratios["w2 vs naive"].append(naive / walls[2])
        shutil.rmtree(folder / f"x{scale:g}_r{rep}", ignore_errors=True)
    print(
        f"scale {scale:g} speed-up (per repeat): "
        + "; ".join(f"{k} " + " ".join(f"{r:.2f}x" for r in v) for k, v in ratios.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="~40%% of the bundled records, one repeat")
    parser.add_argument("--scales", default="1,8", help="comma-separated generator scales (1 = the bundled sources)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each configuration per scale")
    args = parser.parse_args()
    scales = [0.4] if args.quick else [float(x) for x in args.scales.split(",")]
    repeats = 1 if args.quick else args.repeats
    folder = Path(tempfile.mkdtemp(prefix="nebula-bench-"))
    warm_up()
    try:
        for scale in scales:
            bench_size(folder, scale, repeats)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
