"""Ingest: the five layouts, field mappings, and malformed input rejected with reasons (never a crash)."""

import gzip
import json

import pytest

from nebula_hub.curate.formats import FormatError, row_to_conversation
from nebula_hub.curate.ingest import SourceReader
from nebula_hub.curate.rejected import RejectedWriter
from nebula_hub.curate.sft_config import SourceConfig


FORMAT_CASES = [
    (
        "messages",
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "yo", "reasoning_content": "greet"},
            ]
        },
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "reasoning": "greet"}],
    ),
    (
        "sharegpt",
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    ),
    (
        "alpaca",
        {"instruction": "Add.", "input": "2 3", "output": "5"},
        [{"role": "user", "content": "Add.\n\n2 3"}, {"role": "assistant", "content": "5"}],
    ),
    (
        "prompt_response",
        {"prompt": "q", "response": "a", "system": "be brief"},
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ],
    ),
    (
        "problem_solution",
        {"problem": "1+1?", "solution": "\\boxed{2}", "answer": 2},
        [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "\\boxed{2}"}],
    ),
]


@pytest.mark.parametrize("fmt,row,expected", FORMAT_CASES, ids=[c[0] for c in FORMAT_CASES])
def test_each_format_converts_explicitly_and_by_auto_detection(fmt, row, expected):
    for mode in (fmt, "auto"):
        conv = row_to_conversation(json.loads(json.dumps(row)), mode, {})
        assert conv.messages == expected, f"{fmt} via {mode}"
        assert conv.format == fmt


def test_field_mapping_and_reference_fields():
    row = {
        "question": "2+2?",
        "gold": "4",
        "reply": "It is 4.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
        "license": "mit",
        "uid": 7,
    }
    conv = row_to_conversation(
        row, "prompt_response", {"prompt": "question", "response": "reply", "answer": "gold", "id": "uid"}
    )
    assert conv.messages[-1] == {"role": "assistant", "content": "It is 4."}
    assert conv.reference["answer"] == "4"
    assert conv.reference["constraints"] == {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    assert (conv.original_id, conv.license) == ("7", "mit")


@pytest.mark.parametrize(
    "row,fmt,reason,words",
    [
        ({"problem": "x"}, "problem_solution", "missing_field", "'solution'"),
        ({"problem": ["x"], "solution": "y"}, "problem_solution", "wrong_type", "should be a string, got list"),
        ({"foo": 1}, "auto", "unknown_format", "cannot tell the layout"),
        ({"conversations": [{"from": "narrator", "value": "x"}]}, "sharegpt", "unknown_role", "'narrator'"),
        ([1, 2], "auto", "not_an_object", "JSON object"),
    ],
)
def test_format_errors_name_the_field(row, fmt, reason, words):
    with pytest.raises(FormatError) as err:
        row_to_conversation(row, fmt, {})
    assert err.value.reason == reason
    assert words in str(err.value)


def _rejected(work):
    rows = []
    for path in sorted((work / "rejected").rglob("*.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            rows += [json.loads(line) for line in fh]
    return rows


def test_malformed_input_is_rejected_with_reasons_and_the_run_completes(tmp_path):
    good = {"instruction": "Say hi.", "output": "hi"}
    lines = [
        json.dumps(good).encode(),
        b'{"instruction": "broken',
        b'{"output": "no instruction"}',
        b'{"instruction": 5, "output": "x"}',
        b'{"instruction": "caf\xe9", "output": "x"}',
        json.dumps({"instruction": "big " * (13 * 1024 * 1024), "output": "x"}).encode(),  # a ~50 MB record
        json.dumps(dict(good, instruction="Say bye.")).encode(),
    ]
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    assert src.stat().st_size > 50_000_000
    work = tmp_path / "work"
    reader = SourceReader(
        [SourceConfig(name="bad", path=str(src), format="alpaca", license="mit")],
        exclusion_writer=RejectedWriter(work, "ingest"),
    )
    docs = list(reader.run(None, 0, 1))
    assert [d.metadata["messages"][0]["content"] for d in docs] == ["Say hi.", "Say bye."]
    assert all(
        d.metadata["source"] == {"name": "bad", "original_id": d.metadata["source"]["original_id"], "license": "mit"}
        for d in docs
    )
    rejected = {r["record"] and json.loads(r["record"])["meta"]["location"]: r for r in _rejected(work)}
    assert {k: v["reason"] for k, v in rejected.items()} == {
        "bad.jsonl:2": "invalid_json",
        "bad.jsonl:3": "missing_field",
        "bad.jsonl:4": "wrong_type",
        "bad.jsonl:5": "invalid_utf8",
        "bad.jsonl:6": "record_too_large",
    }
    assert "bad.jsonl:5" in rejected["bad.jsonl:5"]["detail"] and "offset" in rejected["bad.jsonl:5"]["detail"]
    assert len(rejected["bad.jsonl:6"]["record"]) < 10_000  # the huge row is kept as a short preview only


def test_rows_are_sharded_over_ranks_without_loss(tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_text("\n".join(json.dumps({"prompt": f"q{i}", "response": "r"}) for i in range(7)))
    cfg = [SourceConfig(name="a", path=str(src))]
    ids = [d.metadata["messages"][0]["content"] for r in range(3) for d in SourceReader(cfg).run(None, r, 3)]
    assert sorted(ids) == sorted(f"q{i}" for i in range(7))


def test_a_corrupt_parquet_source_names_the_file(tmp_path):
    from nebula_hub.curate.sft import check_sources
    from nebula_hub.curate.sft_config import SFTPipelineConfig
    from nebula_hub.errors import NebulaError

    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(NebulaError) as err:
        check_sources(SFTPipelineConfig(sources=[SourceConfig(name="kb", path=str(bad))]))
    assert "broken.parquet" in err.value.message and "'kb'" in err.value.message
    with pytest.raises(NebulaError) as err:
        check_sources(SFTPipelineConfig(sources=[SourceConfig(name="gone", path=str(tmp_path / "nope.jsonl"))]))
    assert "nope.jsonl" in err.value.message
