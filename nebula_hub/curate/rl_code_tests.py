"""Code candidates: tests are validated by running the reference solutions in the sandbox, several times.

- Each reference solution runs `runs` times against the tests (`nebula_hub.verify.code`, the same sandbox the GRPO
  reward uses). A solution whose verdict changes between runs reveals flaky tests: rejected, `flaky_tests`.
- If no reference passes every run, the tests are wrong (or the references are): rejected, `tests_fail_reference`,
  with the first failure's detail.
- A run the sandbox itself failed is retried by the sandbox pool on a fresh worker; if it still fails (verdict
  `error`) the problem is rejected as `sandbox_error` (nothing is known about its tests).
- A problem without a reference keeps its tests unvalidated (`meta.tests_validated = false`), or is rejected with
  `no_reference` when `require_reference` is set.

Reference solutions are never published; they stay in the rejected records for review. Other tasks pass through.

    step = CodeTestsFilter(runs=3, timeout_s=5, exclusion_writer=RejectedWriter(work_dir, "code_tests"))
"""

import json
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from nebula_hub.curate.document import reject


def verifier_tests(tests: dict[str, Any]) -> Any:
    """`CodeTests` (the published column: kind, assert_code, entry_point, cases[{input, output}]) -> the shapes
    `nebula_hub.verify.code.parse_tests` reads: test code, `[{"stdin", "stdout"}]`, or `{"fn_name", "cases":
    [{"args", "expected"}]}` (a call case's `input` is the JSON list of arguments, its `output` the JSON value).

    Example:
        >>> verifier_tests({"kind": "call", "entry_point": "add", "cases": [{"input": "[1, 2]", "output": "3"}]})
        {'fn_name': 'add', 'cases': [{'args': [1, 2], 'expected': 3}]}
    """
    kind = tests["kind"]
    if kind == "assert":
        return tests["assert_code"]
    if kind == "stdio":
        return [{"stdin": c["input"], "stdout": c["output"]} for c in tests["cases"]]
    cases = []
    for i, c in enumerate(tests["cases"]):
        try:
            args, expected = json.loads(c["input"]), json.loads(c["output"])
        except json.JSONDecodeError as err:
            raise ValueError(f"tests.cases.{i}: call cases hold JSON (input: argument list, output: value): {err}") from None
        cases.append({"args": args if isinstance(args, list) else [args], "expected": expected})
    return {"fn_name": tests["entry_point"], "cases": cases}


class CodeTestsFilter(BaseFilter):
    """Keep code candidates whose tests a reference solution passes consistently."""

    name = "RL code tests"

    def __init__(self, runs: int = 3, timeout_s: float = 5.0, require_reference: bool = False,
                 exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer)
        self.runs = runs
        self.timeout_s = timeout_s
        self.require_reference = require_reference

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        md = doc.metadata
        if md["task"]["label"] != "code":
            return True
        where = md["meta"].get("location", doc.id)
        solutions = md["reference"].get("solutions") or []
        if not solutions:
            md["meta"]["tests_validated"] = False
            if self.require_reference:
                return reject(doc, "no_reference", f"{where}: no reference solution to validate the tests")
            return True
        from nebula_hub.verify.code import verify_code_batch

        tests = md["reference"]["tests"]
        # every run of every reference in one batch: the sandbox pool runs them in parallel
        items = [(sol, tests) for sol in solutions for _ in range(self.runs)]
        with self.track_time():
            # the pool already retries its own infrastructure failures; an `error` here persisted
            flat = verify_code_batch(items, timeout=self.timeout_s, progress=False)
        self.stat_update("reference_runs", value=len(flat))
        failure = None
        for index in range(len(solutions)):
            results = flat[index * self.runs:(index + 1) * self.runs]
            if any(r.verdict == "error" for r in results):
                bad = next(r for r in results if r.verdict == "error")
                return reject(doc, "sandbox_error", f"{where}: reference #{index}: the sandbox failed: {bad.detail}")
            verdicts = [r.verdict for r in results]
            scores = [round(r.score, 6) for r in results]
            if len(set(verdicts)) > 1 or len(set(scores)) > 1:
                return reject(doc, "flaky_tests", f"{where}: reference #{index} gave verdicts {verdicts} and scores "
                                                  f"{scores} over {self.runs} identical runs")
            if verdicts[0] == "pass":
                md["meta"]["tests_validated"] = True
                return True
            failure = failure or f"{where}: reference #{index}: {verdicts[0]}: {results[0].detail}"
        return reject(doc, "tests_fail_reference", failure)
