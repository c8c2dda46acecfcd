"""Math verifier: extract a response's final answer and check it against the gold answer with math-verify.

Extraction and equivalence are math-verify's (`parse`, then `verify(gold, answer)`, gold first); this module adds
what it lacks for our users: reasoning inside `<think>...</think>` is ignored, a truncated response (an unclosed
`<think>`) has no answer, a gold answer that cannot be parsed is reported as `unparsable` instead of silently scoring
0, and a per-call timeout that works off the main thread. math-verify's own timeouts use `signal.alarm`, which raises
outside the main thread; here the main thread uses a float `setitimer` deadline raising a `BaseException` (so
math-verify's `except Exception` cannot swallow it), and other threads send the call to a process pool whose
workers do the same in their main thread and are killed if they still hang.

Example:
    >>> from nebula_hub.verify.math import verify_math
    >>> verify_math("<think>maybe 3?</think> So the final answer is $\\\\boxed{\\\\frac{1}{2}}$.", "0.5").verdict
    'pass'
"""

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.verify.result import VerificationResult


DEFAULT_TIMEOUT = 5.0  # seconds per parse or verify step
MATCH_TYPES = ("latex", "expr")
_THINK = re.compile(r"<think>.*?</think>", re.S)
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


class _DropTimeoutNotice(logging.Filter):
    # math-verify warns once that its timeouts are off; we pass None on purpose because `_deadline` replaces them.
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutNotice())


class MathTimeout(BaseException):
    """Raised by the deadline; a BaseException so math-verify's `except Exception` handlers let it through."""


@contextlib.contextmanager
def _deadline(seconds: float | None):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise MathTimeout(f"math-verify took longer than {seconds}s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def strip_thinking(response: str) -> str | None:
    """The response without its `<think>` blocks; `None` when a `<think>` is never closed (truncated reasoning).

    Example:
        >>> strip_thinking("<think>x = 2?</think>x = 3"), strip_thinking("<think>still thinking")
        ('x = 3', None)
    """
    text = _THINK.sub("", response)
    if "<think>" in text:
        return None
    return text.replace("</think>", "")


def _configs(match_types: Sequence[str]):
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    configs = []
    for m in match_types:
        if m == "latex":
            configs.append(LatexExtractionConfig(boxed_match_priority=0))  # a \boxed{} answer wins over other spans
        elif m == "expr":
            configs.append(ExprExtractionConfig())
        else:
            raise NebulaError(f"math verifier: unknown match type {m!r}", hint=f"use a subset of {MATCH_TYPES}")
    return configs


def parse_math(text: str, match_types: Sequence[str] | None = MATCH_TYPES, *, timeout: float | None = None) -> list:
    """math-verify's `parse` with our extraction settings (boxed first); `match_types=None` uses its defaults.

    Returns math-verify's list (`[sympy_value, matched_string]`, empty when nothing was found). Raises `MathTimeout`
    when `timeout` seconds pass (main thread only; use `verify_math`, which handles threads, otherwise).

    Example:
        >>> parse_math("The answer is $\\\\frac{3}{6}$")[1]
        '\\\\frac{3}{6}'
    """
    from math_verify import parse

    kwargs: dict[str, Any] = {"parsing_timeout": None}
    if match_types is not None:
        kwargs["extraction_config"] = _configs(match_types)
    with _deadline(timeout):
        return parse(text, **kwargs)


def math_equal(gold: list, answer: list, *, float_rounding: int = 6, strict: bool = True,
               allow_set_relation_comp: bool = False, timeout: float | None = None) -> bool:
    """math-verify's `verify(gold, answer)` on parsed values (gold first: the order matters).

    Example:
        >>> math_equal(parse_math("$\\\\frac{1}{2}$"), parse_math("0.5"))
        True
    """
    from math_verify import verify

    with _deadline(timeout):
        return verify(gold, answer, float_rounding=float_rounding, strict=strict,
                      allow_set_relation_comp=allow_set_relation_comp, timeout_seconds=None)


def _gold_text(gold: str) -> str:
    # A bare gold like "\frac{1}{2}" or "p - q" is read as a boxed answer (MATH's convention); this is what makes all
    # 500 MATH-500 golds verify against their solutions.
    gold = str(gold).strip()
    delimited = _UNESCAPED_DOLLAR.search(gold) or any(m in gold for m in ("\\boxed", "\\(", "\\["))
    return gold if delimited else f"\\boxed{{{gold}}}"


def parse_gold(gold: str, *, timeout: float | None = DEFAULT_TIMEOUT) -> list:
    """Parse a gold answer; raise `NebulaError` if math-verify finds nothing in it (such a gold can grade nothing).

    Example:
        >>> parse_gold("\\\\frac{1}{2}")[1]
        '\\\\frac{1}{2}'
    """
    if gold is None or not str(gold).strip():
        raise NebulaError(f"math gold answer is empty: {gold!r}", hint="give the final answer, e.g. '42' or '\\\\frac{1}{2}'")
    try:
        parsed = parse_math(_gold_text(gold), timeout=timeout)
    except MathTimeout as e:
        raise NebulaError(f"math gold answer {str(gold)[:200]!r} took longer than {timeout}s to parse",
                          hint="simplify the gold answer or drop the record") from e
    if not parsed or isinstance(parsed[0], str):  # nothing found, or only a string math-verify could not interpret
        raise NebulaError(f"math gold answer {str(gold)[:200]!r} cannot be parsed by math-verify",
                          hint="write it as LaTeX or a plain expression (e.g. '\\\\frac{1}{2}', '[0, 1)', '3\\\\sqrt{2}')")
    return parsed


def normalize_gold(gold: str, *, timeout: float | None = DEFAULT_TIMEOUT) -> str:
    """Check a gold answer and return it in the form math-verify extracted (raises `NebulaError` if unparsable).

    Used by the RL pool to reject records whose gold can never be verified.

    Example:
        >>> normalize_gold(" $\\\\dfrac{1}{2}$ ")
        '\\\\frac{1}{2}'
    """
    return str(parse_gold(gold, timeout=timeout)[-1])


def verify_math(response: str, gold: str, *, timeout: float = DEFAULT_TIMEOUT, float_rounding: int = 6,
                strict: bool = True) -> VerificationResult:
    """Grade one response against one gold answer.

    Verdicts: `pass`/`fail`; `unparsable` when the gold cannot be parsed (`extra["side"] == "gold"`) or the response
    has no answer (truncated inside `<think>`, or nothing extractable: `extra["side"] == "answer"`); `timeout`.
    Works from any thread: off the main thread the check runs in a worker process with a hard time limit.

    Args:
        response (`str`): the model's response.
        gold (`str`): the gold answer (`"42"`, `"\\\\frac{1}{2}"`, `"$[0, 1)$"`...).
        timeout (`float`, *optional*): seconds for each of parsing the gold, parsing the answer and comparing,
            defaults to 5.

    Example:
        >>> r = verify_math("I think it's 3.", "4")
        >>> r.verdict, r.extra["answer"]
        ('fail', '3')
    """
    if threading.current_thread() is not threading.main_thread():
        return default_math_pool().verify([(response, gold)], timeout=timeout, float_rounding=float_rounding,
                                          strict=strict, progress=False)[0]
    return _verify_inline(response, gold, timeout, float_rounding, strict)


def _verify_inline(response: str, gold: str, timeout: float, float_rounding: int, strict: bool) -> VerificationResult:
    start = time.perf_counter()
    try:
        gold_parsed = parse_gold(gold, timeout=timeout)
    except NebulaError as e:
        return VerificationResult("math", "unparsable", 0.0, str(e), {"side": "gold", "gold": str(gold)[:200]})
    text = strip_thinking(response if isinstance(response, str) else str(response))
    if text is None:
        return VerificationResult("math", "unparsable", 0.0, "the response ends inside <think>: no final answer",
                                  {"side": "answer", "gold": str(gold_parsed[-1])})
    try:
        answer = parse_math(text, timeout=timeout)
    except MathTimeout:
        return VerificationResult("math", "timeout", 0.0, f"parsing the response took longer than {timeout}s")
    if not answer:
        return VerificationResult("math", "unparsable", 0.0, "no final answer found in the response",
                                  {"side": "answer", "gold": str(gold_parsed[-1])})
    try:
        ok = math_equal(gold_parsed, answer, float_rounding=float_rounding, strict=strict, timeout=timeout)
    except MathTimeout:
        return VerificationResult("math", "timeout", 0.0, f"comparing with the gold took longer than {timeout}s",
                                  {"answer": str(answer[-1]), "gold": str(gold_parsed[-1])})
    extra = {"answer": str(answer[-1]), "gold": str(gold_parsed[-1]), "seconds": time.perf_counter() - start}
    detail = f"extracted {extra['answer']!r}, gold {extra['gold']!r}"
    return VerificationResult("math", "pass" if ok else "fail", 1.0 if ok else 0.0, detail, extra)


# ---------------------------------------------------------------------------------------------------- process pool
def _worker_main(read_fd: int, write_fd: int) -> None:
    """Entry point of a math worker process (started by `MathPool`); serves tasks until its input closes."""
    # Runs in the worker's main thread, so the signal-based deadline works; the host kills us if even that hangs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import math_verify  # noqa: F401 - import once, before the first task

    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    while True:
        try:
            task = inbox.recv()
        except EOFError:
            return
        response, gold, timeout, float_rounding, strict = task
        try:
            result = _verify_inline(response, gold, timeout, float_rounding, strict)
        except Exception as e:  # noqa: BLE001 - a verifier bug must not kill the worker; report it as an error
            result = VerificationResult("math", "error", 0.0, f"math verifier failed: {type(e).__name__}: {e}"[:500])
        outbox.send(result)


class _Worker:
    """One math worker: a plain interpreter started with `-c` (not multiprocessing, which re-imports `__main__`)."""

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        code = f"from nebula_hub.verify.math import _worker_main; _worker_main({to_child_r}, {from_child_w})"
        self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w),
                                     stdin=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(from_child_r, writable=False)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.outbox.close()
        self.inbox.close()


class MathPool:
    """Worker processes for math checks, each task with a hard time limit (a stuck worker is killed and replaced).

    `concurrent.futures.ProcessPoolExecutor` cannot kill one stuck task, hence this small pool.

    Args:
        workers (`int`, *optional*): number of processes, defaults to the number of CPUs.

    Example:
        >>> with MathPool(workers=1) as pool:
        ...     [r.verdict for r in pool.verify([("$\\\\boxed{2}$", "2"), ("7", "2")], progress=False)]
        ['pass', 'fail']
    """

    def __init__(self, workers: int | None = None):
        self.size = max(1, workers or os.cpu_count() or 1)
        self._workers: list[_Worker | None] = [None] * self.size
        self._lock = threading.Lock()

    def _kill(self, i: int) -> None:
        w, self._workers[i] = self._workers[i], None
        if w is not None:
            w.kill()

    def verify(self, pairs: Sequence[tuple[str, str]], *, timeout: float = DEFAULT_TIMEOUT, float_rounding: int = 6,
               strict: bool = True, progress: bool = True) -> list[VerificationResult]:
        """Grade `(response, gold)` pairs on all workers; one result per pair, in order."""
        import queue

        results: list[VerificationResult | None] = [None] * len(pairs)
        todo: queue.Queue[int] = queue.Queue()
        for k in range(len(pairs)):
            todo.put(k)
        hard_limit = 3 * timeout + 10.0  # three deadlines (gold, answer, compare) plus start-up slack
        bar = None
        if progress and len(pairs) > 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(pairs), desc="math checks", unit="check")

        def drive(i: int) -> None:
            while True:
                try:
                    k = todo.get_nowait()
                except queue.Empty:
                    return
                response, gold = pairs[k]
                try:
                    w = self._workers[i] = self._workers[i] or _Worker()
                    w.outbox.send((response, gold, timeout, float_rounding, strict))
                    if w.inbox.poll(hard_limit):
                        results[k] = w.inbox.recv()
                    else:
                        self._kill(i)
                        results[k] = VerificationResult("math", "timeout", 0.0,
                                                        f"the check was killed after {hard_limit:.0f}s")
                except (EOFError, OSError, BrokenPipeError) as e:
                    self._kill(i)
                    results[k] = VerificationResult("math", "error", 0.0, f"math worker died: {e!r}")
                if bar is not None:
                    bar.update(1)

        with self._lock:  # one batch at a time; a batch already uses every worker
            n = min(self.size, len(pairs))
            if n <= 1:
                drive(0)
            else:
                threads = [threading.Thread(target=drive, args=(i,), daemon=True) for i in range(n)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        if bar is not None:
            bar.close()
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for i, w in enumerate(self._workers):
            if w is not None:
                w.outbox.close()  # the worker sees EOF and exits
                try:
                    w.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                self._kill(i)

    def __enter__(self) -> "MathPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_pool: MathPool | None = None


def default_math_pool() -> MathPool:
    """The process-wide math pool (created on first use, closed at exit)."""
    global _pool
    if _pool is None:
        import atexit

        _pool = MathPool()
        atexit.register(_pool.close)
    return _pool


def verify_math_batch(responses: Sequence[str], golds: Sequence[str], *, workers: int | None = None,
                      timeout: float = DEFAULT_TIMEOUT, progress: bool = True) -> list[VerificationResult]:
    """Grade many responses over a process pool; one result per response, in order.

    Example:
        >>> [r.verdict for r in verify_math_batch(["$\\\\boxed{4}$", "five"], ["4", "5"], progress=False)]
        ['pass', 'unparsable']
    """
    if len(responses) != len(golds):
        raise NebulaError(f"math verifier: {len(responses)} responses but {len(golds)} gold answers",
                          hint="pass one gold answer per response")
    pairs = list(zip(responses, golds, strict=True))
    if workers is None:
        return default_math_pool().verify(pairs, timeout=timeout, progress=progress)
    with MathPool(workers) as pool:
        return pool.verify(pairs, timeout=timeout, progress=progress)
