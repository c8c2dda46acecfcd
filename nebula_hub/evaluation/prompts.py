"""Per-benchmark prompt templates, versioned by id: the id is recorded next to every score, so a changed wording is
a new id (`_v2`), never an edit of an existing one.

Example:
    >>> from nebula_hub.evaluation.prompts import render_prompt
    >>> render_prompt("math_boxed_v1", {"problem": "1+1?"})[0]["content"].splitlines()[0]
    '1+1?'
"""

import string
from dataclasses import dataclass

from nebula_hub.errors import NebulaError


@dataclass(frozen=True)
class PromptTemplate:
    """A user message built with `str.format` from a sample's inputs, and an optional system message."""

    id: str
    user: str
    system: str | None = None

    def fields(self) -> list[str]:
        return [name for _, name, _, _ in string.Formatter().parse(self.user) if name]

    def render(self, inputs: dict) -> list[dict[str, str]]:
        missing = [name for name in self.fields() if name not in inputs]
        if missing:
            raise NebulaError(
                f"prompt template {self.id!r} needs field(s) {missing} but the sample has {sorted(inputs)}",
                hint="map the dataset's columns to these names (BenchmarkSpec.fields) or choose another template",
            )
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": self.user.format(**inputs)})
        return messages


TEMPLATES: dict[str, PromptTemplate] = {
    t.id: t
    for t in (
        # IFEval's prompts already carry their instructions: send them as they are.
        PromptTemplate("ifeval_v1", "{prompt}"),
        # The Qwen/DeepSeek math prompt; the verifier reads the last \boxed{} (or the last expression).
        PromptTemplate(
            "math_boxed_v1", "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."
        ),
        PromptTemplate(
            "code_complete_v1",
            "Complete the following Python function. Reply with the complete function (signature included) in one "
            "```python code block.\n\n```python\n{prompt}```",
        ),
        PromptTemplate(
            "code_mbpp_v1",
            "{text}\nYour code should pass these tests:\n\n{tests}\n\nReply with the Python code in one ```python "
            "code block.",
        ),
        # simple-evals' multiple-choice wording: the last line names the letter.
        PromptTemplate(
            "multiple_choice_v1",
            "Answer the following multiple choice question. The last line of your response should be of the form "
            "'Answer: $LETTER' (without quotes) where LETTER is one of {letters}.\n\n{question}\n\n{options}",
        ),
    )
}


def get_template(template_id: str) -> PromptTemplate:
    """The template with this id.

    Example:
        >>> get_template("ifeval_v1").fields()
        ['prompt']
    """
    if template_id not in TEMPLATES:
        raise NebulaError(f"unknown prompt template {template_id!r}", hint="choose among: " + ", ".join(TEMPLATES))
    return TEMPLATES[template_id]


def render_prompt(template_id: str, inputs: dict) -> list[dict[str, str]]:
    """The chat messages for one sample.

    Example:
        >>> render_prompt("ifeval_v1", {"prompt": "Say hi."})
        [{'role': 'user', 'content': 'Say hi.'}]
    """
    return get_template(template_id).render(inputs)
