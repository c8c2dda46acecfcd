"""Record schema: lossless round trip through Parquet and `load_dataset`, and readable validation errors."""

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset

from nebula_hub.errors import RecordValidationError
from nebula_hub.schema import (
    REJECTED_FEATURES,
    RL_FEATURES,
    SFT_FEATURES,
    RejectedRecord,
    RLRecord,
    SFTRecord,
    content_id,
    to_table,
)


def _sft_records():
    full = SFTRecord.create(
        [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "What is 1/2 + 1/4?"},
            {"role": "assistant", "content": "<think>\n2/4 + 1/4 = 3/4\n</think>\n\nThe answer is \\boxed{3/4}."},
        ],
        source={"name": "demo-math", "original_id": "q-17", "license": "mit"},
        task={"label": "math", "confidence": 0.97},
        difficulty={"level": "medium", "pass_rate": 0.5, "num_samples": 8},
        language="en",
        teacher={
            "model": "Qwen/Qwen3-32B",
            "revision": "abc123",
            "backend": "vllm",
            "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 4096, "seed": 7, "n": 4},
        },
        verification=[
            {"verifier": "math", "verdict": "pass", "score": 1.0, "detail": "3/4 == 3/4"},
            {"verifier": "language", "verdict": "pass", "score": 1.0},
        ],
        meta={"tokens": 42, "tags": ["fractions", "ünïcode"], "nested": {"a": None}},
    )
    minimal = SFTRecord.create(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], source={"name": "chat"}
    )
    return [full, minimal]


def _rl_records():
    return [
        RLRecord.create([{"role": "user", "content": "Compute 2+2."}], "math", answer="4", difficulty="easy", pass_rate=1.0),
        RLRecord.create(
            [{"role": "user", "content": "Write add(a, b)."}],
            "code",
            tests={"kind": "call", "entry_point": "add", "cases": [{"input": "[1, 2]", "output": "3"}]},
            meta={"reference_passes": True},
        ),
        RLRecord.create(
            [{"role": "user", "content": "Describe Paris in under 50 words, all lowercase."}],
            "instruction_following",
            constraints={
                "instruction_id_list": ["length_constraints:number_words", "change_case:english_lowercase"],
                "kwargs": [{"relation": "less than", "num_words": 50}, {}],
            },
        ),
    ]


@pytest.mark.parametrize(
    "kind,records,cls,features",
    [
        ("sft", _sft_records, SFTRecord, SFT_FEATURES),
        ("rl", _rl_records, RLRecord, RL_FEATURES),
        (
            "rejected",
            lambda: [RejectedRecord(id="x1", stage="normalize", reason="bad_role_order", record={"messages": [1, "a"]})],
            RejectedRecord,
            REJECTED_FEATURES,
        ),
    ],
)
def test_round_trip_parquet_and_load_dataset(tmp_path, kind, records, cls, features):
    recs = records()
    path = tmp_path / f"{kind}.parquet"
    pq.write_table(to_table(recs, kind), path)

    back_pq = [cls.from_row(r) for r in pq.read_table(path).to_pylist()]
    assert back_pq == recs

    ds = load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.features == features
    assert [cls.from_row(r) for r in ds] == recs


def test_content_id_is_stable_and_content_based():
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert content_id(msgs) == content_id([dict(m) for m in msgs])
    assert content_id(msgs) != content_id([msgs[0], {"role": "assistant", "content": "c"}])
    rec = SFTRecord.create(msgs, source={"name": "one"})
    assert rec.id == SFTRecord.create(msgs, source={"name": "another"}).id


@pytest.mark.parametrize(
    "name,data,field,fragment",
    [
        ("bad role", {"messages": [{"role": "bot", "content": "x"}]}, "messages.0.role", "'bot'"),
        ("missing content", {"messages": [{"role": "user"}]}, "messages.0.content", "Field required"),
        ("no assistant", {"messages": [{"role": "user", "content": "q"}]}, "(record)", "needs at least one 'assistant'"),
        (
            "assistant first",
            {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]},
            "messages",
            "first non-system message must be from 'user'",
        ),
        ("pass rate out of range", {"difficulty": {"pass_rate": 1.5}}, "difficulty.pass_rate", "less than or equal to 1"),
        ("bad verdict", {"verification": [{"verifier": "m", "verdict": "ok"}]}, "verification.0.verdict", "'ok'"),
        ("unknown field", {"colour": "blue"}, "colour", "Extra inputs are not permitted"),
        ("empty source name", {"source": {"name": ""}}, "source.name", "at least 1 character"),
    ],
)
def test_invalid_sft_records_name_the_field(name, data, field, fragment):
    base = {
        "id": "rec-1",
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "source": {"name": "s"},
    }
    base.update(data)
    with pytest.raises(RecordValidationError) as info:
        SFTRecord.validate_dict(base, where="train.jsonl:7")
    msg = str(info.value)
    assert f"field '{field}'" in msg, f"{name}: {msg}"
    assert fragment in msg, f"{name}: {msg}"
    assert msg.startswith("train.jsonl:7: SFTRecord rec-1"), f"{name}: {msg}"


@pytest.mark.parametrize(
    "name,data,fragment",
    [
        ("nothing to verify", {}, "needs something to verify against"),
        ("call without entry point", {"tests": {"kind": "call", "cases": [{"input": "[]", "output": "1"}]}}, "entry_point"),
        ("assert without code", {"tests": {"kind": "assert"}}, "assert_code"),
        (
            "kwargs length",
            {"constraints": {"instruction_id_list": ["a", "b"], "kwargs": [{}]}},
            "'kwargs' has 1 entries but 'instruction_id_list' has 2",
        ),
        ("bad bucket", {"answer": "1", "difficulty": "trivial"}, "'trivial'"),
    ],
)
def test_invalid_rl_records(name, data, fragment):
    with pytest.raises(RecordValidationError) as info:
        RLRecord.create([{"role": "user", "content": "q"}], "math", **data)
    assert fragment in str(info.value), f"{name}: {info.value}"


def test_bad_json_meta_in_row_is_reported():
    row = _sft_records()[1].to_row()
    row["meta"] = "{not json"
    with pytest.raises(RecordValidationError, match="field 'meta' is not valid JSON"):
        SFTRecord.from_row(row)
