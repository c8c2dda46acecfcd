"""RL candidate validation: every rejection reason, with the real verifiers (math-verify, the code sandbox, IFEval)."""

import gzip
import json

import pytest

from nebula_hub.curate.rejected import RejectedWriter
from nebula_hub.curate.rl_candidates import RLSourceReader, candidate_from_row, rl_row
from nebula_hub.curate.rl_code_tests import CodeTestsFilter, verifier_tests
from nebula_hub.curate.rl_config import RLSourceConfig
from nebula_hub.curate.rl_if_constraints import IFConstraintsStep
from nebula_hub.curate.rl_math_gold import MathGoldFilter
from nebula_hub.errors import ConfigError
from nebula_hub.schema import RLRecord
from nebula_hub.verify.ifeval import check_constraints


ADD_TESTS = {"kind": "call", "entry_point": "add", "cases": [{"input": "[1, 2]", "output": "3"},
                                                             {"input": "[2, 5]", "output": "7"}]}
ADD = "def add(a, b):\n    return a + b\n"


def run(step, docs):
    return list(step.run(iter(docs), rank=0, world_size=1))


def rejected_rows(work, stage):
    return [json.loads(line) for p in sorted((work / "rejected" / stage).glob("*.jsonl.gz"))
            for line in gzip.open(p, "rt", encoding="utf-8")]


def doc(task, row, name="src"):
    return candidate_from_row(row, RLSourceConfig(name=name, path="x.jsonl", task=task), "x.jsonl:1")


def test_reader_rejects_broken_rows_with_their_reason(tmp_path):
    src = tmp_path / "math.jsonl"
    src.write_text(
        json.dumps({"id": "ok", "problem": "1+1?", "answer": "2"}) + "\n"
        + '{"id": "broken", "problem": \n'
        + json.dumps({"id": "no-answer", "problem": "2+2?"}) + "\n"
        + json.dumps({"id": "no-prompt", "answer": "3"}) + "\n"
        + json.dumps({"id": "list-answer", "problem": "x?", "answer": [1, 2]}) + "\n"
    )
    code = tmp_path / "code.jsonl"
    code.write_text(json.dumps({"id": "no-entry", "prompt": "p", "tests": {"kind": "call", "cases": [
        {"input": "[1]", "output": "1"}]}}) + "\n")
    sources = [RLSourceConfig(name="m", path=str(src), task="math"), RLSourceConfig(name="c", path=str(code), task="code")]
    work = tmp_path / "work"
    docs = run(RLSourceReader(sources, exclusion_writer=RejectedWriter(work, "ingest")), [])
    assert [d.metadata["source"]["original_id"] for d in docs] == ["ok"]
    reasons = {r["detail"].split(": ")[0].split()[-1]: r["reason"] for r in rejected_rows(work, "ingest")}
    assert reasons == {"math.jsonl:2": "invalid_json", "math.jsonl:3": "missing_field", "math.jsonl:4": "missing_field",
                       "math.jsonl:5": "wrong_type", "code.jsonl:1": "invalid_tests"}
    details = " ".join(r["detail"] for r in rejected_rows(work, "ingest"))
    assert "entry_point" in details and "gold" in details


def test_source_task_must_be_verifiable():
    with pytest.raises(ConfigError, match="task 'general' is not verifiable"):
        RLSourceConfig(name="s", path="x.jsonl", task="general")


def test_unparsable_gold_is_rejected_and_parsable_gold_normalized(tmp_path):
    work = tmp_path / "work"
    docs = [doc("math", {"id": str(i), "problem": f"q{i}", "answer": a})
            for i, a in enumerate(["$\\frac{1}{2}$", "\\frac{1}{", "\\boxed{}", "7"])]
    kept = run(MathGoldFilter(exclusion_writer=RejectedWriter(work, "math_gold")), docs)
    assert [d.metadata["reference"]["answer"] for d in kept] == ["\\frac{1}{2}", "7"]
    assert kept[0].metadata["meta"]["original_answer"] == "$\\frac{1}{2}$"
    rows = rejected_rows(work, "math_gold")
    assert [r["reason"] for r in rows] == ["unparsable_gold", "unparsable_gold"]
    assert "cannot be parsed by math-verify" in rows[0]["detail"] and "\\\\frac{1}{" in rows[0]["detail"]


def test_code_tests_validated_by_reference(tmp_path):
    work = tmp_path / "work"
    broken = dict(ADD_TESTS, cases=[{"input": "[1, 2]", "output": "4"}])
    flaky = {"kind": "assert", "assert_code": "import random\n" + "assert random.random() < 0.5\n" * 8}
    docs = [
        doc("code", {"id": "good", "prompt": "add", "tests": ADD_TESTS, "solution": ADD}),
        doc("code", {"id": "broken", "prompt": "add2", "tests": broken, "solution": ADD}),
        doc("code", {"id": "flaky", "prompt": "add3", "tests": flaky, "solution": ADD}),
        doc("code", {"id": "noref", "prompt": "add4", "tests": ADD_TESTS}),
        doc("code", {"id": "one-good-ref", "prompt": "add5", "tests": ADD_TESTS,
                     "solutions": ["def add(a, b):\n    return a - b\n", ADD]}),
    ]
    kept = run(CodeTestsFilter(runs=6, timeout_s=5, exclusion_writer=RejectedWriter(work, "code_tests")), docs)
    assert [d.metadata["source"]["original_id"] for d in kept] == ["good", "noref", "one-good-ref"]
    assert [d.metadata["meta"]["tests_validated"] for d in kept] == [True, False, True]
    rows = {json.loads(r["record"])["source"]["original_id"]: r for r in rejected_rows(work, "code_tests")}
    assert rows["broken"]["reason"] == "tests_fail_reference"
    assert "expected 4" in rows["broken"]["detail"]
    assert rows["flaky"]["reason"] == "flaky_tests" and "over 6 identical runs" in rows["flaky"]["detail"]


def test_require_reference_rejects_unvalidated_tests(tmp_path):
    work = tmp_path / "work"
    kept = run(CodeTestsFilter(require_reference=True, exclusion_writer=RejectedWriter(work, "code_tests")),
               [doc("code", {"prompt": "add", "tests": ADD_TESTS})])
    assert kept == [] and [r["reason"] for r in rejected_rows(work, "code_tests")] == ["no_reference"]


def test_published_tests_keep_the_schema_layout():
    d = doc("code", {"prompt": "add", "tests": ADD_TESTS, "solution": ADD})
    assert d.metadata["reference"]["tests"] == verifier_tests(ADD_TESTS)
    row = rl_row(d)
    assert row["tests"]["entry_point"] == "add" and row["tests"]["cases"] == ADD_TESTS["cases"]
    assert "solutions" not in json.dumps(row)  # reference programs are never published
    RLRecord.validate_dict(row)


def test_if_constraints_invalid_ones_rejected_seeds_get_generated_ones(tmp_path):
    work = tmp_path / "work"
    docs = [
        doc("instruction_following", {"prompt": "Write a poem.", "instruction_id_list": ["format:rainbow"],
                                      "kwargs": [{}]}),
        doc("instruction_following", {"prompt": "Write a story.", "instruction_id_list":
                                      ["length_constraints:number_words"],
                                      "kwargs": [{"num_words": "many", "relation": "less than"}]}),
        doc("instruction_following", {"prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"]}),
        doc("instruction_following", {"prompt": "Describe the sea."}),
    ]
    step = IFConstraintsStep(n_per_seed=2, seed=3, exclusion_writer=RejectedWriter(work, "if_constraints"))
    kept = run(step, docs)
    rows = rejected_rows(work, "if_constraints")
    assert [r["reason"] for r in rows] == ["invalid_constraints", "invalid_constraints"]
    assert "unknown instruction id 'format:rainbow'" in rows[0]["detail"] and "'num_words'" in rows[1]["detail"]
    existing, seeded = kept
    assert existing.metadata["reference"]["constraints"] == {"instruction_id_list": ["punctuation:no_comma"],
                                                             "kwargs": [{}]}
    cons = seeded.metadata["reference"]["constraints"]
    assert len(cons["instruction_id_list"]) == 2
    prompt = seeded.metadata["messages"][-1]["content"]
    assert prompt.startswith("Describe the sea. ") and seeded.text == prompt
    assert check_constraints("x", cons).verdict in ("pass", "fail")  # the verifier reads what was generated
    # same seed prompt, same config seed -> the same constraints (reruns and resumed runs agree)
    again = run(IFConstraintsStep(n_per_seed=2, seed=3), [doc("instruction_following", {"prompt": "Describe the sea."})])
    assert again[0].metadata["reference"]["constraints"] == cons and again[0].id == seeded.id
