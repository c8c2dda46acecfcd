"""n-gram decontamination of prompts against benchmark prompts, with a per-benchmark report.

Filtering is datatrove's `NGramsDecontFilter` (it only needs `<benchmark>.index.hashes` files). The index is built
here by `build_decont_index` because datatrove's `NGramsDecontIndexer` imports `lighteval` unconditionally (and
declares it required) even when given documents, and lighteval is a heavy dependency we do not otherwise need. The
hashes are computed exactly as the indexer does (datatrove's `simplify_text`, `ngrams` and hash function), over the
benchmark prompts (`find_query_ngrams`), so any 8-word (configurable) run shared with a benchmark prompt matches.

Example:
    >>> from nebula_hub.curate.sft_config import BenchmarkConfig
    >>> counts = build_decont_index([BenchmarkConfig(name="mini", path="bench.jsonl")], "/tmp/index")  # doctest: +SKIP
    >>> step = DecontaminationFilter("/tmp/index", n_grams=8)                                           # doctest: +SKIP
"""

import json
from pathlib import Path

import numpy as np
from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter
from datatrove.utils.hashing import HashConfig, create_hash_func
from datatrove.utils.text import ngrams, simplify_text

from nebula_hub.curate.dedup import WordTokenizer
from nebula_hub.errors import NebulaError


def decont_config(n_grams: int) -> NGramsDecontConfig:
    return NGramsDecontConfig(
        n_grams=n_grams, find_query_ngrams=True, find_overlap_ngrams=False, hash_config=HashConfig(precision=64)
    )


def benchmark_prompts(bench) -> list[str]:
    """The prompts of one benchmark (`BenchmarkConfig`: a local JSONL/Parquet file or a Hub dataset, and its field)."""
    if bench.repo:
        from datasets import load_dataset

        try:
            ds = load_dataset(bench.repo, bench.config, split=bench.split, revision=bench.revision)
        except Exception as err:  # datasets raises many unrelated types (missing repo/config/split, offline)
            raise NebulaError(
                f"decontamination benchmark {bench.name!r}: cannot load {bench.repo!r} "
                f"(config={bench.config!r}, split={bench.split!r}): {err}",
                hint="fix the benchmark entry or remove it from decontamination.benchmarks",
            ) from None
        rows = list(ds)
    else:
        path = Path(bench.path)
        if not path.is_file():
            raise NebulaError(
                f"decontamination benchmark {bench.name!r}: file {str(path)!r} does not exist",
                hint="fix decontamination.benchmarks[].path (relative to the config file)",
            )
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        else:
            rows = []
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise NebulaError(
                            f"benchmark file {str(path)!r} line {lineno} is not JSON: {err.msg}",
                            hint="fix or remove that line",
                        ) from None
    prompts = [str(row.get(bench.field, "")) for row in rows if row.get(bench.field)]
    if not prompts:
        raise NebulaError(
            f"decontamination benchmark {bench.name!r} has no field {bench.field!r} in its rows",
            hint="set decontamination.benchmarks[].field to the prompt column",
        )
    return prompts


def build_decont_index(benchmarks: list, index_dir: str | Path, n_grams: int = 8) -> dict[str, int]:
    """Write `<index_dir>/<name>.index.hashes` per benchmark; returns {name: prompts indexed}."""
    config = decont_config(n_grams)
    tokenizer = WordTokenizer()
    hash_func = create_hash_func(config.hash_config)
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for bench in benchmarks:
        hashes = set()
        prompts = benchmark_prompts(bench)
        for prompt in prompts:
            tokens = tokenizer.word_tokenize(simplify_text(prompt, config.norm_config))
            hashes.update(hash_func(" ".join(gram)) for gram in ngrams(tokens, n_grams))
        array = np.array(sorted(hashes), dtype=config.hash_config.np_descr)
        tmp = index_dir / f"{bench.name}.index.hashes.tmp"
        array.tofile(tmp)
        tmp.replace(index_dir / f"{bench.name}.index.hashes")
        counts[bench.name] = len(prompts)
    return counts


class DecontaminationFilter(NGramsDecontFilter):
    """datatrove's n-gram filter on the prompt text; the matched benchmark and n-gram go into the rejection detail.

    Args:
        index_folder (`str`): where `build_decont_index` wrote the hashes.
        n_grams (`int`, *optional*, defaults to 8): must equal the index's.
        exclusion_writer (`DiskWriter`, *optional*): receives contaminated documents (reason `contaminated`).
    """

    name = "🦠 Decontaminate"

    def __init__(self, index_folder: str, n_grams: int = 8, exclusion_writer=None):
        super().__init__(
            index_folder, config=decont_config(n_grams), exclusion_writer=exclusion_writer, language=WordTokenizer()
        )

    def filter(self, doc):
        result = super().filter(doc)
        if result is not True:
            task = doc.metadata.pop("contaminated_task")
            gram = doc.metadata.pop("contaminated_ngram")
            doc.metadata["contaminated_benchmark"] = task
            doc.metadata["rejection_detail"] = f"benchmark {task}: shares the {len(gram.split())}-gram {gram!r}"
        return result
