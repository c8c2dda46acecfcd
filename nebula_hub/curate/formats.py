"""Source row layouts -> one conversation plus what it can be checked against.

Five layouts are understood (`format:` in a source's config, or `auto` to guess from each row's keys):

| format             | keys (canonical names)                                  |
|--------------------|---------------------------------------------------------|
| `messages`         | `messages: [{role, content, reasoning_content?}]` (OpenAI) |
| `sharegpt`         | `conversations: [{from: human/gpt/system, value}]`      |
| `alpaca`           | `instruction`, `input` (optional), `output`             |
| `prompt_response`  | `prompt` (string or messages), `response`               |
| `problem_solution` | `problem`, `solution`, `answer` (optional gold)         |

Any layout may add `system`, `reasoning` (moved into `<think>` by normalize), `id`, `license`, and reference fields:
`answer` (math or multiple-choice gold), `tests` (code tests, `nebula_hub.schema.CodeTests` layout), `constraints`
(or IFEval's `instruction_id_list` + `kwargs`), `choices`. `fields` renames canonical names to a source's keys.

Example:
    >>> conv = row_to_conversation({"instruction": "Add 2 and 3.", "output": "5"}, "auto", {})
    >>> conv.messages
    [{'role': 'user', 'content': 'Add 2 and 3.'}, {'role': 'assistant', 'content': '5'}]
"""

from dataclasses import dataclass, field
from typing import Any


SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
    "tool": "tool",
}


class FormatError(Exception):
    """A row does not fit its layout; `reason` is the rejection reason, the message says which field and why."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Conversation:
    messages: list[dict[str, Any]]
    reference: dict[str, Any] = field(default_factory=dict)
    original_id: str | None = None
    license: str | None = None
    format: str = ""


def detect_format(row: dict, fields: dict[str, str]) -> str:
    """Guess a row's layout from its keys."""

    def has(name):
        return fields.get(name, name) in row

    for fmt, key in (
        ("messages", "messages"),
        ("sharegpt", "conversations"),
        ("alpaca", "instruction"),
        ("problem_solution", "problem"),
        ("prompt_response", "prompt"),
    ):
        if has(key):
            return fmt
    raise FormatError(
        "unknown_format",
        f"cannot tell the layout from keys {sorted(row)[:12]}; expected one of "
        "messages, conversations, instruction, problem, prompt (or set 'format' and 'fields')",
    )


def row_to_conversation(row: Any, fmt: str, fields: dict[str, str]) -> Conversation:
    """Convert one source row; raises `FormatError` naming the missing or mistyped field."""
    if not isinstance(row, dict):
        raise FormatError("not_an_object", f"a row must be a JSON object, got {type(row).__name__}")
    fmt = detect_format(row, fields) if fmt == "auto" else fmt

    def get(name, required=False, kind=None):
        key = fields.get(name, name)
        value = row.get(key)
        if value is None:
            if required:
                raise FormatError("missing_field", f"field {key!r} (canonical {name!r}) is missing for format {fmt!r}")
            return None
        if kind is not None and not isinstance(value, kind):
            raise FormatError(
                "wrong_type", f"field {key!r} should be {_kinds(kind)}, got {type(value).__name__} {_short(value)}"
            )
        return value

    if fmt == "messages":
        messages = _message_list(get("messages", True, list), "messages", "role", "content", None)
    elif fmt == "sharegpt":
        messages = _message_list(get("conversations", True, list), "conversations", "from", "value", SHAREGPT_ROLES)
    elif fmt == "alpaca":
        instruction = get("instruction", True, str)
        extra = get("input", kind=str)
        user = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": get("output", True, str)}]
    elif fmt == "prompt_response":
        prompt = get("prompt", True, (str, list))
        messages = (
            [{"role": "user", "content": prompt}]
            if isinstance(prompt, str)
            else _message_list(prompt, "prompt", "role", "content", None)
        )
        messages.append({"role": "assistant", "content": get("response", True, str)})
    elif fmt == "problem_solution":
        messages = [
            {"role": "user", "content": get("problem", True, str)},
            {"role": "assistant", "content": get("solution", True, str)},
        ]
    else:
        raise FormatError(
            "unknown_format",
            f"format {fmt!r} is not one of messages, sharegpt, alpaca, prompt_response, problem_solution",
        )

    system = get("system", kind=str)
    if system and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system})
    reasoning = get("reasoning", kind=str)
    if reasoning:
        for message in reversed(messages):
            if message["role"] == "assistant":
                message["reasoning"] = reasoning
                break

    reference = {}
    answer = get("answer", kind=(str, int, float))
    if answer is not None:
        reference["answer"] = str(answer)
    tests = get("tests", kind=(dict, str))
    if tests is not None:
        reference["tests"] = tests
    constraints = get("constraints", kind=(dict, list))
    if constraints is None and get("instruction_id_list") is not None:
        constraints = {
            "instruction_id_list": get("instruction_id_list", kind=list),
            "kwargs": get("kwargs", kind=list),
        }
    if constraints is not None:
        reference["constraints"] = constraints
    choices = get("choices", kind=list)
    if choices is not None:
        reference["choices"] = [str(c) for c in choices]
    original_id = get("id")
    license_ = get("license", kind=str)
    return Conversation(messages, reference, None if original_id is None else str(original_id), license_, fmt)


def _message_list(value: list, where: str, role_key: str, content_key: str, role_map: dict | None) -> list[dict]:
    messages = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise FormatError(
                "wrong_type", f"{where}[{i}] should be an object, got {type(item).__name__} {_short(item)}"
            )
        role = item.get(role_key)
        content = item.get(content_key)
        if not isinstance(role, str):
            raise FormatError(
                "missing_field" if role is None else "wrong_type",
                f"{where}[{i}].{role_key} should be a string, got {_short(role)}",
            )
        if role_map is not None:
            if role.lower() not in role_map:
                raise FormatError("unknown_role", f"{where}[{i}].{role_key} is {role!r}; known: {sorted(role_map)}")
            role = role_map[role.lower()]
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise FormatError(
                "wrong_type",
                f"{where}[{i}].{content_key} should be a string, got {type(content).__name__} {_short(content)}",
            )
        message = {"role": role, "content": content}
        if isinstance(item.get("reasoning_content"), str) and item["reasoning_content"]:
            message["reasoning"] = item["reasoning_content"]
        messages.append(message)
    return messages


def _kinds(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {"str": "a string", "list": "a list", "dict": "an object", "int": "a number", "float": "a number"}[k.__name__]
        for k in kinds
    )


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
