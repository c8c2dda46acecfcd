"""The record types every stage, publisher, trainer and the Space share: SFT, RL and rejected records.

Each type exists twice, kept in step here and nowhere else:
- a pydantic model that validates (a bad record raises `RecordValidationError` naming the record and the field);
- a `datasets.Features` (hence an Arrow schema), so Parquet files, `load_dataset` and the Python model agree.

Free-form parts (`meta`, IFEval kwargs, function-call test arguments) have no fixed Arrow type, so they are stored as
JSON strings in Arrow and decoded back to Python values by `from_row`; the round trip record -> row -> record is
lossless.

    rec = SFTRecord.create(messages=[...], source=Source(name="gsm8k", original_id="12", license="mit"))
    row = rec.to_row()                     # Arrow-ready dict matching SFT_FEATURES
    assert SFTRecord.from_row(row) == rec
"""

import hashlib
import json
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nebula_hub.errors import RecordValidationError


ROLES = ("system", "user", "assistant", "tool")
TASKS = ("math", "code", "instruction_following", "knowledge", "general")
DIFFICULTY_LEVELS = ("easy", "medium", "hard")
TEST_KINDS = ("assert", "stdio", "call")
SCHEMA_VERSION = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)


class Message(_Model):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class Source(_Model):
    name: str = Field(min_length=1)
    original_id: str | None = None
    license: str | None = None


class TaskLabel(_Model):
    label: str = Field(min_length=1)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class Difficulty(_Model):
    level: Literal["easy", "medium", "hard"] | None = None
    pass_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    num_samples: int | None = Field(default=None, ge=0)


class Sampling(_Model):
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    n: int | None = None
    enable_thinking: bool | None = None


class Teacher(_Model):
    model: str = Field(min_length=1)
    revision: str | None = None
    backend: str | None = None
    sampling: Sampling = Field(default_factory=Sampling)


class Verification(_Model):
    verifier: str = Field(min_length=1)
    verdict: Literal["pass", "fail", "timeout", "crash", "error", "unparsable"]
    score: float = 0.0
    detail: str = ""


class TestCase(_Model):
    """One stdin/stdout case (`input` -> `output`), or one function call (JSON args -> JSON expected value)."""

    input: str
    output: str


class CodeTests(_Model):
    """Tests for a code problem: `assert` code, `stdio` cases, or `call` cases on `entry_point`."""

    kind: Literal["assert", "stdio", "call"]
    assert_code: str | None = None
    entry_point: str | None = None
    cases: list[TestCase] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_kind(self):
        if self.kind == "assert" and not self.assert_code:
            raise ValueError("kind 'assert' needs 'assert_code' (test code that raises on failure)")
        if self.kind in ("stdio", "call") and not self.cases:
            raise ValueError(f"kind {self.kind!r} needs at least one entry in 'cases'")
        if self.kind == "call" and not self.entry_point:
            raise ValueError("kind 'call' needs 'entry_point' (the function to call)")
        return self


class Constraints(_Model):
    """IFEval-style constraints: instruction ids and one kwargs dict per id."""

    instruction_id_list: list[str] = Field(min_length=1)
    kwargs: list[dict[str, Any]]

    @model_validator(mode="after")
    def _same_length(self):
        if len(self.kwargs) != len(self.instruction_id_list):
            raise ValueError(
                f"'kwargs' has {len(self.kwargs)} entries but 'instruction_id_list' has "
                f"{len(self.instruction_id_list)}: give one kwargs dict (possibly empty) per instruction"
            )
        return self


def _check_turns(messages: list[Message]) -> list[Message]:
    if not messages:
        raise ValueError("a conversation needs at least one message")
    turns = [m for m in messages if m.role != "system"]
    if any(m.role == "system" for m in messages[1:]):
        raise ValueError("a 'system' message may only come first")
    if not turns or turns[0].role != "user":
        raise ValueError("the first non-system message must be from 'user'")
    return messages


def content_id(messages: list[Message] | list[dict]) -> str:
    """Stable id of a conversation: sha256 of its canonical JSON (roles and contents), 16 hex characters."""
    plain = [m.model_dump() if isinstance(m, Message) else {"role": m["role"], "content": m["content"]} for m in messages]
    payload = json.dumps(plain, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


class _Record(_Model):
    """Conversions shared by the record types: validation with readable errors, Arrow rows."""

    json_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def validate_dict(cls, data: dict[str, Any], where: str | None = None):
        """Validate a plain dict; raise `RecordValidationError` naming the record, the field and the value."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise _readable(err, cls.__name__, data, where) from None

    def to_row(self) -> dict[str, Any]:
        row = self.model_dump(mode="python")
        for key in self.json_fields:
            row[key] = _encode_json(key, row.get(key))
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any], where: str | None = None):
        data = dict(row)
        for key in cls.json_fields:
            data[key] = _decode_json(key, data.get(key))
        return cls.validate_dict(data, where)


class SFTRecord(_Record):
    """A supervised fine-tuning conversation with its provenance and verification trail."""

    id: str = Field(min_length=1)
    messages: list[Message]
    source: Source
    task: TaskLabel | None = None
    difficulty: Difficulty | None = None
    language: str | None = None
    teacher: Teacher | None = None
    verification: list[Verification] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)

    json_fields: ClassVar[tuple[str, ...]] = ("meta",)

    @field_validator("messages")
    @classmethod
    def _check_messages(cls, value: list[Message]) -> list[Message]:
        return _check_turns(value)

    @model_validator(mode="after")
    def _has_assistant(self):
        if not any(m.role == "assistant" for m in self.messages):
            raise ValueError("messages: an SFT conversation needs at least one 'assistant' reply")
        return self

    @classmethod
    def create(cls, messages: list[dict] | list[Message], source: Source | dict, **fields) -> "SFTRecord":
        """Build a record whose `id` is the content hash of `messages`.

        Example:
            >>> r = SFTRecord.create([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
            ...                      source={"name": "demo"})
            >>> len(r.id)
            16
        """
        msgs = [m if isinstance(m, dict) else m.model_dump() for m in messages]
        return cls.validate_dict({"id": content_id(msgs), "messages": msgs, "source": source, **fields})


class RLRecord(_Record):
    """A verifiable prompt for GRPO: gold answer (math), tests (code) or constraints (instruction following)."""

    id: str = Field(min_length=1)
    prompt: list[Message]
    task: str = Field(min_length=1)
    answer: str | None = None
    tests: CodeTests | None = None
    constraints: Constraints | None = None
    difficulty: Literal["easy", "medium", "hard"] | None = None
    pass_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    source: Source | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    json_fields: ClassVar[tuple[str, ...]] = ("meta",)

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, value: list[Message]) -> list[Message]:
        return _check_turns(value)

    @model_validator(mode="after")
    def _has_target(self):
        if self.answer is None and self.tests is None and self.constraints is None:
            raise ValueError("an RL record needs something to verify against: 'answer', 'tests' or 'constraints'")
        if self.prompt[-1].role != "user":
            raise ValueError("prompt: the last message must be from 'user' (the model answers it)")
        return self

    def to_row(self) -> dict[str, Any]:
        row = super().to_row()
        if row.get("constraints") is not None:
            row["constraints"]["kwargs"] = [_encode_json("constraints.kwargs", k) for k in row["constraints"]["kwargs"]]
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any], where: str | None = None):
        data = dict(row)
        if data.get("constraints") is not None:
            c = dict(data["constraints"])
            c["kwargs"] = [_decode_json("constraints.kwargs", k) for k in c["kwargs"]]
            data["constraints"] = c
        data["meta"] = _decode_json("meta", data.get("meta"))
        return cls.validate_dict(data, where)

    @classmethod
    def create(cls, prompt: list[dict] | list[Message], task: str, **fields) -> "RLRecord":
        msgs = [m if isinstance(m, dict) else m.model_dump() for m in prompt]
        return cls.validate_dict({"id": content_id(msgs), "prompt": msgs, "task": task, **fields})


class RejectedRecord(_Record):
    """A record a stage dropped, kept whole with the stage and the reason."""

    id: str = Field(min_length=1)
    stage: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    detail: str = ""
    source: str | None = None
    record: dict[str, Any] = Field(default_factory=dict)

    json_fields: ClassVar[tuple[str, ...]] = ("record",)


# ---- Arrow / datasets.Features ---------------------------------------------------------------------------------
def _features():
    from datasets import Features, List, Value

    message = {"role": Value("string"), "content": Value("string")}
    source = {"name": Value("string"), "original_id": Value("string"), "license": Value("string")}
    sft = Features(
        {
            "id": Value("string"),
            "messages": List(message),
            "source": source,
            "task": {"label": Value("string"), "confidence": Value("float64")},
            "difficulty": {"level": Value("string"), "pass_rate": Value("float64"), "num_samples": Value("int64")},
            "language": Value("string"),
            "teacher": {
                "model": Value("string"),
                "revision": Value("string"),
                "backend": Value("string"),
                "sampling": {
                    "temperature": Value("float64"),
                    "top_p": Value("float64"),
                    "top_k": Value("int64"),
                    "max_tokens": Value("int64"),
                    "seed": Value("int64"),
                    "n": Value("int64"),
                    "enable_thinking": Value("bool"),
                },
            },
            "verification": List(
                {"verifier": Value("string"), "verdict": Value("string"), "score": Value("float64"), "detail": Value("string")}
            ),
            "meta": Value("string"),
        }
    )
    rl = Features(
        {
            "id": Value("string"),
            "prompt": List(message),
            "task": Value("string"),
            "answer": Value("string"),
            "tests": {
                "kind": Value("string"),
                "assert_code": Value("string"),
                "entry_point": Value("string"),
                "cases": List({"input": Value("string"), "output": Value("string")}),
            },
            "constraints": {"instruction_id_list": List(Value("string")), "kwargs": List(Value("string"))},
            "difficulty": Value("string"),
            "pass_rate": Value("float64"),
            "source": source,
            "meta": Value("string"),
        }
    )
    rejected = Features(
        {
            "id": Value("string"),
            "stage": Value("string"),
            "reason": Value("string"),
            "detail": Value("string"),
            "source": Value("string"),
            "record": Value("string"),
        }
    )
    return sft, rl, rejected


SFT_FEATURES, RL_FEATURES, REJECTED_FEATURES = _features()
RECORD_TYPES = {"sft": (SFTRecord, SFT_FEATURES), "rl": (RLRecord, RL_FEATURES), "rejected": (RejectedRecord, REJECTED_FEATURES)}


def arrow_schema(kind: Literal["sft", "rl", "rejected"]) -> pa.Schema:
    """The Arrow schema of a record kind, with the `datasets` feature metadata so `load_dataset` restores types."""
    return RECORD_TYPES[kind][1].arrow_schema


def to_table(records: list[_Record], kind: Literal["sft", "rl", "rejected"]) -> pa.Table:
    """Records -> an Arrow table with the kind's exact schema."""
    schema = arrow_schema(kind)
    return pa.Table.from_pylist([r.to_row() for r in records], schema=schema)


# ---- helpers ---------------------------------------------------------------------------------------------------
def _encode_json(field: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except TypeError as err:
        raise RecordValidationError(
            f"field {field!r} holds a value that is not JSON-serialisable: {err}",
            hint="keep free-form metadata to strings, numbers, booleans, lists and dicts",
        ) from None


def _decode_json(field: str, value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as err:
        raise RecordValidationError(f"field {field!r} is not valid JSON ({err}): {value[:80]!r}") from None


def _readable(err: ValidationError, kind: str, data: Any, where: str | None) -> RecordValidationError:
    rid = data.get("id") if isinstance(data, dict) else None
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(record)"
    value = first.get("input")
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    place = f"{where}: " if where else ""
    more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
    msg = first["msg"].removeprefix("Value error, ")
    return RecordValidationError(
        f"{place}{kind} {rid or '(no id)'}: field '{loc}': {msg} (got {shown}){more}",
        hint=f"fix field '{loc}' of that record; the {kind} schema is defined in nebula_hub/schema.py",
    )
