"""Read RL candidate sources into datatrove documents, one candidate per document.

Documents follow the keys every curation step shares (`nebula_hub.curate.document`): `text` is the prompt's user
text (what dedup and decontamination compare), `metadata["messages"]` the prompt, `metadata["reference"]` the
target (`answer`, `tests` in the verifiers' shape, `constraints`; code problems also `solutions`, reference programs
used to validate the tests and never published), `metadata["code_tests"]` the tests as the published `CodeTests`,
`metadata["task"]["label"]` the task, `metadata["source"]` and `metadata["meta"]`.
RL rows are prompts with a target and no response, so the SFT ingest's reader (files, Hub datasets, bad-row
handling) is reused with its row conversion swapped for `candidate_from_row`. Rows that cannot become a candidate
(broken JSON, no prompt, wrong types, malformed tests) are rejected at stage `ingest` with the reason; the prompt
text is then cleaned by the SFT `NormalizeFilter(require_assistant=False)`.

    reader = RLSourceReader(cfg.sources, exclusion_writer=RejectedWriter(work_dir, stage="ingest"))
    for doc in reader.run(None, rank=0, world_size=1): ...
"""

from typing import Any

from datatrove.data import Document
from pydantic import ValidationError

from nebula_hub.curate.document import prompt_text
from nebula_hub.curate.formats import FormatError
from nebula_hub.curate.ingest import SourceReader
from nebula_hub.curate.rl_code_tests import verifier_tests
from nebula_hub.curate.rl_config import RLSourceConfig
from nebula_hub.schema import CodeTests, content_id


PROMPT_KEYS = ("prompt", "problem", "question", "instruction", "messages")


def _get(row: dict, src: RLSourceConfig, key: str, default: Any = None) -> Any:
    return row.get(src.fields.get(key, key), default)


def _prompt_messages(row: dict, src: RLSourceConfig) -> list[dict]:
    keys = [src.fields["prompt"]] if "prompt" in src.fields else list(PROMPT_KEYS)
    for key in keys:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return [{"role": "user", "content": value}]
        if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
            messages = [{"role": m.get("role"), "content": m.get("content")} for m in value]
            if any(not isinstance(m["role"], str) or not isinstance(m["content"], str) for m in messages):
                raise FormatError("wrong_type", f"field {key!r}: every message needs a string 'role' and 'content'")
            return messages
        raise FormatError("wrong_type", f"field {key!r} should be a string or a list of messages, got {value!r:.60}")
    raise FormatError("missing_field", f"no prompt: none of the keys {keys} is present (keys: {sorted(row)[:8]})")


def candidate_from_row(row: dict, src: RLSourceConfig, where: str) -> Document:
    """A source row -> a candidate document (shared keys of `nebula_hub.curate.document`); raises `FormatError`.

    Example:
        >>> src = RLSourceConfig(name="demo", path="x.jsonl", task="math")
        >>> doc = candidate_from_row({"id": "7", "problem": "1+1?", "answer": "2"}, src, "x.jsonl:1")
        >>> doc.metadata["reference"]["answer"], doc.metadata["source"]["original_id"]
        ('2', '7')
    """
    if not isinstance(row, dict):
        raise FormatError("not_an_object", f"a row must be a JSON object, got {type(row).__name__}")
    prompt = _prompt_messages(row, src)
    original_id = _get(row, src, "id")
    source = {
        "name": src.name,
        "original_id": str(original_id) if original_id is not None else where,
        "license": _get(row, src, "license") or src.license,
    }
    reference: dict[str, Any] = {}
    meta: dict[str, Any] = {"location": where}
    code_tests_row = None
    if src.task == "math":
        answer = _get(row, src, "answer")
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            raise FormatError("missing_field", f"math problem without a gold {src.fields.get('answer', 'answer')!r}")
        if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
            raise FormatError("wrong_type", f"gold answer should be a string or a number, got {answer!r:.60}")
        reference["answer"] = str(answer)
    elif src.task == "code":
        tests = _get(row, src, "tests")
        if not isinstance(tests, dict):
            raise FormatError("missing_field" if tests is None else "wrong_type",
                              f"code problem needs 'tests' as an object, got {tests!r:.60}")
        try:
            code_tests = CodeTests.model_validate(tests).model_dump()
            # the verifiers' shape for every check on the way; the published `tests` column keeps the schema's
            reference["tests"] = verifier_tests(code_tests)
        except ValidationError as err:
            first = err.errors()[0]
            raise FormatError("invalid_tests", f"tests.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        except ValueError as err:
            raise FormatError("invalid_tests", str(err)) from None
        code_tests_row = code_tests
        sols = _get(row, src, "solutions")
        if sols is None:
            sols = [_get(row, src, "solution")] if _get(row, src, "solution") else []
        if not isinstance(sols, list) or not all(isinstance(x, str) for x in sols):
            raise FormatError("wrong_type", "'solutions' should be a list of program strings")
        reference["solutions"] = sols
    else:
        constraints = _get(row, src, "constraints")
        if _get(row, src, "instruction_id_list") is not None:
            constraints = {"instruction_id_list": _get(row, src, "instruction_id_list"), "kwargs": _get(row, src, "kwargs")}
        if constraints is not None:
            reference["constraints"] = constraints
        else:
            meta["if_seed"] = True  # a seed prompt: IFConstraintsStep generates its constraints
    return Document(
        text=prompt_text(prompt),
        id=content_id(prompt),
        metadata={
            "messages": prompt,
            "source": source,
            "reference": reference,
            "task": {"label": src.task, "confidence": 1.0},
            "meta": meta,
            "code_tests": code_tests_row,
        },
    )


def rl_row(doc: Document) -> dict[str, Any]:
    """The `RLRecord` dict of a candidate document (reference solutions stay out: they are not published)."""
    md = doc.metadata
    ref = md.get("reference") or {}
    grade = md.get("difficulty") or {}
    return {
        "id": doc.id,
        "prompt": md["messages"],
        "task": md["task"]["label"],
        "answer": ref.get("answer"),
        "tests": md.get("code_tests"),
        "constraints": ref.get("constraints"),
        "difficulty": grade.get("level"),
        "pass_rate": grade.get("pass_rate"),
        "source": md["source"],
        "meta": md.get("meta") or {},
    }


class RLSourceReader(SourceReader):
    """The SFT ingest reader (local JSONL/Parquet, Hub datasets; bad rows rejected at stage `ingest` with file, line
    and reason) with RL rows turned into candidate documents instead of conversations.

    Args:
        sources (`list[RLSourceConfig]`): the candidate sources (each with its `task`).
        max_record_bytes (`int`, *optional*, defaults to 1,000,000): larger rows are rejected unparsed.
        exclusion_writer (`DiskWriter`, *optional*): receives rejected rows (`RejectedWriter(work, "ingest")`).
    """

    name = "🧾 RL sources"

    def _to_document(self, source, item) -> Document:
        where, _position, row, error = item
        if error is None:
            try:
                doc = candidate_from_row(row, source, where)
            except FormatError as err:
                item = (where, _position, row, (err.reason, str(err)))
            else:
                self.stat_update(f"read_{source.task}")
                return doc
        return super()._to_document(source, item)
