"""Name -> verifier: the one table curation filters, rewards and evaluation look verifiers up in.

Every verifier here has the same shape, `verifier(response: str, label) -> VerificationResult`, where `label` is the
gold answer (`math`), the tests (`code`) or the constraints (`ifeval`).

Example:
    >>> from nebula_hub.verify.registry import get_verifier
    >>> get_verifier("math")("The answer is $\\\\boxed{3}$", "3").verdict
    'pass'
"""

from collections.abc import Callable
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.verify.result import VerificationResult


def math_verifier(response: str, answer: str) -> VerificationResult:
    """Grade a response's final answer against the gold `answer` (see `nebula_hub.verify.math.verify_math`)."""
    from nebula_hub.verify.math import verify_math

    return verify_math(response, answer)


def code_verifier(response: str, tests: Any) -> VerificationResult:
    """Run the last fenced code block of `response` (or the response itself if it has no fence) against `tests`."""
    from nebula_hub.verify.code import extract_code, verify_code

    code = extract_code(response)
    if code is None:
        if "```" in response or "<think>" in response:
            return VerificationResult("code", "unparsable", 0.0, "no complete code block in the response",
                                      {"side": "answer"})
        code = response
    return verify_code(code, tests)


def ifeval_verifier(response: str, constraints: Any) -> VerificationResult:
    """Check instruction-following `constraints` (see `nebula_hub.verify.ifeval.check_constraints`)."""
    from nebula_hub.verify.ifeval import check_constraints  # built alongside; imported lazily

    return check_constraints(response, constraints)


VERIFIERS: dict[str, Callable[[str, Any], VerificationResult]] = {
    "math": math_verifier,
    "code": code_verifier,
    "ifeval": ifeval_verifier,
}
ALIASES = {"if": "ifeval", "instruction_following": "ifeval"}


def get_verifier(name: str) -> Callable[[str, Any], VerificationResult]:
    """The verifier registered under `name` (`math`, `code`, `ifeval`; `if` is an alias of `ifeval`).

    Example:
        >>> get_verifier("if") is get_verifier("ifeval")
        True
    """
    key = ALIASES.get(name, name)
    if key not in VERIFIERS:
        raise NebulaError(f"unknown verifier {name!r}", hint=f"valid names: {', '.join(sorted([*VERIFIERS, *ALIASES]))}")
    return VERIFIERS[key]
