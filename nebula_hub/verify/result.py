"""The one result type every verifier returns, adapted to a bool for filters, a float for rewards, a row for evals."""

from dataclasses import dataclass, field
from typing import Any


# Verdicts a verifier may give. "pass"/"fail" are judgements about the response; the others say why no judgement of
# the response itself could be made (it ran too long, it crashed, the sandbox failed, the gold could not be parsed).
VERDICTS = ("pass", "fail", "timeout", "crash", "error", "unparsable")


@dataclass
class VerificationResult:
    """What a verifier concluded about one response.

    Fields:
        verifier: name of the checker (`math`, `code`, `ifeval`, ...).
        verdict: one of `VERDICTS`.
        score: in [0, 1]; 1.0 for a full pass, a fraction for partial credit (share of tests or constraints passed).
        detail: a short human-readable reason (the extracted answer, the failing test, the broken constraint).
        extra: structured details (per-test outcomes, per-instruction verdicts, timings).

    Example:
        >>> r = VerificationResult("math", "pass", 1.0, "extracted 5, gold 5")
        >>> bool(r), r.as_record()["verdict"]
        (True, 'pass')
    """

    verifier: str
    verdict: str
    score: float = 0.0
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def __bool__(self) -> bool:
        return self.passed

    def as_record(self) -> dict[str, Any]:
        """The `{verifier, verdict, score, detail}` entry stored in a record's `verification` list."""
        return {"verifier": self.verifier, "verdict": self.verdict, "score": float(self.score), "detail": self.detail}
