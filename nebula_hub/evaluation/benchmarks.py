"""The one name -> benchmark mapping: where each benchmark's data lives, how its fields map, how it is prompted and
scored, and which suites group them.

Benchmarks are referred to by name everywhere (CLI, configs, cards); add one here and every command knows it. A
benchmark defined elsewhere can be named by dotted path (`my_pkg.my_module:MY_SPEC`), the escape hatch for
experiments that do not belong in the registry.

Example:
    >>> from nebula_hub.evaluation.benchmarks import get_benchmark, resolve_benchmarks
    >>> get_benchmark("gsm8k").repo, get_benchmark("gsm8k").config
    ('openai/gsm8k', 'main')
    >>> [b.name for b in resolve_benchmarks(suite="instruct")]
    ['ifeval', 'gsm8k', 'math500', 'humaneval', 'mmlu']
"""

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path

from nebula_hub.errors import NebulaError


AREAS = ("instruction_following", "math", "code", "knowledge")
DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark: data source, field layout, prompt, metric and generation defaults.

    Data:
        repo, config, split, revision: where `datasets.load_dataset` finds the public set (the Hub's standard one by
        default; `--dataset NAME=REPO[:CONFIG][@REV]` overrides). bundled: the small offline set shipped in
        `nebula_hub/evaluation/data/` (same field layout as the public set, so one loader reads both).
        fields: canonical field -> column name in the source; a loader reads only these columns. layout: which
        record converter of `nebula_hub.evaluation.loaders` reads the rows (defaults to the benchmark's name).
    Scoring:
        area: one of `AREAS`. prompt_template: id in `nebula_hub.evaluation.prompts.TEMPLATES`. metric: directory of
        the evaluate module in `nebula_hub/evaluation/metrics/`. primary: the metric the suite average uses.
        metrics: the metrics reported in the card, in order.
    Generation:
        max_tokens: default new tokens (thinking off); max_tokens_thinking: with thinking on.
    """

    name: str
    display_name: str
    area: str
    repo: str
    split: str
    fields: dict[str, str]
    prompt_template: str
    metric: str
    primary: str
    metrics: tuple[str, ...]
    config: str | None = None
    revision: str | None = None
    bundled: str | None = None
    max_tokens: int = 1024
    max_tokens_thinking: int = 8192
    layout: str | None = None
    metric_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        assert self.area in AREAS, self.area
        assert self.primary in self.metrics, (self.primary, self.metrics)

    @property
    def layout_name(self) -> str:
        return self.layout or self.name

    def bundled_path(self) -> Path:
        """The bundled JSONL file of this benchmark."""
        if not self.bundled:
            raise NebulaError(
                f"benchmark {self.name!r} has no bundled offline set",
                hint="load it from the Hub (--data hub) or pass --data-file NAME=FILE.jsonl",
            )
        return DATA_DIR / self.bundled

    def with_source(self, repo: str, config: str | None = None, revision: str | None = None) -> "BenchmarkSpec":
        """The same benchmark read from another dataset repo (a mirror or a fork with the same layout)."""
        return dataclasses.replace(self, repo=repo, config=config, revision=revision)


BENCHMARKS: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in (
        BenchmarkSpec(
            name="ifeval",
            display_name="IFEval",
            area="instruction_following",
            repo="google/IFEval",
            split="train",
            fields={"id": "key", "prompt": "prompt", "instruction_id_list": "instruction_id_list", "kwargs": "kwargs"},
            prompt_template="ifeval_v1",
            metric="ifeval",
            primary="prompt_level_strict_acc",
            metrics=(
                "prompt_level_strict_acc",
                "inst_level_strict_acc",
                "prompt_level_loose_acc",
                "inst_level_loose_acc",
            ),
            bundled="ifeval.jsonl",
            max_tokens=1280,
        ),
        BenchmarkSpec(
            name="gsm8k",
            display_name="GSM8K",
            area="math",
            repo="openai/gsm8k",
            config="main",
            split="test",
            fields={"question": "question", "answer": "answer"},
            prompt_template="math_boxed_v1",
            metric="math_accuracy",
            primary="accuracy",
            metrics=("accuracy",),
            bundled="gsm8k.jsonl",
            max_tokens=1024,
        ),
        BenchmarkSpec(
            name="math500",
            display_name="MATH-500",
            area="math",
            repo="HuggingFaceH4/MATH-500",
            split="test",
            fields={"id": "unique_id", "problem": "problem", "answer": "answer"},
            prompt_template="math_boxed_v1",
            metric="math_accuracy",
            primary="accuracy",
            metrics=("accuracy",),
            bundled="math500.jsonl",
            layout="math",
            max_tokens=2048,
            max_tokens_thinking=16384,
        ),
        BenchmarkSpec(
            name="aime",
            display_name="AIME 2024",
            area="math",
            repo="HuggingFaceH4/aime_2024",
            split="train",
            fields={"id": "id", "problem": "problem", "answer": "answer"},
            prompt_template="math_boxed_v1",
            metric="math_accuracy",
            primary="accuracy",
            metrics=("accuracy",),
            bundled="aime.jsonl",
            layout="math",
            max_tokens=4096,
            max_tokens_thinking=32768,
        ),
        BenchmarkSpec(
            name="humaneval",
            display_name="HumanEval",
            area="code",
            repo="openai/openai_humaneval",
            split="test",
            fields={"id": "task_id", "prompt": "prompt", "entry_point": "entry_point", "test": "test"},
            prompt_template="code_complete_v1",
            metric="code_pass_at_k",
            primary="pass@1",
            metrics=("pass@1",),
            bundled="humaneval.jsonl",
            max_tokens=1024,
        ),
        BenchmarkSpec(
            name="mbpp",
            display_name="MBPP",
            area="code",
            repo="google-research-datasets/mbpp",
            config="full",
            split="test",
            fields={"id": "task_id", "text": "text", "test_list": "test_list", "test_setup_code": "test_setup_code"},
            prompt_template="code_mbpp_v1",
            metric="code_pass_at_k",
            primary="pass@1",
            metrics=("pass@1",),
            bundled="mbpp.jsonl",
            max_tokens=1024,
        ),
        BenchmarkSpec(
            name="mmlu",
            display_name="MMLU",
            area="knowledge",
            repo="cais/mmlu",
            config="all",
            split="test",
            fields={"question": "question", "subject": "subject", "choices": "choices", "answer": "answer"},
            prompt_template="multiple_choice_v1",
            metric="mc_accuracy",
            primary="accuracy",
            metrics=("accuracy",),
            bundled="mmlu.jsonl",
            max_tokens=512,
            max_tokens_thinking=8192,
        ),
    )
}

# Suites: what the paper averages. `instruct` = the capability suite of an instruct model (thinking off by default);
# `reasoning` = the math/code suite of a reasoning model (thinking on by default); `all` = every benchmark.
SUITES: dict[str, tuple[str, ...]] = {
    "instruct": ("ifeval", "gsm8k", "math500", "humaneval", "mmlu"),
    "reasoning": ("gsm8k", "math500", "aime", "humaneval", "mbpp"),
    "all": tuple(BENCHMARKS),
}
SUITE_THINKING = {"instruct": False, "reasoning": True, "all": False}


def get_benchmark(name: str) -> BenchmarkSpec:
    """The benchmark called `name`, or one named by dotted path `module:ATTRIBUTE`.

    Raises:
        `NebulaError`: unknown name (the message lists the valid ones).

    Example:
        >>> get_benchmark("mmlu").metric
        'mc_accuracy'
    """
    if name in BENCHMARKS:
        return BENCHMARKS[name]
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            spec = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as err:
            raise NebulaError(
                f"benchmark {name!r}: cannot import {attribute!r} from {module_name!r} ({err})",
                hint="give module.path:ATTRIBUTE naming a BenchmarkSpec, or one of: " + ", ".join(BENCHMARKS),
            ) from None
        if not isinstance(spec, BenchmarkSpec):
            raise NebulaError(
                f"benchmark {name!r} is a {type(spec).__name__}, not a BenchmarkSpec",
                hint="point at a nebula_hub.evaluation.benchmarks.BenchmarkSpec instance",
            )
        return spec
    raise NebulaError(f"unknown benchmark {name!r}", hint="choose among: " + ", ".join(BENCHMARKS))


def resolve_benchmarks(suite: str | None = None, names: list[str] | str | None = None) -> list[BenchmarkSpec]:
    """The benchmarks to run: `names` if given (a list or a comma-separated string), else the suite's.

    Example:
        >>> [b.name for b in resolve_benchmarks(names="mmlu,ifeval")]
        ['mmlu', 'ifeval']
    """
    if names:
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        seen = []
        for n in names:
            if n not in seen:
                seen.append(n)
        return [get_benchmark(n) for n in seen]
    suite = suite or "instruct"
    if suite not in SUITES:
        raise NebulaError(f"unknown suite {suite!r}", hint="choose among: " + ", ".join(SUITES))
    return [BENCHMARKS[n] for n in SUITES[suite]]


def suite_name(benchmarks: list[BenchmarkSpec]) -> str:
    """The suite these benchmarks form (`instruct`, `reasoning`, `all`), or `custom`.

    Example:
        >>> suite_name(resolve_benchmarks(suite="reasoning")), suite_name(resolve_benchmarks(names="mmlu"))
        ('reasoning', 'custom')
    """
    names = tuple(b.name for b in benchmarks)
    for suite, members in SUITES.items():
        if names == members:
            return suite
    return "custom"
