"""Load a benchmark's samples from the Hub, a local file or the bundled offline set, with one code path.

Every source is read with `datasets.load_dataset` (the Hub repo, or the `json`/`parquet` builder for files) and
each row goes through the benchmark's layout converter, which maps the public dataset's columns (via
`BenchmarkSpec.fields`) to a `Sample`: the inputs of the prompt template, and the reference the metric scores
against, always a string (a gold answer, a letter, or JSON for constraints and tests).

Example:
    >>> from nebula_hub.evaluation.benchmarks import get_benchmark
    >>> from nebula_hub.evaluation.loaders import load_samples
    >>> samples, source = load_samples(get_benchmark("gsm8k"), source="bundled", limit=2)
    >>> len(samples), samples[0].reference, source["kind"]
    (2, '12', 'bundled')
"""

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.evaluation.benchmarks import BenchmarkSpec


logger = logging.getLogger(__name__)
LETTERS = "ABCDEFGHIJ"
DEFAULT_DATA_HUB = "https://huggingface.co"


@dataclass
class Sample:
    """One benchmark item: `id`, the template `inputs`, the metric `reference` (a string) and `meta` (e.g. subject)."""

    id: str
    inputs: dict[str, Any]
    reference: str
    meta: dict[str, Any] = field(default_factory=dict)


def _ifeval(row: dict, index: int) -> Sample:
    # The Hub's google/IFEval stores kwargs as structs holding every possible key (null where unused); the reference
    # implementation builds each checker from the non-null ones only.
    kwargs = [{k: v for k, v in (kw or {}).items() if v is not None} for kw in row["kwargs"]]
    reference = json.dumps({"instruction_id_list": list(row["instruction_id_list"]), "kwargs": kwargs})
    return Sample(str(row.get("id", index)), {"prompt": row["prompt"]}, reference)


def _gsm8k(row: dict, index: int) -> Sample:
    answer = row["answer"]
    if "####" not in answer:
        raise ValueError(f"answer has no '#### <number>' line: {answer[-80:]!r}")
    gold = answer.rsplit("####", 1)[1].strip().replace(",", "")
    return Sample(str(row.get("id", index)), {"problem": row["question"]}, gold)


def _math(row: dict, index: int) -> Sample:
    return Sample(str(row.get("id", index)), {"problem": row["problem"]}, str(row["answer"]))


def _humaneval(row: dict, index: int) -> Sample:
    test = row["test"].rstrip() + f"\n\n\ncheck({row['entry_point']})\n"
    reference = json.dumps({"test": test, "prompt": row["prompt"], "entry_point": row["entry_point"]})
    return Sample(str(row.get("id", index)), {"prompt": row["prompt"]}, reference)


def _mbpp(row: dict, index: int) -> Sample:
    tests = list(row["test_list"])
    setup = row.get("test_setup_code") or ""
    reference = json.dumps({"test": (setup + "\n" if setup.strip() else "") + "\n".join(tests) + "\n"})
    return Sample(str(row.get("id", index)), {"text": row["text"], "tests": "\n".join(tests)}, reference)


def _mmlu(row: dict, index: int) -> Sample:
    choices = list(row["choices"])
    if not 2 <= len(choices) <= len(LETTERS):
        raise ValueError(f"needs 2 to {len(LETTERS)} choices, got {len(choices)}")
    answer = row["answer"]
    if isinstance(answer, str) and answer.strip().upper() in LETTERS[: len(choices)]:
        gold = answer.strip().upper()
    elif isinstance(answer, (int, str)) and str(answer).isdigit() and int(answer) < len(choices):
        gold = LETTERS[int(answer)]
    else:
        raise ValueError(f"answer {answer!r} is neither a choice index nor a letter among {len(choices)} choices")
    letters = LETTERS[: len(choices)]
    options = "\n".join(f"{letter}) {choice}" for letter, choice in zip(letters, choices, strict=True))
    inputs = {"question": row["question"], "options": options, "letters": letters}
    return Sample(str(row.get("id", index)), inputs, gold, {"subject": row.get("subject")})


LAYOUTS: dict[str, Callable[[dict, int], Sample]] = {
    "ifeval": _ifeval,
    "gsm8k": _gsm8k,
    "math": _math,
    "humaneval": _humaneval,
    "mbpp": _mbpp,
    "mmlu": _mmlu,
}


def _file_dataset(path: Path):
    import datasets

    suffixes = "".join(path.suffixes).lower()
    builder = "parquet" if ".parquet" in suffixes else "json"
    if builder == "json" and not any(s in suffixes for s in (".json", ".jsonl")):
        raise NebulaError(
            f"benchmark file {path}: unknown format {suffixes or '(no suffix)'!r}",
            hint="give a .jsonl, .jsonl.gz, .json or .parquet file",
        )
    return datasets.load_dataset(builder, data_files=str(path), split="train")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hub_dataset(spec: BenchmarkSpec, data_hub: str | None):
    import datasets

    from nebula_hub.hub import get_api, hub_errors, resolve_hub, use_hub

    target = resolve_hub(data_hub or os.environ.get("HF_ENDPOINT") or DEFAULT_DATA_HUB)
    revision = spec.revision
    with hub_errors(target):
        from huggingface_hub import constants

        if not constants.HF_HUB_OFFLINE:
            # Pin what was read: the commit sha goes into the results next to the score.
            revision = get_api(target).dataset_info(spec.repo, revision=spec.revision).sha
        with use_hub(target):
            ds = datasets.load_dataset(spec.repo, spec.config, split=spec.split, revision=revision)
    return ds, {
        "kind": "hub",
        "hub": target.endpoint,
        "repo": spec.repo,
        "config": spec.config,
        "split": spec.split,
        "revision": revision,
    }


def load_samples(
    spec: BenchmarkSpec,
    source: str = "hub",
    path: str | os.PathLike | None = None,
    limit: int | None = None,
    fields: dict[str, str] | None = None,
    data_hub: str | None = None,
) -> tuple[list[Sample], dict[str, Any]]:
    """Read a benchmark's samples and describe where they came from.

    Args:
        spec (`BenchmarkSpec`): the benchmark.
        source (`str`, *optional*, defaults to `"hub"`): `hub` (the spec's repo, config and split), `bundled` (the
            offline set shipped with nebula-hub) or `file` (`path`).
        path (`str`, *optional*): a JSONL(.gz)/JSON/Parquet file with the public dataset's columns (for `file`).
        limit (`int`, *optional*): keep the first `limit` samples.
        fields (`dict`, *optional*): canonical field -> column overrides on top of `spec.fields`.
        data_hub (`str`, *optional*): the hub serving the dataset; defaults to `HF_ENDPOINT`, else huggingface.co.

    Returns:
        `(samples, source_record)`: the source record (kind, repo/config/split/revision, or file and sha256) is
        written next to the scores.

    Raises:
        `NebulaError`: a column is missing or a row cannot be read (the message names the file or repo, the row
        and the column).

    Example:
        >>> from nebula_hub.evaluation.benchmarks import get_benchmark
        >>> samples, _ = load_samples(get_benchmark("mmlu"), source="bundled", limit=1)
        >>> samples[0].reference in "ABCD"
        True
    """
    if source == "hub":
        ds, record = _hub_dataset(spec, data_hub)
        where = f"{spec.repo} ({spec.config or 'default'}/{spec.split})"
    elif source in ("bundled", "file"):
        file = spec.bundled_path() if source == "bundled" else Path(path) if path else None
        if file is None or not file.is_file():
            raise NebulaError(
                f"benchmark {spec.name!r}: data file {file} does not exist",
                hint="pass an existing .jsonl/.parquet file with the public dataset's columns",
            )
        ds = _file_dataset(file)
        record = {"kind": source, "file": file.name if source == "bundled" else str(file), "sha256": _sha256(file)}
        where = str(file)
    else:
        raise NebulaError(f"unknown benchmark data source {source!r}", hint="use hub, bundled or file")
    mapping = {**spec.fields, **(fields or {})}
    missing = [
        f"{canonical} (column {column!r})" for canonical, column in mapping.items() if column not in ds.column_names
    ]
    if missing:
        raise NebulaError(
            f"benchmark {spec.name!r}: {where} lacks {', '.join(missing)}; its columns are {ds.column_names}",
            hint="map the fields to this dataset's columns, e.g. fields={'subject': 'type'} in Python",
        )
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    convert = LAYOUTS[spec.layout_name]
    samples = []
    for index, row in enumerate(ds):
        canonical = {name: row[column] for name, column in mapping.items()}
        try:
            samples.append(convert(canonical, index))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise NebulaError(
                f"benchmark {spec.name!r}: {where} row {index} cannot be read: {err}",
                hint="check the row's fields against the public dataset's layout (see BenchmarkSpec.fields)",
            ) from None
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise NebulaError(f"benchmark {spec.name!r}: {where} has duplicate ids", hint="give each row a unique id")
    record["n"] = len(samples)
    return samples, record
