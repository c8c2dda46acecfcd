"""Read the chosen letter of a multiple-choice answer.

Written here because math-verify's `StringExtractionConfig` (the stack's nearest tool) takes the first capital
letter it meets ("A man walks..." reads as A) and misses "(C)"; this follows simple-evals' `Answer: X` convention,
then common phrasings, and takes the last statement of an answer, after any `<think>` block.

Example:
    >>> extract_choice("<think>maybe A</think>The capital is Paris.\\nAnswer: C")
    'C'
    >>> extract_choice("I am not sure.") is None
    True
"""

import re


_THINK = re.compile(r"<think>.*?</think>", re.S)


def _patterns(letters: str) -> list[re.Pattern]:
    group = f"[{letters}]"
    return [
        # "Answer: C", "**Answer:** (C)", "Final answer: $C$"
        re.compile(rf"(?i)answer\s*[:：]\s*[*$\\{{(\[\s]*(?:\\text\{{|\\boxed\{{)?\s*({group})\b"),
        # "the answer is (C)", "the correct option is C"
        re.compile(rf"(?i)(?:answer|option|choice)\s+is\s*[:：]?\s*[*$({{\[\s]*({group})\b"),
        # "\boxed{C}"
        re.compile(rf"\\boxed\{{\s*(?:\\text\{{)?\s*({group})\s*\}}"),
        # a line that is just the letter: "C", "(C)", "C)", "C."
        re.compile(rf"(?m)^\s*[*(\[]*({group})[)\].:]?[*]*\s*$"),
    ]


def extract_choice(response: str, letters: str = "ABCD") -> str | None:
    """The letter `response` settles on, or `None` (no answer, or cut off inside its reasoning).

    Example:
        >>> extract_choice("The answer is (B).")
        'B'
    """
    if not isinstance(response, str):
        return None
    if "<think>" in response and "</think>" not in response:
        return None
    text = _THINK.sub("", response)
    for pattern in _patterns(letters):
        found = pattern.findall(text)
        if found:
            return found[-1].upper()
    return None
