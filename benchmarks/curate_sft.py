"""Throughput of the SFT pipeline's non-generation stages: datatrove on 1 and 2 workers vs a naive `datasets.map`.

Stages measured: ingest, normalize, decontamination, classification, exact + near dedup, cross-verification of the
source responses (math-verify, the code sandbox, IFEval), sampling. Distillation and grading (generation) are off.
The baseline runs the same per-record functions in one process with `datasets.Dataset.map`/`filter` and in-memory
exact/MinHash dedup, in the same run on the same records.

    python benchmarks/curate_sft.py            # the bundled sources (~2,000 records)
    python benchmarks/curate_sft.py --quick    # ~40% of them
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

    from nebula_hub.curate.classify import classify_by_rules
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="use ~40%% of the bundled records")
    args = parser.parse_args()
    from nebula_hub.curate.samples import generate_samples

    folder = Path(tempfile.mkdtemp(prefix="nebula-bench-"))
    try:
        sources = folder / "sources"
        counts = generate_samples(sources, scale=0.4 if args.quick else 1.0)
        n = sum(counts.values())
        print(f"records in: {n} ({len(counts)} sources)")
        results = {}
        for workers in (1, 2):
            wall, timings, curated = run_datatrove(folder, sources, workers)
            results[workers] = wall
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in timings.items() if v)
            print(
                f"datatrove workers={workers}: {wall:.1f}s wall, {n / wall:.1f} records/s, {curated} curated; "
                f"per-stage task time: {stages}"
            )
        naive, kept = run_naive(sources, folder / "pipeline_w1.yaml")
        print(f"naive datasets.map (1 process): {naive:.1f}s, {n / naive:.1f} records/s, {kept} kept")
        print(
            f"speed-up: workers=2 vs workers=1 {results[1] / results[2]:.2f}x; "
            f"workers=2 vs naive {naive / results[2]:.2f}x; workers=1 vs naive {naive / results[1]:.2f}x"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
