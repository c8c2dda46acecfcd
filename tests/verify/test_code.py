"""Code verifier: HumanEval canonical solutions pass and broken ones fail; the three test kinds; test parsing."""

import gzip
import json

import pytest

from nebula_hub.errors import NebulaError
from nebula_hub.verify.code import (
    extract_code,
    outputs_match,
    parse_tests,
    values_match,
    verify_code,
    verify_code_batch,
)
from nebula_hub.verify.sandbox import SandboxPool


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2) as p:
        yield p


@pytest.fixture(scope="module")
def humaneval(shared_data):
    with gzip.open(shared_data / "code" / "HumanEval.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


def test_humaneval_canonical_solutions_pass_and_broken_ones_fail(humaneval, pool):
    tests = [p["test"] + f"\ncheck({p['entry_point']})" for p in humaneval]
    good = verify_code_batch([(p["prompt"] + p["canonical_solution"], t) for p, t in zip(humaneval, tests, strict=True)],
                             pool=pool, progress=False)
    bad = [(p["task_id"], r.verdict, r.detail) for p, r in zip(humaneval, good, strict=True) if r.verdict != "pass"]
    assert len(good) == 164 and not bad, f"canonical solutions not passing: {bad[:5]}"
    # Broken: the body returns None (the docstring stays, so the program still defines the function).
    broken = verify_code_batch([(p["prompt"] + "    return None\n", t) for p, t in zip(humaneval, tests, strict=True)],
                               pool=pool, progress=False)
    passing = [p["task_id"] for p, r in zip(humaneval, broken, strict=True) if r.verdict == "pass"]
    assert not passing, f"broken solutions reported as passing: {passing}"
    assert {r.verdict for r in broken} <= {"fail", "crash", "timeout"}
    assert all(r.score == 0.0 for r in broken)


PROGRAM = "def add(a, b):\n    return a + b if a >= 0 else 0\n"


@pytest.mark.parametrize(
    "name,code,tests,verdict,score",
    [
        ("assert_all_pass", PROGRAM, "assert add(1, 2) == 3\nassert add(0, 0) == 0", "pass", 1.0),
        ("assert_partial", PROGRAM, "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(-2, 1) == -1",
         "fail", 2 / 3),
        ("assert_setup_and_check", PROGRAM, "def check(f):\n    assert f(2, 2) == 4\n\ncheck(add)", "pass", 1.0),
        ("assert_syntax_error_in_program", "def add(a, b) return", "assert add(1, 2) == 3", "fail", 0.0),
        ("call_cases", PROGRAM, [{"fn_name": "add", "args": [1, 2], "expected": 3}, {"fn_name": "add", "args": [-1, 5], "expected": 4}], "fail", 0.5),
        ("call_apps_format", PROGRAM, {"fn_name": "add", "inputs": [[1, 2], [2, 2]], "outputs": [[3], 4]}, "pass", 1.0),
        ("call_json_string", PROGRAM, json.dumps({"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]}), "pass", 1.0),
        ("call_tuple_vs_list", "def f():\n    return (1, 2.0000000001)", [{"fn_name": "f", "expected": [1, 2]}],
         "pass", 1.0),
        ("stdio_cases", "a, b = map(int, input().split())\nprint(a + b)",
         [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 5\n", "stdout": "10\n"}, {"stdin": "1 1", "stdout": "3"}],
         "fail", 2 / 3),
        ("stdio_apps_format", "print(input()[::-1])", {"inputs": ["abc\n"], "outputs": ["cba\n"]}, "pass", 1.0),
        ("stdio_runtime_error", "print(1/0)", [{"stdin": "", "stdout": ""}], "fail", 0.0),
        ("stdio_exit_zero_after_output", "import os, sys\nprint(7)\nsys.stdout.flush()\nos._exit(0)",
         [{"stdin": "", "stdout": "7"}], "pass", 1.0),
        ("timeout", "def add(a, b):\n    while True:\n        pass", "assert add(1, 2) == 3", "timeout", 0.0),
        ("partial_then_timeout", "import time\ndef add(a, b):\n    if a > 5:\n        time.sleep(60)\n    return a + b",
         "assert add(1, 2) == 3\nassert add(9, 1) == 10", "timeout", 0.5),
    ],
)
def test_test_kinds_table(name, code, tests, verdict, score, pool):
    r = verify_code(code, tests, pool=pool, timeout=1.5)
    assert (r.verdict, round(r.score, 4)) == (verdict, round(score, 4)), f"{name}: {r.verdict} {r.score} {r.detail}"
    assert r.extra["total"] >= 1 and r.extra["isolation"] == pool.isolation, name


def test_unreadable_tests_are_unparsable_not_failed(pool):
    rs = verify_code_batch([("x = 1", "assert x ==="), ("x = 1", 42), ("x = 1", "assert x == 1")], pool=pool,
                           progress=False)
    assert [r.verdict for r in rs] == ["unparsable", "unparsable", "pass"]
    assert "does not parse" in rs[0].detail and "cannot read tests of type int" in rs[1].detail


def test_parse_tests_errors_name_the_problem():
    with pytest.raises(NebulaError, match="one function name"):
        parse_tests([{"args": [1], "expected": 2}])
    with pytest.raises(NebulaError, match="equal length"):
        parse_tests({"inputs": ["1"], "outputs": []})
    with pytest.raises(NebulaError, match="has no 'expected'"):
        parse_tests([{"args": [1]}], fn_name="f")
    assert parse_tests("assert f(1) == 2").kind == "assert"


def test_comparisons():
    assert outputs_match("1 2\n3  \n\n", "1 2\n3\n") and not outputs_match("1 2", "1 3")
    assert outputs_match("0.333333333", "0.3333333") and not outputs_match("0.34", "0.33")
    assert values_match({"a": [1, 2.0]}, {"a": (1, 2)}) and not values_match([1, 2], [1, 2, 3])
    assert not values_match("1", 1) and values_match(float("nan"), float("nan"))


def test_extract_code():
    assert extract_code("text\n```python\na = 1\n```\nmore\n```py\nb = 2\n```") == "b = 2\n"
    assert extract_code("<think>```python\nx\n```</think>no code") is None
    assert extract_code("<think>unfinished ```python\nx = 1\n```") is None


def test_schema_layout_is_accepted():
    """RL pools store tests in the record schema's layout; the verifier and the GRPO reward read it directly."""
    call = {"kind": "call", "assert_code": None, "entry_point": "add", "cases": [{"input": "[1, 2]", "output": "3"}]}
    assert verify_code("def add(a, b):\n    return a + b", call).verdict == "pass"
    assert verify_code("def add(a, b):\n    return a - b", call).verdict == "fail"
    stdio = {"kind": "stdio", "assert_code": None, "entry_point": None, "cases": [{"input": "4\n", "output": "8\n"}]}
    assert verify_code("print(int(input()) * 2)", stdio).verdict == "pass"
    asserts = {"kind": "assert", "assert_code": "assert f() == 1", "entry_point": None, "cases": []}
    assert verify_code("def f():\n    return 2", asserts).verdict == "fail"
