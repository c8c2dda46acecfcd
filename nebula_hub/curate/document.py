"""How a curation record travels through datatrove: one `Document` per record, the record in `doc.metadata`.

Every step (SFT and RL alike) reads and writes the same keys, so steps can be chained in any pipeline:

    doc.text                    the prompt text (user turns joined): what dedup and decontamination compare
    doc.id                      the record id (content hash of the messages once normalized)
    doc.metadata["messages"]    [{"role", "content"}, ...]: the conversation (SFT) or the prompt (RL)
    doc.metadata["source"]      {"name", "original_id", "license"}
    doc.metadata["reference"]   what a response is checked against: {"answer", "tests", "constraints", "choices"}
    doc.metadata["task"]        {"label", "confidence"}                 (classify)
    doc.metadata["candidates"]  [{"origin", "text", "finish_reason", ...}]   (distill -> cross-verify)
    doc.metadata["verification"], ["teacher"], ["difficulty"], ["language"], ["meta"]

A rejected document carries `metadata["filter_reason"]` (datatrove's convention) and `metadata["rejection_detail"]`.

Example:
    >>> doc = make_document([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
    ...                     source={"name": "demo", "original_id": "1", "license": "mit"})
    >>> doc.text, len(doc.id)
    ('2+2?', 16)
"""

from typing import Any

from datatrove.data import Document

from nebula_hub.schema import content_id


def prompt_text(messages: list[dict]) -> str:
    """The text dedup and decontamination look at: every user turn, joined by blank lines."""
    return "\n\n".join(m.get("content", "") for m in messages if m.get("role") == "user")


def make_document(
    messages: list[dict],
    source: dict,
    reference: dict | None = None,
    meta: dict | None = None,
    doc_id: str | None = None,
) -> Document:
    """Build a pipeline document for a record (id = content hash of the messages unless given)."""
    metadata = {"messages": messages, "source": source, "reference": reference or {}, "meta": meta or {}}
    return Document(text=prompt_text(messages), id=doc_id or content_id(messages), metadata=metadata)


def refresh(doc: Document) -> None:
    """Recompute `text` and `id` after the messages changed (normalization, a new response)."""
    doc.text = prompt_text(doc.metadata["messages"])
    doc.id = content_id(doc.metadata["messages"])


def reject(doc: Document, reason: str, detail: str = "") -> tuple[bool, str]:
    """Mark `doc` as rejected with a detail string; returns datatrove's `(False, reason)` filter result."""
    doc.metadata["rejection_detail"] = detail
    return False, reason


def last_assistant(messages: list[dict]) -> str | None:
    """The content of the final assistant message, or None."""
    for message in reversed(messages):
        if message.get("role") == "assistant":
            return message.get("content")
    return None


def prompt_messages(messages: list[dict]) -> list[dict]:
    """The conversation up to (not including) the final assistant message: what a model is asked to answer."""
    end = len(messages)
    while end and messages[end - 1].get("role") == "assistant":
        end -= 1
    return [dict(m) for m in messages[:end]]


def sft_row(doc: Document) -> dict[str, Any]:
    """The SFT record dict of a document (fields of `nebula_hub.schema.SFTRecord`)."""
    md = doc.metadata
    meta = dict(md.get("meta") or {})
    reference = {k: v for k, v in (md.get("reference") or {}).items() if v is not None}
    if reference:
        meta["reference"] = reference
    return {
        "id": doc.id,
        "messages": md.get("messages") or [],
        "source": md.get("source") or {"name": "unknown"},
        "task": md.get("task"),
        "difficulty": md.get("difficulty"),
        "language": md.get("language"),
        "teacher": md.get("teacher"),
        "verification": md.get("verification") or [],
        "meta": meta,
    }
