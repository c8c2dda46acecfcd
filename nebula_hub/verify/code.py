"""Code verifier: run a Python program against its tests in the sandbox and grade it.

Three kinds of tests are accepted (see `parse_tests`):
- assert-style test code run after the program (HumanEval, MBPP): each top-level `assert` or call statement is one
  test, the rest (imports, `def check(...)`) is set-up; comparisons in the test code are evaluated by the harness and
  refuse objects whose comparison methods the program wrote (an `__eq__` that always says True cannot pass a test);
- stdin/stdout cases (APPS / CodeContests style): one sandboxed run per case, output compared in this process;
- function-call cases with expected values: the program's function is called in the sandbox and only its return
  value (plain data) comes back; the comparison happens here, out of the program's reach.

The verdict is `pass` (every test passed), `fail`, `timeout`, `crash` (killed by a signal, or exited before the
harness finished: `os._exit(0)` before the tests reads as a crash), `error` (the sandbox itself failed) or
`unparsable` (the tests could not be read); `score` is the fraction of tests passed.

Example:
    >>> from nebula_hub.verify.code import verify_code
    >>> r = verify_code("def add(a, b):\\n    return a + b", "assert add(1, 2) == 3\\nassert add(2, 2) == 4")
    >>> r.verdict, r.score
    ('pass', 1.0)
"""

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.verify.result import VerificationResult
from nebula_hub.verify.sandbox import SandboxPool, default_pool


DEFAULT_TIMEOUT = 10.0  # seconds per test, not counting time spent waiting for a CPU (see _sandbox_zygote._Clock)


@dataclass
class CodeTests:
    """Parsed tests for one program: `kind` is `assert`, `stdio` or `call`."""

    kind: str
    code: str = ""  # assert kind: the test code
    cases: list[dict[str, Any]] = field(default_factory=list)  # stdio: {stdin, stdout}; call: {args, kwargs, expected}
    fn_name: str | None = None

    @property
    def n_tests(self) -> int:
        if self.kind != "assert":
            return len(self.cases)
        if self._n_assert is None:
            self._n_assert = len(_split_assert_tests(self.code)[1])
        return self._n_assert

    _n_assert: int | None = field(default=None, repr=False)


def _joined(v: Any, what: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return "\n".join(v) + ("\n" if v else "")
    raise NebulaError(f"code tests: {what} must be a string (or a list of lines), got {v!r:.200}",
                      hint="give stdin/stdout cases as {'stdin': '1 2\\n', 'stdout': '3\\n'}")


def _from_schema(tests: dict) -> "CodeTests":
    """The record schema's layout (`nebula_hub.schema.CodeTests`: kind, assert_code, entry_point, cases of JSON or
    text `input`/`output`), as RL pools store it and GRPO reward functions receive it."""
    kind, cases = tests["kind"], tests.get("cases") or []
    if kind == "assert":
        if not tests.get("assert_code"):
            raise NebulaError("code tests: kind 'assert' without 'assert_code'", hint="give the test code to run")
        return CodeTests("assert", code=tests["assert_code"])
    if kind == "stdio":
        return CodeTests("stdio", cases=[{"stdin": c["input"], "stdout": c["output"]} for c in cases])
    if not tests.get("entry_point"):
        raise NebulaError("code tests: kind 'call' without 'entry_point'", hint="name the function the cases call")
    calls = []
    for i, c in enumerate(cases):
        try:
            args, expected = json.loads(c["input"]), json.loads(c["output"])
        except (json.JSONDecodeError, TypeError) as err:
            raise NebulaError(f"code tests: call case {i} is not JSON ({err}): {c!r:.200}",
                              hint="'input' is a JSON list of arguments, 'output' the JSON expected value") from None
        calls.append({"args": args if isinstance(args, list) else [args], "kwargs": {}, "expected": expected})
    return CodeTests("call", fn_name=tests["entry_point"], cases=calls)


def parse_tests(tests: Any, fn_name: str | None = None) -> CodeTests:
    """Read tests in any of the accepted shapes.

    Accepted: assert-style test code (`str`); a JSON string of one of the following; `{"inputs": [...], "outputs":
    [...]}` (APPS; with `"fn_name"` the inputs are argument lists, else stdin strings); a list of `{"stdin", "stdout"}`
    (or `input`/`output`) cases; a list of `{"args", "kwargs", "expected"}` cases (with `fn_name` given here or in the
    case); `{"fn_name": ..., "cases": [...]}`; the record schema's `{kind, assert_code, entry_point, cases}`.

    Example:
        >>> parse_tests({"inputs": ["1 2\\n"], "outputs": ["3\\n"]}).kind
        'stdio'
        >>> parse_tests([{"args": [1, 2], "expected": 3}], fn_name="add").cases[0]["expected"]
        3
    """
    if isinstance(tests, str):
        stripped = tests.lstrip()
        if stripped[:1] in "[{":
            try:
                return parse_tests(json.loads(tests), fn_name)
            except json.JSONDecodeError:
                pass  # not JSON: a dict or list literal at the start of test code
        return CodeTests("assert", code=tests)
    if isinstance(tests, dict) and tests.get("kind") in ("assert", "stdio", "call"):
        return _from_schema(tests)
    if isinstance(tests, dict):
        fn_name = tests.get("fn_name") or tests.get("function") or fn_name
        if "inputs" in tests and "outputs" in tests:
            ins, outs = tests["inputs"], tests["outputs"]
            if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs):
                raise NebulaError(
                    f"code tests: 'inputs' and 'outputs' must be lists of equal length, got {len(ins)!r:.20} inputs "
                    f"and {len(outs)!r:.20} outputs", hint="give one expected output per input")
            if fn_name:
                return CodeTests("call", fn_name=fn_name, cases=[
                    {"args": a if isinstance(a, list) else [a], "kwargs": {}, "expected": e}
                    for a, e in zip(ins, outs, strict=True)])
            return CodeTests("stdio", cases=[{"stdin": _joined(a, "an input"), "stdout": _joined(e, "an output")}
                                            for a, e in zip(ins, outs, strict=True)])
        if "cases" in tests:
            return parse_tests(tests["cases"], fn_name)
        if "code" in tests or "assert" in tests:
            return CodeTests("assert", code=tests.get("code") or tests["assert"])
        raise NebulaError(f"code tests: unrecognised test dict with keys {sorted(tests)!r}",
                          hint="use {'inputs': [...], 'outputs': [...]} (+ 'fn_name'), {'cases': [...]} or test code")
    if isinstance(tests, Sequence) and tests and all(isinstance(c, dict) for c in tests):
        first = tests[0]
        if any(k in first for k in ("stdin", "input")):
            return CodeTests("stdio", cases=[
                {"stdin": _joined(c.get("stdin", c.get("input", "")), f"case {i} stdin"),
                 "stdout": _joined(c.get("stdout", c.get("output", "")), f"case {i} stdout")}
                for i, c in enumerate(tests)])
        names = {c.get("fn_name") or c.get("function") or fn_name for c in tests}
        if len(names) != 1 or None in names:
            raise NebulaError(f"code tests: function-call cases need one function name, got {sorted(map(str, names))}",
                              hint="pass fn_name=... or put 'fn_name' in every case")
        cases = []
        for i, c in enumerate(tests):
            if "expected" not in c:
                raise NebulaError(f"code tests: case {i} has no 'expected' value: {c!r:.200}",
                                  hint="each call case is {'args': [...], 'kwargs': {...}, 'expected': value}")
            cases.append({"args": list(c.get("args", [])), "kwargs": dict(c.get("kwargs", {})),
                          "expected": c["expected"]})
        return CodeTests("call", fn_name=names.pop(), cases=cases)
    raise NebulaError(f"code tests: cannot read tests of type {type(tests).__name__}: {tests!r:.200}",
                      hint="give assert-style test code, stdin/stdout cases or function-call cases")


# --------------------------------------------------------------------------------------------------- assert tests
class _Harden(ast.NodeTransformer):
    """Route comparisons and assert truth tests through the harness's checks (see `_sandbox_zygote._nh_compare`)."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        ops = ast.Tuple([ast.Constant(type(op).__name__) for op in node.ops], ast.Load())
        return ast.Call(ast.Name("__nh_compare__", ast.Load()), [ops, node.left, *node.comparators], [])

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.generic_visit(node)
        node.test = ast.Call(ast.Name("__nh_truth__", ast.Load()), [node.test], [])
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            node.operand = ast.Call(ast.Name("__nh_truth__", ast.Load()), [node.operand], [])
        return node


def _split_assert_tests(test_code: str) -> tuple[list[tuple[int | None, str]], list[int]]:
    """Split test code into hardened top-level units: `(index, source)` with `index=None` for set-up statements."""
    try:
        mod = ast.parse(test_code)
    except SyntaxError as e:
        raise NebulaError(f"code tests: the test code does not parse: {e.msg} at line {e.lineno}",
                          hint="fix the test code (it is run after the program as a Python module)") from e
    units, indices = [], []
    for stmt in mod.body:
        is_test = isinstance(stmt, ast.Assert) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call))
        hardened = ast.fix_missing_locations(_Harden().visit(ast.Module([stmt], [])))
        idx = len(indices) if is_test else None
        if is_test:
            indices.append(idx)
        units.append((idx, ast.unparse(hardened)))
    if not indices:  # no top-level test statement: the whole code is one test
        units = [(0, ast.unparse(ast.fix_missing_locations(_Harden().visit(mod))))]
        indices = [0]
    return units, indices


# ------------------------------------------------------------------------------------------------------ comparison
def _decode(v: Any) -> Any:
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        if "__tuple__" in v:
            return tuple(_decode(x) for x in v["__tuple__"])
        if "__set__" in v:
            return {_freeze(_decode(x)) for x in v["__set__"]}
        if "__dict__" in v:
            return {_freeze(_decode(k)): _decode(x) for k, x in v["__dict__"]}
        if "__bytes__" in v:
            return bytes.fromhex(v["__bytes__"])
        if "__float__" in v:
            return float(v["__float__"])
        if "__complex__" in v:
            return complex(*v["__complex__"])
    return v


def _freeze(x: Any) -> Any:
    return tuple(_freeze(e) for e in x) if isinstance(x, list) else x


def values_match(actual: Any, expected: Any) -> bool:
    """Equality for returned values: lists and tuples alike, floats within 1e-6 relative (1e-9 absolute).

    Example:
        >>> values_match((1, 2.0000000001), [1, 2])
        True
    """
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(actual, bool) or isinstance(expected, bool):
            return actual == expected
        if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
            if math.isnan(actual) and math.isnan(expected):
                return True
            return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)
        return False
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        return len(actual) == len(expected) and all(values_match(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(values_match(actual[k], expected[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, (set, frozenset)):
        return {_freeze(e) for e in expected} == actual
    return actual == expected  # both sides are plain decoded data here, so == runs no program code


_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def outputs_match(actual: str, expected: str) -> bool:
    """Stdout comparison: trailing spaces and blank lines ignored; numbers compared with a 1e-6 tolerance.

    Example:
        >>> outputs_match("3 \\n\\n", "3\\n"), outputs_match("0.3333333\\n", "0.33333333\\n"), outputs_match("4", "3")
        (True, True, False)
    """
    a = [line.rstrip() for line in actual.strip("\n").split("\n")]
    e = [line.rstrip() for line in expected.strip("\n").split("\n")]
    if a == e:
        return True
    at, et = " ".join(a).split(), " ".join(e).split()
    if len(at) != len(et):
        return False
    for x, y in zip(at, et, strict=True):
        if x == y:
            continue
        if _FLOAT.match(x) and _FLOAT.match(y) and math.isclose(float(x), float(y), rel_tol=1e-6, abs_tol=1e-6):
            continue
        return False
    return True


# ------------------------------------------------------------------------------------------------ jobs and verdicts
def _jobs(code: str, spec: CodeTests, timeout: float) -> list[dict[str, Any]]:
    if spec.kind == "assert":
        units, indices = _split_assert_tests(spec.code)
        spec._n_assert = len(indices)
        return [{"kind": "assert", "code": code, "tests": [{"index": i, "code": s} for i, s in units],
                 "n_tests": len(indices), "timeout": timeout}]
    if spec.kind == "call":
        return [{"kind": "call", "code": code, "fn_name": spec.fn_name, "n_tests": len(spec.cases),
                 "tests": [{"args": c["args"], "kwargs": c["kwargs"]} for c in spec.cases], "timeout": timeout}]
    return [{"kind": "stdio", "code": code, "stdin": c["stdin"], "n_tests": 1, "timeout": timeout} for c in spec.cases]


_SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 24: "SIGXCPU",
            25: "SIGXFSZ"}


def _run_outcome(report: dict, n_tests: int) -> tuple[str, list[dict], str]:
    """Verdict of one sandbox run before comparing values: (verdict, per-test events, detail)."""
    if "error" in report:
        return "error", [], report["error"]
    events = report["events"]
    names = [e.get("event") for e in events]
    tests = [e for e in events if e.get("event") == "test"]
    if [t["index"] for t in tests] != list(range(len(tests))) or names.count("done") > 1 or names.count("ready") > 1:
        return "crash", tests, "the run's result channel was tampered with (events out of order)"
    if report.get("forged_lines"):
        return "fail", tests, f"the program wrote {report['forged_lines']} line(s) to the harness's result channel"
    if report.get("killed_for") == "timeout":
        return "timeout", tests, f"time limit exceeded after {report['seconds']:.1f}s"
    if report.get("killed_for") == "output_limit":
        return "fail", tests, f"output limit exceeded ({report['stdout_bytes']} bytes)"
    if "ready" not in names:
        return "error", tests, f"the sandbox could not start the run: {report.get('stderr_tail', '')[-300:]}"
    code = report.get("exit_code")
    if "done" not in names:
        if code is not None and code >= 128:
            sig = code - 128
            if sig in (9, 24):  # the CPU-time limit ends in SIGKILL (hard) after SIGXCPU (soft)
                return "timeout", tests, "CPU time limit exceeded"
            return "crash", tests, f"killed by {_SIGNALS.get(sig, f'signal {sig}')}"
        return "crash", tests, f"exited (code {code}) before the tests finished"
    return "done", tests, ""


def _grade(spec: CodeTests, reports: list[dict], isolation: str) -> VerificationResult:
    per_test: list[dict[str, Any]] = []
    verdicts = []
    details = []
    if spec.kind == "stdio":
        for i, (case, rep) in enumerate(zip(spec.cases, reports, strict=True)):
            v, _, detail = _run_outcome(rep, 1)
            cand = next((e for e in rep.get("events", []) if e.get("event") == "candidate"), None)
            if v == "crash" and rep.get("exit_code") == 0:
                v = "done"  # a program may end itself with os._exit(0); its output is still its answer
            if v == "done":
                if cand is not None and cand.get("error"):
                    v, detail = "fail", f"runtime error: {cand['error']}"
                elif outputs_match(rep.get("stdout", ""), case["stdout"]):
                    v = "pass"
                else:
                    v, detail = "fail", f"wrong output: {rep.get('stdout', '')[:80]!r}, expected {case['stdout'][:80]!r}"
            ok = v == "pass"
            per_test.append({"index": i, "ok": ok, "verdict": v, "error": None if ok else detail})
            verdicts.append(v)
            if not ok:
                details.append(f"case {i}: {detail}")
        n = len(spec.cases)
    else:
        rep = reports[0]
        n = spec.n_tests
        v, tests, detail = _run_outcome(rep, n)
        cand = next((e for e in rep.get("events", []) if e.get("event") == "candidate"), None)
        for t in tests:
            ok, err = t["ok"], t.get("error")
            if spec.kind == "call" and ok:
                expected = spec.cases[t["index"]]["expected"]
                actual = _decode(t["value"])
                ok = values_match(actual, expected) or (
                    isinstance(expected, list) and len(expected) == 1 and values_match(actual, expected[0]))
                err = None if ok else f"returned {actual!r:.80}, expected {expected!r:.80}"
            per_test.append({"index": t["index"], "ok": ok, "error": err})
        passed = sum(t["ok"] for t in per_test)
        if v == "done":
            v = "pass" if passed == n and len(per_test) == n else "fail"
        if v != "pass":
            if cand is not None and cand.get("error"):
                details.append(f"the program raised {cand['error']}")
            first = next((t for t in per_test if not t["ok"]), None)
            if detail:
                details.append(detail)
            if first is not None:
                details.append(f"test {first['index']}: {first['error']}")
        verdicts = [v]
    passed = sum(t["ok"] for t in per_test)
    order = ("error", "timeout", "crash", "fail")
    verdict = "pass" if all(v == "pass" for v in verdicts) and passed == n else next(
        (o for o in order if o in verdicts), "fail")
    score = passed / n if n else 0.0
    head = f"{passed}/{n} tests passed"
    return VerificationResult(
        "code", verdict, score if verdict != "error" else 0.0,
        head + (": " + "; ".join(details[:3]) if details else ""),
        extra={"passed": passed, "total": n, "tests": per_test, "kind": spec.kind, "isolation": isolation,
               "seconds": sum(r.get("seconds", 0.0) for r in reports),
               "attempts": max((r.get("attempts", 1) for r in reports), default=0),
               "stderr_tail": (reports[0].get("stderr_tail") or "")[-1000:] if reports else ""},
    )


def verify_code(code: str, tests: Any, *, fn_name: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                pool: SandboxPool | None = None) -> VerificationResult:
    """Run `code` against `tests` in the sandbox; see the module docstring for verdicts and `parse_tests` for shapes.

    Args:
        code (`str`): the Python program.
        tests: the tests (assert code, stdin/stdout cases or function-call cases).
        fn_name (`str`, *optional*): the function to call for call cases without their own `fn_name`.
        timeout (`float`, *optional*): seconds per test, defaults to 10. Time the program spent waiting for a CPU
            on a loaded machine is not counted (a hard cap of 10 times the budget in wall-clock time is).
        pool (`SandboxPool`, *optional*): workers to use, defaults to a shared pool with one worker per CPU.

    Example:
        >>> verify_code("print(sum(map(int, input().split())))", [{"stdin": "1 2", "stdout": "3"}]).verdict
        'pass'
    """
    return verify_code_batch([(code, tests)], fn_name=fn_name, timeout=timeout, pool=pool, progress=False)[0]


def verify_code_batch(items: Sequence[tuple[str, Any]], *, fn_name: str | None = None,
                      timeout: float = DEFAULT_TIMEOUT, pool: SandboxPool | None = None,
                      progress: bool = True) -> list[VerificationResult]:
    """Verify many `(code, tests)` pairs at once over the pool's workers; one result per pair, in order.

    Tests that cannot be read give an `unparsable` result for that pair only.

    Example:
        >>> rs = verify_code_batch([("x = 1", "assert x == 1"), ("x = 2", "assert x == 1")], progress=False)
        >>> [r.verdict for r in rs]
        ['pass', 'fail']
    """
    pool = pool or default_pool()
    specs: list[CodeTests | VerificationResult] = []
    jobs: list[dict] = []
    owners: list[int] = []
    for k, (code, tests) in enumerate(items):
        try:
            spec = parse_tests(tests, fn_name)
            if not isinstance(code, str):
                raise NebulaError(f"code verifier: the program must be a string, got {type(code).__name__}",
                                  hint="extract the code from the response first (nebula_hub.verify.extract_code)")
            item_jobs = _jobs(code, spec, timeout)
        except NebulaError as e:
            specs.append(VerificationResult("code", "unparsable", 0.0, str(e)))
            continue
        specs.append(spec)
        jobs.extend(item_jobs)
        owners.extend([k] * len(item_jobs))
    reports: list[list[dict]] = [[] for _ in items]
    it = pool.imap(jobs)
    if progress and len(jobs) > 1:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(jobs), desc="code tests", unit="run")
    for owner, rep in zip(owners, it, strict=True):
        reports[owner].append(rep)
    return [s if isinstance(s, VerificationResult) else _grade(s, reports[k], pool.isolation)
            for k, s in enumerate(specs)]


_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.S | re.I)
_THINK = re.compile(r"<think>.*?</think>", re.S)


def extract_code(response: str) -> str | None:
    """The program in a model response: the last fenced code block after any `<think>` block, else `None`.

    Example:
        >>> extract_code("<think>```python\\nwrong()\\n```</think>Here:\\n```python\\nprint(1)\\n```")
        'print(1)\\n'
    """
    if "<think>" in response and "</think>" not in response:
        return None  # truncated inside the reasoning: there is no answer yet
    text = _THINK.sub("", response)
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else None
