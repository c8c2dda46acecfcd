"""Difficulty by rollouts for the RL pool: the SFT pipeline's grader, plus the zero-variance flag GRPO needs.

Grading reuses `nebula_hub.curate.grade.DifficultyGrader`: k rollouts per prompt from the grader policy through the
generation backends (cached per task, so a resumed run regenerates nothing it saved), each checked by the shared
verifiers (math gold, code tests in the sandbox, IFEval constraints; a truncated rollout fails); pass rate stored;
buckets `hard` if rate <= `hard_max`, `easy` if rate >= `easy_min`, `medium` otherwise.

`ZeroVarianceFilter` then marks prompts whose rollouts all passed or all failed: their GRPO advantages are all zero,
so they teach nothing. They keep `meta.zero_variance = true` (equivalently `pass_rate` is 0.0 or 1.0, the plain
column a trainer filters on: `ds.filter(lambda r: 0 < r["pass_rate"] < 1)`), or are rejected (`zero_variance`) when
`drop_zero_variance` is set.

    steps = grading_steps(cfg, work_dir)     # [DifficultyGrader, ZeroVarianceFilter]
"""

from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from nebula_hub.curate.document import reject


class ZeroVarianceFilter(BaseFilter):
    """Copy the grade into RL fields (`meta.rollouts`, `meta.passes`), flag zero variance, optionally reject it.

    Example:
        >>> doc = Document(text="q", id="1", metadata={"meta": {},
        ...                "difficulty": {"level": "hard", "pass_rate": 0.0, "num_samples": 4}})
        >>> ZeroVarianceFilter().filter(doc), doc.metadata["meta"]["zero_variance"]
        (True, True)
    """

    name = "RL zero variance"

    def __init__(self, drop: bool = False, exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer)
        self.drop = drop

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        md = doc.metadata
        grade = md["difficulty"]
        n, rate = grade["num_samples"], grade["pass_rate"]
        # the grader stores rounded rates; passes is an integer count of the n rollouts
        passes = round(rate * n)
        zero = passes in (0, n)
        md["meta"].update(rollouts=n, passes=passes, zero_variance=zero)
        self.stat_update(f"difficulty_{grade['level']}")
        if zero:
            self.stat_update("zero_variance", "all_pass" if passes else "all_fail")
            if self.drop:
                return reject(doc, "zero_variance", f"all {n} rollouts {'passed' if passes else 'failed'} "
                                                    f"(pass rate {rate}); GRPO gets no signal from it")
        return True


def grading_steps(cfg, work_dir: str | Path) -> list:
    """The SFT grader configured from the pool config, then `ZeroVarianceFilter` (rejects to stage `difficulty`)."""
    from nebula_hub.curate.grade import DifficultyGrader
    from nebula_hub.curate.rejected import RejectedWriter
    from nebula_hub.curate.sft_config import GradeConfig, VerifyConfig

    d = cfg.difficulty
    grade = GradeConfig(enabled=True, grader=cfg.grader, easy_min=d.easy_min, hard_max=d.hard_max)
    verify = VerifyConfig(code_timeout_s=cfg.candidates.code_timeout_s)
    return [
        DifficultyGrader(grade, verify, cache_dir=str(Path(work_dir) / "rollouts"), batch_size=d.batch_size),
        ZeroVarianceFilter(d.drop_zero_variance, exclusion_writer=RejectedWriter(work_dir, "difficulty")),
    ]
