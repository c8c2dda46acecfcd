"""Normalize: unicode and whitespace, role order, and reasoning moved into a leading `<think>` block.

A conversation that cannot be normalized is rejected with one of these reasons:
`empty_content` (a user/assistant turn empty after cleaning), `bad_role_order` (system not first, not starting with
user, two user or two assistant turns in a row), `unknown_role`, `no_assistant_reply` (SFT records must end with an
assistant turn; `require_assistant=False` for RL prompts, which must end with a user turn instead),
`malformed_think` (unbalanced `<think>` tags), `too_many_turns`.

Example:
    >>> from nebula_hub.curate.document import make_document
    >>> doc = make_document([{"role": "user", "content": " Hi\\u00a0there \\r\\n"},
    ...                      {"role": "assistant", "content": "Hello", "reasoning": "greet back"}], {"name": "demo"})
    >>> NormalizeFilter().filter(doc)
    True
    >>> doc.metadata["messages"][1]["content"]
    '<think>\\ngreet back\\n</think>\\n\\nHello'
"""

import re
import unicodedata

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from nebula_hub.curate.document import refresh, reject


ROLES = ("system", "user", "assistant", "tool")
# C0/C1 control characters except tab and newline; zero-width and BOM characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]")
# Unicode spaces become plain spaces; runs of ASCII spaces are kept (code indentation and alignment live in them).
_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n{3,}")
# Reasoning wrappers other datasets use, turned into Qwen3's <think> tags.
_ALT_THINK = re.compile(r"<(?:reasoning|thinking|thought)>(.*?)</(?:reasoning|thinking|thought)>", re.S)
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.S)


def clean_text(text: str, form: str = "NFC") -> str:
    """Unicode normal form, no control characters, plain spaces, `\\n` line ends, no trailing or outer whitespace."""
    if form != "none":
        text = unicodedata.normalize(form, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    text = _BLANKS.sub("\n\n", text)
    return text.strip()


def split_reasoning(content: str, reasoning: str | None) -> tuple[str, bool]:
    """Return content with its reasoning as one leading `<think>` block; False when think tags are malformed."""
    content = _ALT_THINK.sub(lambda m: f"<think>{m.group(1)}</think>", content, count=1)
    if content.count("<think>") != content.count("</think>") or content.count("<think>") > 1:
        return content, False
    match = _THINK.match(content)
    if match is None and "<think>" in content:
        # a think block after the answer: move it to the front
        inner = re.search(r"<think>(.*?)</think>", content, re.S)
        if inner is None:
            return content, False
        answer = (content[: inner.start()] + content[inner.end() :]).strip()
        thought = inner.group(1).strip()
    elif match is not None:
        thought, answer = match.group(1).strip(), content[match.end() :].strip()
    else:
        thought, answer = "", content.strip()
    if reasoning:
        thought = f"{reasoning.strip()}\n{thought}".strip() if thought else reasoning.strip()
    if not thought:
        return answer, True
    return f"<think>\n{thought}\n</think>\n\n{answer}", True


class NormalizeFilter(BaseFilter):
    """Cleans every message and validates the conversation; rejects with the reasons listed in the module doc.

    Args:
        unicode_form (`str`, *optional*, defaults to `"NFC"`): `NFC`, `NFKC` or `none`.
        split_reasoning (`bool`, *optional*, defaults to `True`): move reasoning into a leading `<think>` block.
        require_assistant (`bool`, *optional*, defaults to `True`): SFT (ends with assistant) or RL (ends with user).
        max_turns (`int`, *optional*, defaults to 32).
        exclusion_writer (`DiskWriter`, *optional*): receives rejected documents.
    """

    name = "🧹 Normalize"

    def __init__(
        self,
        unicode_form: str = "NFC",
        split_reasoning: bool = True,
        require_assistant: bool = True,
        max_turns: int = 32,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.unicode_form = unicode_form
        self.split_reasoning = split_reasoning
        self.require_assistant = require_assistant
        self.max_turns = max_turns

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        messages = []
        for i, message in enumerate(doc.metadata.get("messages") or []):
            role = message.get("role")
            if role not in ROLES:
                return reject(doc, "unknown_role", f"message {i} has role {role!r}; expected one of {list(ROLES)}")
            content = clean_text(message.get("content") or "", self.unicode_form)
            reasoning = message.get("reasoning")
            if role == "assistant" and self.split_reasoning:
                reasoning = clean_text(reasoning, self.unicode_form) if reasoning else None
                content, ok = split_reasoning(content, reasoning)
                if not ok:
                    return reject(doc, "malformed_think", f"message {i}: unbalanced or repeated <think> tags")
            elif reasoning:
                content = f"<think>\n{clean_text(reasoning, self.unicode_form)}\n</think>\n\n{content}"
            answer = _THINK.sub("", content) if role == "assistant" else content
            if role in ("user", "assistant") and not answer.strip():
                return reject(doc, "empty_content", f"message {i} ({role}) is empty after normalization")
            messages.append({"role": role, "content": content})
        problem = self.check_roles(messages)
        if problem:
            return reject(doc, *problem)
        doc.metadata["messages"] = messages
        refresh(doc)
        return True

    def check_roles(self, messages: list[dict]) -> tuple[str, str] | None:
        if not messages:
            return "empty_content", "the conversation has no messages"
        if len(messages) > self.max_turns:
            return "too_many_turns", f"{len(messages)} messages > max_turns={self.max_turns}"
        roles = [m["role"] for m in messages]
        if "system" in roles[1:]:
            return "bad_role_order", f"a system message at position {roles.index('system', 1)}; only first is allowed"
        turns = [r for r in roles if r != "system"]
        if not turns or turns[0] != "user":
            return (
                "bad_role_order",
                f"the first non-system message is {turns[0] if turns else 'missing'!r}, not 'user'",
            )
        previous = None
        for i, role in enumerate(turns):
            if role == previous and role in ("user", "assistant"):
                return "bad_role_order", f"two {role!r} messages in a row (turn {i}): roles {turns}"
            previous = role
        if self.require_assistant and turns[-1] != "assistant":
            return (
                "no_assistant_reply",
                f"the conversation ends with {turns[-1]!r}; an SFT record needs an assistant reply",
            )
        if not self.require_assistant and turns[-1] != "user":
            return "bad_role_order", f"a prompt must end with a user message, it ends with {turns[-1]!r}"
        return None
