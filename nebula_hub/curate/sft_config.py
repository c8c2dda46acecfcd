"""The SFT corpus pipeline's config: `pipelines/sft_corpus.yaml` -> `SFTPipelineConfig` (through `nebula_hub.config`).

One dataclass per stage, in pipeline order. The source, dedup, decontamination and executor sections are generic
(the RL pool reuses the steps they configure). Relative source and benchmark paths resolve against the YAML file's
folder, so a config and its bundled sources move together.

    from nebula_hub.config import load_config
    from nebula_hub.curate.sft_config import SFTPipelineConfig
    cfg = load_config("pipelines/sft_corpus.yaml", SFTPipelineConfig, overrides=["sample.target_size=500"])
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nebula_hub.errors import ConfigError
from nebula_hub.schema import TASKS


FORMATS = ("auto", "messages", "sharegpt", "alpaca", "prompt_response", "problem_solution")


@dataclass
class SourceConfig:
    """One input source: a local JSONL/Parquet file (or folder, or glob), or a Hub dataset.

    Location:
        path: local file, folder or glob (relative to the config file). repo / config / split / revision: a Hub
        dataset read with `datasets.load_dataset` (the resolved commit is recorded in the manifest).
    Layout:
        format: `messages` (OpenAI), `sharegpt` (from/value), `alpaca` (instruction/input/output), `prompt_response`,
        `problem_solution`, or `auto` (guessed per row from its keys). fields: canonical name -> source key, e.g.
        `{prompt: question, response: answer}`; canonical names are messages, conversations, instruction, input,
        output, prompt, response, problem, solution, answer, tests, constraints, choices, reasoning, system, id.
    Provenance:
        name (kept on every record), license (kept on every record unless a row has its own `license`).
    """

    name: str = field(default="", metadata={"help": "Source name kept on every record (`source.name`)."})
    path: str | None = field(default=None, metadata={"help": "Local JSONL/Parquet file, folder or glob."})
    repo: str | None = field(default=None, metadata={"help": "Hub dataset repo id."})
    config: str | None = field(default=None, metadata={"help": "Hub dataset config name."})
    split: str = field(default="train", metadata={"help": "Hub dataset split."})
    revision: str | None = field(default=None, metadata={"help": "Hub dataset revision (branch, tag or sha)."})
    format: str = field(default="auto", metadata={"help": "Record layout.", "choices": FORMATS})
    fields: dict[str, str] = field(default_factory=dict, metadata={"help": "Canonical field -> source key."})
    license: str | None = field(default=None, metadata={"help": "License kept on every record."})
    limit: int = field(default=-1, metadata={"help": "Read at most this many rows (-1: all)."})

    def __post_init__(self):
        if not self.name:
            raise ConfigError(
                f"sources: a source has no 'name' (path={self.path!r}, repo={self.repo!r})",
                hint="give each source a short unique name, e.g. name: gsm8k",
            )
        if bool(self.path) == bool(self.repo):
            raise ConfigError(
                f"sources.{self.name}: give exactly one of 'path' (local files) or 'repo' (Hub dataset)",
                hint="e.g. path: sources/math.jsonl  or  repo: openai/gsm8k",
            )
        if self.format not in FORMATS:
            raise ConfigError(f"sources.{self.name}: format {self.format!r} is not one of {list(FORMATS)}")

    @property
    def kind(self) -> str:
        if self.repo:
            return "hub"
        return "parquet" if str(self.path).endswith(".parquet") else "jsonl"


@dataclass
class IngestConfig:
    """Reading sources: rows larger than `max_record_bytes` are rejected before parsing (`record_too_large`)."""

    max_record_bytes: int = field(default=1_000_000, metadata={"help": "Largest accepted row, in bytes."})


@dataclass
class NormalizeConfig:
    """Unicode/whitespace normalization, role-order validation and the reasoning split into `<think>`."""

    unicode_form: Literal["NFC", "NFKC", "none"] = field(default="NFC", metadata={"help": "Unicode normal form."})
    split_reasoning: bool = field(default=True, metadata={"help": "Move reasoning into a leading <think> block."})
    max_turns: int = field(default=32, metadata={"help": "Most messages per conversation."})


@dataclass
class ModelConfig:
    """A model reached through the generation backends; `model: tiny` is the embedded tiny Qwen3."""

    model: str = field(default="tiny", metadata={"help": "Checkpoint folder or Hub id; 'tiny' = the tiny Qwen3."})
    revision: str | None = field(default=None, metadata={"help": "Hub revision."})
    backend: str = field(default="transformers", metadata={"help": "transformers, openai or vllm."})
    base_url: str | None = field(default=None, metadata={"help": "Server URL for the openai backend."})
    batch_size: int = field(default=32, metadata={"help": "Sequences per generate call (transformers)."})
    n: int = field(default=2, metadata={"help": "Samples per prompt."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature (0 = greedy)."})
    top_p: float | None = field(default=0.95, metadata={"help": "Nucleus sampling mass."})
    max_tokens: int = field(default=64, metadata={"help": "Longest sample, in tokens."})
    seed: int = field(default=0, metadata={"help": "Sampling seed (sample j uses seed + j)."})
    enable_thinking: bool | None = field(default=None, metadata={"help": "Qwen3 thinking switch."})


@dataclass
class ClassifyConfig:
    """Task classification: rules (always), then optionally a model classifier for low-confidence records."""

    labels: list[str] = field(default_factory=lambda: list(TASKS), metadata={"help": "Label set."})
    default_label: str = field(default="general", metadata={"help": "Label when no rule fires."})
    model: ModelConfig | None = field(default=None, metadata={"help": "Optional model classifier."})
    model_below_confidence: float = field(default=0.6, metadata={"help": "Ask the model below this confidence."})

    def __post_init__(self):
        if self.default_label not in self.labels:
            raise ConfigError(f"classify.default_label {self.default_label!r} is not in labels {self.labels}")


@dataclass
class DistillConfig:
    """Response distillation: N teacher samples for the selected records (selection is deterministic by id)."""

    enabled: bool = field(default=True, metadata={"help": "Generate teacher responses."})
    teacher: ModelConfig = field(default_factory=ModelConfig)
    tasks: list[str] = field(default_factory=lambda: list(TASKS), metadata={"help": "Tasks to distill."})
    fraction: float = field(default=1.0, metadata={"help": "Share of the selected tasks' records to distill."})


@dataclass
class VerifyConfig:
    """Multi-dimensional cross-verification of every candidate response (source and distilled).

    Format: length window, think tags, truncation. Quality: repetition, language mismatch, refusal, degenerate text.
    Correctness: math / code / instruction-following / multiple-choice verifiers. Agreement: majority answer among
    the teacher samples. Judge: optional LLM-as-judge score (>= `judge_min_score`).
    """

    min_chars: int = field(default=1, metadata={"help": "Shortest accepted response (answer part)."})
    max_chars: int = field(default=20_000, metadata={"help": "Longest accepted response."})
    max_duplicate_line_fraction: float = field(default=0.3, metadata={"help": "Gopher repetition: lines."})
    max_top_ngram_fraction: float = field(default=0.2, metadata={"help": "Gopher repetition: top 2-gram share."})
    min_unique_char_ratio: float = field(default=0.02, metadata={"help": "Degenerate text threshold."})
    check_language: bool = field(default=True, metadata={"help": "Response language must match the prompt's."})
    refusal_patterns: list[str] = field(
        default_factory=lambda: [r"\bI (?:can(?:no|')t|am unable to|won't) (?:help|assist|do that)", r"\bAs an AI\b"],
        metadata={"help": "Regexes that mark a refusal."},
    )
    agreement_min_fraction: float = field(default=0.5, metadata={"help": "Majority share needed (N >= 2 samples)."})
    code_timeout_s: float = field(default=5.0, metadata={"help": "Wall-clock limit of one code test run."})
    judge: ModelConfig | None = field(default=None, metadata={"help": "Optional LLM-as-judge."})
    judge_min_score: float = field(default=6.0, metadata={"help": "Lowest accepted judge score (1-10)."})
    prefer: Literal["teacher", "source"] = field(default="teacher", metadata={"help": "Tie-break between passes."})


@dataclass
class GradeConfig:
    """Difficulty: pass rate of `grader.n` rollouts for verifiable tasks; a length proxy for the rest."""

    enabled: bool = field(default=True, metadata={"help": "Grade difficulty."})
    grader: ModelConfig = field(default_factory=lambda: ModelConfig(n=4, temperature=1.0, max_tokens=32))
    easy_min: float = field(default=0.75, metadata={"help": "Pass rates at or above this are 'easy'."})
    hard_max: float = field(default=0.25, metadata={"help": "Pass rates at or below this are 'hard'."})
    proxy_easy_max_chars: int = field(default=300, metadata={"help": "Non-verifiable: shorter responses are easy."})
    proxy_hard_min_chars: int = field(default=1500, metadata={"help": "Non-verifiable: longer responses are hard."})

    def __post_init__(self):
        if not 0.0 <= self.hard_max < self.easy_min <= 1.0:
            raise ConfigError(f"grade: need 0 <= hard_max < easy_min <= 1, got {self.hard_max}, {self.easy_min}")


@dataclass
class DedupConfig:
    """Exact (datatrove ExactDedup) and near-duplicate (datatrove MinHash) removal on the prompt text."""

    exact: bool = field(default=True, metadata={"help": "Remove exact duplicate prompts."})
    near: bool = field(default=True, metadata={"help": "Remove near-duplicate prompts (MinHash)."})
    n_grams: int = field(default=5, metadata={"help": "MinHash shingle length in words."})
    num_buckets: int = field(default=14, metadata={"help": "MinHash LSH buckets."})
    hashes_per_bucket: int = field(default=8, metadata={"help": "MinHash hashes per bucket."})
    seed: int = field(default=1, metadata={"help": "MinHash seed."})


@dataclass
class BenchmarkConfig:
    """A benchmark to decontaminate against: a local JSONL/Parquet file or a Hub dataset, and its prompt field."""

    name: str = ""
    path: str | None = None
    repo: str | None = None
    config: str | None = None
    split: str = "test"
    revision: str | None = None
    field: str = "question"

    def __post_init__(self):
        if not self.name or bool(self.path) == bool(self.repo):
            raise ConfigError(
                f"decontamination.benchmarks: {self.name or '(unnamed)'} needs a name and one of path/repo"
            )


@dataclass
class DecontConfig:
    """n-gram decontamination of prompts against benchmark prompts, with a per-benchmark report."""

    enabled: bool = field(default=True, metadata={"help": "Decontaminate."})
    n_grams: int = field(default=8, metadata={"help": "n-gram length (words) of the overlap test."})
    benchmarks: list[BenchmarkConfig] = field(default_factory=list, metadata={"help": "Benchmarks."})


@dataclass
class SampleConfig:
    """Diversity-aware sampling to a target size and mix, deterministic by seed.

    `mixture` gives per-task weights (missing tasks: weight 0 when a mixture is given); within a task the quota is
    spread round-robin over MinHash clusters, so near-identical prompts do not crowd out rare ones.
    `test_fraction` of the kept records (by id hash) go to the `test` split.
    """

    target_size: int = field(default=0, metadata={"help": "Records to keep (0: all)."})
    mixture: dict[str, float] = field(default_factory=dict, metadata={"help": "Task -> weight."})
    balance: list[str] = field(default_factory=lambda: ["difficulty", "source"], metadata={"help": "Spread over."})
    test_fraction: float = field(default=0.0, metadata={"help": "Share of kept records in the test split."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})


@dataclass
class ExecutorConfig:
    """Where the datatrove stages run: local processes, a Slurm job array, or a Ray cluster."""

    kind: Literal["local", "slurm", "ray"] = field(default="local", metadata={"help": "Executor."})
    tasks: int = field(default=2, metadata={"help": "Shards of the per-record stages."})
    workers: int = field(default=1, metadata={"help": "Tasks run at once (local/ray)."})
    partition: str | None = field(default=None, metadata={"help": "Slurm partition."})
    time: str = field(default="04:00:00", metadata={"help": "Slurm time limit per task."})
    cpus_per_task: int = field(default=1, metadata={"help": "CPUs per task (slurm/ray)."})
    mem_per_cpu_gb: int = field(default=2, metadata={"help": "Memory per CPU in GB (slurm/ray)."})
    slurm: dict[str, Any] = field(default_factory=dict, metadata={"help": "Extra SlurmPipelineExecutor kwargs."})
    ray: dict[str, Any] = field(default_factory=dict, metadata={"help": "Extra RayPipelineExecutor kwargs."})

    def __post_init__(self):
        if self.tasks < 1 or self.workers < 1:
            raise ConfigError(f"executor: tasks and workers must be >= 1, got {self.tasks}, {self.workers}")


@dataclass
class SFTPipelineConfig:
    """The SFT corpus pipeline, stage by stage.

    Input: `sources`, `ingest`. Stages: `normalize`, `decontamination`, `classify`, `dedup`, `distill`, `verify`,
    `grade`, `sample`. Run: `executor`, `output`.
    """

    name: str = field(default="sft_corpus", metadata={"help": "Corpus name (dataset card title)."})
    sources: list[SourceConfig] = field(default_factory=list, metadata={"help": "Input sources."})
    ingest: IngestConfig = field(default_factory=IngestConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    decontamination: DecontConfig = field(default_factory=DecontConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    grade: GradeConfig = field(default_factory=GradeConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    output: str = field(default="outputs/sft_corpus", metadata={"help": "Output folder."})

    def __post_init__(self):
        if not self.sources:
            raise ConfigError("sft pipeline config: 'sources' is empty", hint="list at least one source (name, path)")
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(
                f"sft pipeline config: source name {dupes[0]!r} is used twice", hint="give sources unique names"
            )

    def resolve_paths(self, base: Path) -> None:
        """Make relative source and benchmark paths absolute against `base` (the config file's folder)."""
        for item in [*self.sources, *self.decontamination.benchmarks]:
            if item.path and "://" not in item.path and not Path(item.path).expanduser().is_absolute():
                item.path = str((base / Path(item.path).expanduser()).resolve())
