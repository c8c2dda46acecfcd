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
        return get_verifier("code")(response, tests)
    return run_tests(code, tests, timeout=timeout_s)


def verify_code_many(items: list[tuple[str, object]], timeout_s: float) -> list[VerificationResult]:
    """`verify_code(response, tests, timeout_s)` for many pairs, the sandboxed runs spread over the pool's workers.

    Each result equals what `verify_code` gives for its pair; the programs of fenced responses run in one
    `verify_code_batch` call (all sandbox workers busy at once) instead of one round trip after another.

    Example:
        >>> [r.verdict for r in verify_code_many([("```python\\nx = 1\\n```", "assert x == 1"), ("no", "assert 0")], 5)]
        ['pass', 'fail']
    """
    from nebula_hub.verify.code import extract_code, verify_code_batch

    results: list[VerificationResult | None] = [None] * len(items)
    batch, owners = [], []
    for k, (response, tests) in enumerate(items):
        code = extract_code(response)
        if code is None:
            results[k] = verify_code(response, tests, timeout_s)  # compile check or the registry's rules
            continue
        try:
            compile(code, "<candidate>", "exec")
        except (SyntaxError, ValueError):
            results[k] = verify_code(response, tests, timeout_s)  # the same "not valid Python" verdict
            continue
        batch.append((code, tests))
        owners.append(k)
    if batch:
        for k, result in zip(owners, verify_code_batch(batch, timeout=timeout_s, progress=False), strict=True):
            results[k] = result
    return results
