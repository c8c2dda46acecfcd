"""Quickstart sizes: `--set`-style overrides of the bundled pipeline configs, the tiny recipe and the eval settings.

A size is not another code path: it only changes values the pipelines, the recipe and the eval runner already read.

| size | what it is for |
|---|---|
| `tiny` | tests and CI: a few dozen records per source, a step or two per training stage, 2 items per benchmark |
| `small` (default) | the README's first command: every bundled source, the recipe's steps, the whole offline benchmark sets |
| `medium` | a longer, more meaningful run: more distillation and grading rollouts, 4x the training steps |

Example:
    >>> SIZES["tiny"].sft[:1]
    ('sources.0.limit=60',)
    >>> sorted(SIZES)
    ['medium', 'small', 'tiny']
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """One quickstart size.

    Curation:
        sft, rl: overrides of `pipelines/sft_corpus.yaml` and `pipelines/rl_pool.yaml` (`nebula-hub curate --set`).
    Training:
        train_steps: every `max_steps` of the recipe is multiplied by this (at least 1 step), then capped at
        `train_max_steps` when set; train: further recipe overrides (`nebula-hub train-and-push --set`).
    Evaluation:
        eval_limit: items per benchmark (None: the whole bundled set); eval_max_tokens: new tokens per answer (None:
        each benchmark's default); eval_suite: the suite run on every checkpoint.
    """

    name: str
    description: str
    sft: tuple[str, ...] = ()
    rl: tuple[str, ...] = ()
    train_steps: float = 1.0
    train_max_steps: int | None = None
    train: tuple[str, ...] = ()
    eval_limit: int | None = None
    eval_max_tokens: int | None = None
    eval_suite: str = "instruct"


_ONE_WORKER = ("executor.tasks=1", "executor.workers=1")

SIZES: dict[str, Size] = {
    "tiny": Size(
        name="tiny",
        description="CI size: a few dozen records per source, 1-2 steps per training stage, 2 items per benchmark",
        sft=(
            "sources.0.limit=60",  # math
            "sources.1.limit=40",  # code
            "sources.2.limit=40",  # instruction following
            "sources.3.limit=30",  # knowledge
            "sources.4.limit=30",  # chat
            "distill.fraction=0.05",
            "distill.teacher.n=2",
            "distill.teacher.max_tokens=8",
            "grade.grader.n=2",
            "grade.grader.max_tokens=8",
            "sample.target_size=0",
            "sample.test_fraction=0.0",
            *_ONE_WORKER,
        ),
        rl=(
            "grader.n=2",
            "grader.max_tokens=8",
            "candidates.code_validation_runs=2",
            *_ONE_WORKER,
        ),
        train_steps=0.05,
        train_max_steps=2,
        eval_limit=2,
        eval_max_tokens=16,
    ),
    "small": Size(
        name="small",
        description="default: every bundled source, the tiny recipe's steps, the whole offline benchmark sets "
        "(about 1.5 minutes on an idle 2-core machine)",
        eval_max_tokens=64,
    ),
    "medium": Size(
        name="medium",
        description="a longer run: more teacher and grader rollouts, 4x the training steps",
        sft=("distill.fraction=0.3", "distill.teacher.n=4", "grade.grader.n=4", "sample.target_size=0"),
        rl=("grader.n=8",),
        train_steps=4.0,
        eval_max_tokens=128,
    ),
}
DEFAULT_SIZE = "small"
