"""The one place curation reaches the shared verifiers (`nebula_hub.verify.registry`), so steps never re-implement them.

Each function returns a `nebula_hub.verify.VerificationResult`.
"""

from nebula_hub.verify.result import VerificationResult


def verify_math(response: str, gold: str) -> VerificationResult:
    """Is the final answer of `response` (reasoning in `<think>` ignored) equal to `gold`? (math-verify)"""
    from nebula_hub.verify.registry import get_verifier

    return get_verifier("math")(response, gold)


def extract_math_answer(response: str) -> str | None:
    """The final answer of a math response as math-verify extracts it (for majority voting), or None."""
    from nebula_hub.verify.math import parse_math, strip_thinking

    answer = strip_thinking(response)
    if not answer:
        return None
    parsed = parse_math(answer)
    return str(parsed[-1]) if parsed else None


def schema_tests(tests):
    """`nebula_hub.schema.CodeTests` layout ({kind, assert_code, entry_point, cases}) -> a shape the code verifier
    reads (assert code, stdin/stdout cases, or function-call cases); any other shape is passed through."""
    if not isinstance(tests, dict) or "kind" not in tests:
        return tests
    import json

    if tests["kind"] == "assert" and tests.get("assert_code"):
        return tests["assert_code"]
    cases = tests.get("cases") or []
    if tests["kind"] == "stdio":
        return [{"stdin": c["input"], "stdout": c["output"]} for c in cases]
    if tests["kind"] == "call":
        return {
            "fn_name": tests.get("entry_point"),
            "cases": [{"args": json.loads(c["input"]), "expected": json.loads(c["output"])} for c in cases],
        }
    return tests


def verify_code(response: str, tests, timeout_s: float) -> VerificationResult:
    """Run the code of `response` (its last fenced block, else the whole text) against `tests` in the sandbox."""
    from nebula_hub.verify.code import extract_code
    from nebula_hub.verify.code import verify_code as run_tests
    from nebula_hub.verify.registry import get_verifier

    code = extract_code(response)
    try:
        # compiling runs nothing: text that is not Python (most tiny-model samples) fails without a sandbox round trip
        compile(code if code is not None else response, "<candidate>", "exec")
    except (SyntaxError, ValueError) as err:
        return VerificationResult("code", "fail", 0.0, f"not valid Python: {err.__class__.__name__}: {err}")
    if code is None:  # no fenced block: the registry's rules (whole response as the program, or unparsable)
        return get_verifier("code")(response, schema_tests(tests))
    return run_tests(code, schema_tests(tests), timeout=timeout_s)
