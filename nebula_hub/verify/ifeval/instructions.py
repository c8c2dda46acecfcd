"""IFEval's verifiable instructions: one class per instruction id, with its kwargs, its text and its checker.

Behaviour follows Google's reference implementation (google-research `instruction_following_eval/instructions.py`,
newest version) instruction by instruction, including its quirks, because published IFEval scores are computed with
it: keywords are matched as regular expressions, `keywords:letter_frequency` counts the given character even when it
is not a letter, a highlighted section may be `*x*` or `**x**`, and an undetectable language counts as followed.

Where the reference silently draws a random value for a missing or out-of-range kwarg, these classes refuse it with
an `InvalidConstraintError` naming the instruction and the kwarg: a verifier must not judge against a constraint it
made up. Random values come only from `sample_kwargs`, which the constraint generator calls.

Example:
    >>> from nebula_hub.verify.ifeval.instructions import get_instruction
    >>> inst = get_instruction("length_constraints:number_words", {"num_words": 3, "relation": "at least"})
    >>> inst.description(), inst.check("one two three"), inst.check("one two")
    ('Answer with at least 3 words.', True, False)
"""

import collections
import json
import random
import re
import string
from dataclasses import dataclass
from typing import Any, ClassVar

from nebula_hub.errors import NebulaError
from nebula_hub.verify.ifeval import text as T
from nebula_hub.verify.ifeval.words import KEYWORDS


RELATIONS = ("less than", "at least")
CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
STARTER_OPTIONS = (
    "I would say", "My answer is", "I believe", "In my opinion", "I think", "I reckon", "I feel",
    "From my perspective", "As I see it", "According to me", "As far as I'm concerned", "To my understanding",
    "In my view", "My take on it is", "As per my perception",
)  # fmt: skip
ENDING_OPTIONS = ("Any other questions?", "Is there anything else I can help with?")
SECTION_SPLITTERS = ("Section", "SECTION")
POSTSCRIPT_MARKERS = ("P.S.", "P.P.S")

# Ranges the reference draws from when it builds an instruction without arguments.
_MAX_SENTENCES = 20
_MAX_PLACEHOLDERS = 4
_MAX_BULLETS = 5
_MAX_HIGHLIGHTS = 4
_MAX_SECTIONS = 5
_MAX_PARAGRAPHS = 5
_MAX_KEYWORD_FREQUENCY = 3
_MAX_LETTER_FREQUENCY = 10
_MAX_CAPITAL_WORDS = 20
_WORDS_RANGE = (100, 500)


class InvalidConstraintError(NebulaError):
    """An instruction id is unknown or its kwargs are missing, unexpected or out of range."""


@dataclass(frozen=True)
class Param:
    """One kwarg of an instruction: `kind` is `int`, `relation`, `text`, `char`, `texts` or `language`."""

    name: str
    kind: str
    help: str
    minimum: int = 0


def _fragment(text: str) -> str:
    # The reference passes keywords, markers and starters to `re` unescaped, and scores depend on it ("c.t" matches
    # "cat"); one that is not a valid pattern would crash it, so such a text is matched literally instead.
    try:
        re.compile(text)
    except re.error:
        return re.escape(text)
    return text


def _pattern(text: str) -> re.Pattern:
    return re.compile(_fragment(text), re.IGNORECASE)


def _compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == "less than" else count >= threshold


def _relation_and_threshold(rng: random.Random, low: int, high: int) -> tuple[str, int]:
    relation = rng.choice(RELATIONS)
    # "less than 1 sentence" can never be followed; keep sampled constraints satisfiable.
    return relation, rng.randint(max(low, 2) if relation == "less than" else low, high)


class Instruction:
    """Base class: `Instruction(**kwargs)` validates the kwargs; `check(response)` says whether it is followed.

    Subclasses set `id`, `params` and implement `description`, `check` and (for the generator) `sample_kwargs`.
    """

    id: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    # Registered instructions are IFEval's 25; the others exist in the reference but are not part of the benchmark.
    in_ifeval: ClassVar[bool] = True

    def __init__(self, **kwargs: Any):
        known = {p.name: p for p in self.params}
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            accepted = ", ".join(known) or "no kwargs"
            raise InvalidConstraintError(
                f"instruction {self.id!r}: unexpected kwarg {unknown[0]!r} (value {kwargs[unknown[0]]!r})",
                hint=f"{self.id} accepts {accepted}",
            )
        self.kwargs: dict[str, Any] = {}
        for param in self.params:
            if param.name not in kwargs:
                raise InvalidConstraintError(
                    f"instruction {self.id!r}: missing kwarg {param.name!r} ({param.help})",
                    hint=f"give {self.id} all of: {', '.join(known)}",
                )
            self.kwargs[param.name] = self._convert(param, kwargs[param.name])
        self._setup()

    def _convert(self, param: Param, value: Any) -> Any:
        def bad(expected: str):
            return InvalidConstraintError(
                f"instruction {self.id!r}: kwarg {param.name!r} must be {expected}, got {value!r}",
                hint=f"{param.name}: {param.help}",
            )

        if param.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < param.minimum:
                raise bad(f"an integer >= {param.minimum}")
            return value
        if param.kind == "relation":
            if value not in RELATIONS:
                raise bad(f"one of {list(RELATIONS)}")
            return value
        if param.kind == "language":
            if value not in T.LANGUAGE_CODES:
                raise bad(f"an ISO 639-1 code among {sorted(T.LANGUAGE_CODES)}")
            return value
        if param.kind == "char":
            if not isinstance(value, str) or len(value) != 1 or not value.strip():
                raise bad("a single non-space character")
            return value
        if param.kind == "text":
            if not isinstance(value, str) or not value.strip():
                raise bad("a non-empty string")
            return value
        if param.kind == "texts":
            if (
                isinstance(value, str)
                or not isinstance(value, (list, tuple))
                or not value
                or not all(isinstance(v, str) and v.strip() for v in value)
            ):
                raise bad("a non-empty list of non-empty strings")
            return list(value)
        raise AssertionError(f"unknown param kind {param.kind}")

    def _setup(self) -> None:
        """Normalise kwargs the way the reference's `build_description` does (strip, lower, sort)."""

    def args(self) -> dict[str, Any]:
        """The normalised kwargs (what the reference's `get_instruction_args` returns), `{}` when it has none."""
        return dict(self.kwargs)

    def description(self) -> str:
        raise NotImplementedError

    def check(self, response: str) -> bool:
        raise NotImplementedError

    @classmethod
    def sample_kwargs(cls, rng: random.Random, prompt: str | None = None) -> dict[str, Any]:
        """Random valid kwargs, drawn from the reference's ranges."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, {self.kwargs!r})"


# --- keywords -------------------------------------------------------------------------------------------------------


class KeywordExistence(Instruction):
    id = "keywords:existence"
    params = (Param("keywords", "texts", "words that must all appear (case-insensitive)"),)

    def _setup(self):
        self.kwargs["keywords"] = sorted(self.kwargs["keywords"])

    def description(self):
        return f"Include keywords {self.kwargs['keywords']} in the response."

    def check(self, response):
        return all(_pattern(k).search(response) for k in self.kwargs["keywords"])

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"keywords": rng.sample(KEYWORDS, k=2)}


class KeywordFrequency(Instruction):
    id = "keywords:frequency"
    params = (
        Param("keyword", "text", "the word to count (case-insensitive)"),
        Param("frequency", "int", "the threshold number of occurrences"),
        Param("relation", "relation", "'less than' or 'at least' the frequency"),
    )

    def _setup(self):
        self.kwargs["keyword"] = self.kwargs["keyword"].strip()

    def description(self):
        k = self.kwargs
        return f"In your response, the word {k['keyword']} should appear {k['relation']} {k['frequency']} times."

    def check(self, response):
        count = len(_pattern(self.kwargs["keyword"]).findall(response))
        return _compare(count, self.kwargs["relation"], self.kwargs["frequency"])

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        relation, frequency = _relation_and_threshold(rng, 1, _MAX_KEYWORD_FREQUENCY)
        return {"keyword": rng.choice(KEYWORDS), "frequency": frequency, "relation": relation}


class ForbiddenWords(Instruction):
    id = "keywords:forbidden_words"
    params = (Param("forbidden_words", "texts", "words that must not appear as whole words (case-insensitive)"),)

    def _setup(self):
        self.kwargs["forbidden_words"] = sorted(set(self.kwargs["forbidden_words"]))

    def description(self):
        return f"Do not include keywords {self.kwargs['forbidden_words']} in the response."

    def check(self, response):
        return not any(_pattern(r"\b" + _fragment(w) + r"\b").search(response) for w in self.kwargs["forbidden_words"])

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"forbidden_words": rng.sample(KEYWORDS, k=2)}


class LetterFrequency(Instruction):
    id = "keywords:letter_frequency"
    params = (
        Param("letter", "char", "the character to count (case-insensitive; any character is counted as given)"),
        Param("let_frequency", "int", "the threshold number of occurrences"),
        Param("let_relation", "relation", "'less than' or 'at least' the frequency"),
    )

    def _setup(self):
        self.kwargs["letter"] = self.kwargs["letter"].lower()

    def description(self):
        k = self.kwargs
        return (
            f"In your response, the letter {k['letter']} should appear {k['let_relation']} {k['let_frequency']} times."
        )

    def check(self, response):
        count = collections.Counter(response.lower())[self.kwargs["letter"]]
        return _compare(count, self.kwargs["let_relation"], self.kwargs["let_frequency"])

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        relation, frequency = _relation_and_threshold(rng, 1, _MAX_LETTER_FREQUENCY)
        return {"letter": rng.choice(string.ascii_lowercase), "let_frequency": frequency, "let_relation": relation}


# --- language and case ----------------------------------------------------------------------------------------------


class ResponseLanguage(Instruction):
    id = "language:response_language"
    params = (Param("language", "language", "ISO 639-1 code of the language the whole response must be in"),)

    def description(self):
        name = T.LANGUAGE_CODES[self.kwargs["language"]]
        return f"Your ENTIRE response should be in {name} language, no other language is allowed."

    def check(self, response):
        detected = T.detect_language(response)
        return detected is None or detected == self.kwargs["language"]  # undetectable counts as followed

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"language": rng.choice(sorted(T.LANGUAGE_CODES))}


class EnglishCapital(Instruction):
    id = "change_case:english_capital"

    def description(self):
        return "Your entire response should be in English, and in all capital letters."

    def check(self, response):
        if not response.isupper():
            return False
        detected = T.detect_language(response)
        return detected is None or detected == "en"


class EnglishLowercase(Instruction):
    id = "change_case:english_lowercase"

    def description(self):
        return (
            "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed."
        )

    def check(self, response):
        if not response.islower():
            return False
        detected = T.detect_language(response)
        return detected is None or detected == "en"


class CapitalWordFrequency(Instruction):
    id = "change_case:capital_word_frequency"
    params = (
        Param("capital_frequency", "int", "the threshold number of all-capital words"),
        Param("capital_relation", "relation", "'less than' or 'at least' the frequency"),
    )

    def description(self):
        k = self.kwargs
        return (
            f"In your response, words with all capital letters should appear {k['capital_relation']} "
            f"{k['capital_frequency']} times."
        )

    def check(self, response):
        count = sum(1 for word in T.word_tokenize(response) if word.isupper())
        return _compare(count, self.kwargs["capital_relation"], self.kwargs["capital_frequency"])

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        relation, frequency = _relation_and_threshold(rng, 1, _MAX_CAPITAL_WORDS)
        return {"capital_frequency": frequency, "capital_relation": relation}


# --- length ---------------------------------------------------------------------------------------------------------


class NumberOfSentences(Instruction):
    id = "length_constraints:number_sentences"
    params = (
        Param("num_sentences", "int", "the threshold number of sentences (Punkt's count)"),
        Param("relation", "relation", "'less than' or 'at least' the number"),
    )

    def description(self):
        return f"Your response should contain {self.kwargs['relation']} {self.kwargs['num_sentences']} sentences."

    def check(self, response):
        return _compare(T.count_sentences(response), self.kwargs["relation"], self.kwargs["num_sentences"])

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        relation, num = _relation_and_threshold(rng, 1, _MAX_SENTENCES)
        return {"num_sentences": num, "relation": relation}


class NumberOfWords(Instruction):
    id = "length_constraints:number_words"
    params = (
        Param("num_words", "int", "the threshold number of words (runs of \\w)"),
        Param("relation", "relation", "'less than' or 'at least' the number"),
    )

    def description(self):
        return f"Answer with {self.kwargs['relation']} {self.kwargs['num_words']} words."

    def check(self, response):
        return _compare(T.count_words(response), self.kwargs["relation"], self.kwargs["num_words"])

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        relation, num = _relation_and_threshold(rng, *_WORDS_RANGE)
        return {"num_words": num, "relation": relation}


class NumberOfParagraphs(Instruction):
    id = "length_constraints:number_paragraphs"
    params = (Param("num_paragraphs", "int", "the exact number of paragraphs separated by ***"),)

    def description(self):
        return (
            f"There should be {self.kwargs['num_paragraphs']} paragraphs. "
            "Paragraphs are separated with the markdown divider: ***"
        )

    def check(self, response):
        paragraphs = re.split(r"\s?\*\*\*\s?", response)
        count = len(paragraphs)
        for index, paragraph in enumerate(paragraphs):
            if not paragraph.strip():
                if index in (0, len(paragraphs) - 1):
                    count -= 1  # a divider at the very start or end does not open a paragraph
                else:
                    return False  # two dividers in a row: an empty paragraph
        return count == self.kwargs["num_paragraphs"]

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"num_paragraphs": rng.randint(1, _MAX_PARAGRAPHS)}


class NthParagraphFirstWord(Instruction):
    id = "length_constraints:nth_paragraph_first_word"
    params = (
        Param("num_paragraphs", "int", "the exact number of paragraphs separated by blank lines", minimum=1),
        Param("nth_paragraph", "int", "which paragraph (1-based, at most num_paragraphs) must start with the word",
              minimum=1),
        Param("first_word", "text", "the word that paragraph must start with (case-insensitive)"),
    )  # fmt: skip

    def _setup(self):
        k = self.kwargs
        if k["nth_paragraph"] > k["num_paragraphs"]:
            raise InvalidConstraintError(
                f"instruction {self.id!r}: kwarg 'nth_paragraph' ({k['nth_paragraph']}) is larger than "
                f"'num_paragraphs' ({k['num_paragraphs']})",
                hint="nth_paragraph counts from 1 and must be at most num_paragraphs",
            )
        k["first_word"] = k["first_word"].lower()

    def description(self):
        k = self.kwargs
        return (
            f"There should be {k['num_paragraphs']} paragraphs. Paragraphs and only paragraphs are separated with "
            "each other by two new lines as if it was '\\n\\n' in python. "
            f"Paragraph {k['nth_paragraph']} must start with word {k['first_word']}."
        )

    def check(self, response):
        paragraphs = re.split(r"\n\n", response)
        count = sum(1 for p in paragraphs if p.strip())
        nth = self.kwargs["nth_paragraph"]
        # The reference indexes the raw split (empty pieces included) with a count that excludes them.
        if nth > count:
            return False
        paragraph = paragraphs[nth - 1].strip()
        if not paragraph:
            return False
        word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
        first_word = ""
        for char in word:
            if char in {".", ",", "?", "!", "'", '"'}:
                break
            first_word += char.lower()
        return count == self.kwargs["num_paragraphs"] and first_word == self.kwargs["first_word"]

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        num = rng.randint(1, _MAX_PARAGRAPHS)
        return {"num_paragraphs": num, "nth_paragraph": rng.randint(1, num), "first_word": rng.choice(KEYWORDS)}


# --- content --------------------------------------------------------------------------------------------------------


class Placeholders(Instruction):
    id = "detectable_content:number_placeholders"
    params = (Param("num_placeholders", "int", "the minimum number of [placeholders] in square brackets"),)

    def description(self):
        return (
            f"The response must contain at least {self.kwargs['num_placeholders']} placeholders represented by "
            "square brackets, such as [address]."
        )

    def check(self, response):
        return len(re.findall(r"\[.*?\]", response)) >= self.kwargs["num_placeholders"]

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"num_placeholders": rng.randint(1, _MAX_PLACEHOLDERS)}


class Postscript(Instruction):
    id = "detectable_content:postscript"
    params = (Param("postscript_marker", "text", "the marker that opens the postscript, e.g. 'P.S.' or 'P.P.S'"),)

    def _setup(self):
        self.kwargs["postscript_marker"] = self.kwargs["postscript_marker"].strip()

    def description(self):
        return (
            "At the end of your response, please explicitly add a postscript starting with "
            f"{self.kwargs['postscript_marker']}"
        )

    def check(self, response):
        marker = self.kwargs["postscript_marker"]
        if marker == "P.P.S":
            pattern = r"\s*p\.\s?p\.\s?s.*$"
        elif marker == "P.S.":
            pattern = r"\s*p\.\s?s\..*$"
        else:
            pattern = r"\s*" + _fragment(marker.lower()) + r".*$"
        return bool(re.findall(pattern, response.lower(), flags=re.MULTILINE))

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"postscript_marker": rng.choice(POSTSCRIPT_MARKERS)}


# --- format ---------------------------------------------------------------------------------------------------------


class BulletLists(Instruction):
    id = "detectable_format:number_bullet_lists"
    params = (Param("num_bullets", "int", "the exact number of markdown bullet points (* or -)"),)

    def description(self):
        return (
            f"Your answer must contain exactly {self.kwargs['num_bullets']} bullet points. "
            "Use the markdown bullet points such as:\n* This is point 1. \n* This is point 2"
        )

    def check(self, response):
        stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
        dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
        return len(stars) + len(dashes) == self.kwargs["num_bullets"]

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"num_bullets": rng.randint(1, _MAX_BULLETS)}


class ConstrainedResponse(Instruction):
    id = "detectable_format:constrained_response"

    def description(self):
        return f"Answer with one of the following options: {CONSTRAINED_RESPONSE_OPTIONS}"

    def check(self, response):
        response = response.strip()
        return any(option in response for option in CONSTRAINED_RESPONSE_OPTIONS)


class HighlightedSections(Instruction):
    id = "detectable_format:number_highlighted_sections"
    params = (Param("num_highlights", "int", "the minimum number of *highlighted* sections"),)

    def description(self):
        return (
            f"Highlight at least {self.kwargs['num_highlights']} sections in your answer with markdown, "
            "i.e. *highlighted section*."
        )

    def check(self, response):
        count = sum(1 for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip())
        count += sum(
            1 for h in re.findall(r"\*\*[^\n\*]*\*\*", response) if h.removeprefix("**").removesuffix("**").strip()
        )
        return count >= self.kwargs["num_highlights"]

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"num_highlights": rng.randint(1, _MAX_HIGHLIGHTS)}


class MultipleSections(Instruction):
    id = "detectable_format:multiple_sections"
    params = (
        Param("section_spliter", "text", "the word that opens each section, followed by its number, e.g. 'Section'"),
        Param("num_sections", "int", "the minimum number of sections"),
    )

    def _setup(self):
        self.kwargs["section_spliter"] = self.kwargs["section_spliter"].strip()

    def description(self):
        k = self.kwargs
        s = k["section_spliter"]
        return (
            f"Your response must have {k['num_sections']} sections. Mark the beginning of each section with {s} X, "
            f"such as:\n{s} 1\n[content of section 1]\n{s} 2\n[content of section 2]"
        )

    def check(self, response):
        sections = re.split(r"\s?" + _fragment(self.kwargs["section_spliter"]) + r"\s?\d+\s?", response)
        return len(sections) - 1 >= self.kwargs["num_sections"]

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"section_spliter": rng.choice(SECTION_SPLITTERS), "num_sections": rng.randint(1, _MAX_SECTIONS)}


class JsonFormat(Instruction):
    id = "detectable_format:json_format"

    def description(self):
        return "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```."

    def check(self, response):
        value = response.strip()
        for fence in ("```json", "```Json", "```JSON", "```"):
            value = value.removeprefix(fence)
        value = value.removesuffix("```").strip()
        try:
            json.loads(value)
        except (ValueError, RecursionError):
            return False
        return True


class Title(Instruction):
    id = "detectable_format:title"

    def description(self):
        return "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>."

    def check(self, response):
        return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response))


# --- combination, start/end, punctuation ----------------------------------------------------------------------------


class TwoResponses(Instruction):
    id = "combination:two_responses"

    def description(self):
        return "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******."

    def check(self, response):
        parts = response.split("******")
        valid = []
        for index, part in enumerate(parts):
            if part.strip():
                valid.append(part)
            elif index not in (0, len(parts) - 1):
                return False
        return len(valid) == 2 and valid[0].strip() != valid[1].strip()


class RepeatPrompt(Instruction):
    id = "combination:repeat_prompt"
    params = (Param("prompt_to_repeat", "text", "the request the response must start by repeating word for word"),)

    def description(self):
        return (
            "First repeat the request word for word without change, then give your answer (1. do not say any words "
            "or characters before repeating the request; 2. the request you need to repeat does not include this "
            "sentence)"
        )

    def check(self, response):
        return response.strip().lower().startswith(self.kwargs["prompt_to_repeat"].strip().lower())

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        if not prompt:
            raise InvalidConstraintError(
                f"instruction {cls.id!r} needs the prompt to repeat", hint="pass prompt= to sample it"
            )
        return {"prompt_to_repeat": prompt}


class EndPhrase(Instruction):
    id = "startend:end_checker"
    params = (Param("end_phrase", "text", "the exact phrase the response must end with (case-insensitive)"),)

    def _setup(self):
        self.kwargs["end_phrase"] = self.kwargs["end_phrase"].strip()

    def description(self):
        return (
            f"Finish your response with this exact phrase {self.kwargs['end_phrase']}. "
            "No other words should follow this phrase."
        )

    def check(self, response):
        return response.strip().strip('"').lower().endswith(self.kwargs["end_phrase"].lower())

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"end_phrase": rng.choice(ENDING_OPTIONS)}


class Quotation(Instruction):
    id = "startend:quotation"

    def description(self):
        return "Wrap your entire response with double quotation marks."

    def check(self, response):
        value = response.strip()
        return len(value) > 1 and value[0] == '"' and value[-1] == '"'


class NoComma(Instruction):
    id = "punctuation:no_comma"

    def description(self):
        return "In your entire response, refrain from the use of any commas."

    def check(self, response):
        return "," not in response


# --- in the reference but not in IFEval (its registry lines are commented out) -----------------------------------


class KeySentences(Instruction):
    id = "keywords:key_sentences"
    in_ifeval = False
    params = (
        Param("key_sentences", "texts", "sentences to look for"),
        Param("num_sentences", "int", "how many of them must appear exactly", minimum=1),
    )

    def description(self):
        k = self.kwargs
        return f"Include {k['num_sentences']} of the following sentences {k['key_sentences']}"

    def check(self, response):
        sentences = T.split_into_sentences(response)
        return sum(1 for s in self.kwargs["key_sentences"] if s in sentences) == self.kwargs["num_sentences"]


class Rephrase(Instruction):
    id = "detectable_format:rephrase"
    in_ifeval = False
    params = (Param("original_message", "text", "the message to rephrase, with the part to change in *asterisks*"),)

    def _setup(self):
        if not re.search(r"\*.*\*", self.kwargs["original_message"]):
            raise InvalidConstraintError(
                f"instruction {self.id!r}: kwarg 'original_message' has no change marked as *change me*: "
                f"{self.kwargs['original_message']!r}",
                hint="wrap the part to rephrase in asterisks",
            )

    def description(self):
        return (
            "Rephrasing: Your rephrased response should only change the words/sentences in between two asterisks "
            "such as *change me*."
        )

    def check(self, response):
        # Like the reference, a response without a *change* cannot be compared and raises ValueError.
        if not re.search(r"\*.*\*", response):
            raise ValueError(f"response {response!r} does not contain changes in the form of *change me*")
        return re.sub(r"\*.*\*", "", response) == re.sub(r"\*.*\*", "", self.kwargs["original_message"])


class RephraseParagraph(Instruction):
    id = "detectable_content:rephrase_paragraph"
    in_ifeval = False
    params = (
        Param("original_paragraph", "text", "the paragraph to rephrase"),
        Param("low", "int", "the minimum number of words in common"),
        Param("high", "int", "the maximum number of words in common"),
    )

    def description(self):
        k = self.kwargs
        return (
            f"Rephrase the following paragraph: {k['original_paragraph']}\nYour response should have between "
            f"{k['low']} and {k['high']} of the same words. Words are the same if and only if all of the letters, "
            "ignoring cases, are the same. For example, 'run' is the same as 'Run' but different to 'ran'."
        )

    def check(self, response):
        ours = collections.Counter(re.findall(r"\w+", response.lower()))
        theirs = collections.Counter(re.findall(r"\w+", self.kwargs["original_paragraph"].lower()))
        common = sum(min(n, ours[word]) for word, n in theirs.items())
        return self.kwargs["low"] <= common <= self.kwargs["high"]


class ConstrainedStart(Instruction):
    id = "multi-turn:constrained_start"
    in_ifeval = False
    params = (Param("starter", "text", "the phrase a line of the response must start with"),)

    def _setup(self):
        self.kwargs["starter"] = self.kwargs["starter"].strip()

    def description(self):
        return f"During the conversation, when it is your turn, please always start with {self.kwargs['starter']}"

    def check(self, response):
        return bool(re.search(r"^\s*" + _fragment(self.kwargs["starter"]) + r".*$", response, flags=re.MULTILINE))

    @classmethod
    def sample_kwargs(cls, rng, prompt=None):
        return {"starter": rng.choice(STARTER_OPTIONS)}


_ALL = (
    KeywordExistence, KeywordFrequency, ForbiddenWords, LetterFrequency, ResponseLanguage, NumberOfSentences,
    NumberOfParagraphs, NumberOfWords, NthParagraphFirstWord, Placeholders, Postscript, BulletLists,
    ConstrainedResponse, HighlightedSections, MultipleSections, JsonFormat, Title, TwoResponses, RepeatPrompt,
    EndPhrase, CapitalWordFrequency, EnglishCapital, EnglishLowercase, NoComma, Quotation,
    KeySentences, Rephrase, RephraseParagraph, ConstrainedStart,
)  # fmt: skip

# Every instruction by id (IFEval's 25 plus the reference's 4 unregistered ones).
INSTRUCTIONS: dict[str, type[Instruction]] = {cls.id: cls for cls in _ALL}
# IFEval's 25 instruction ids, in the reference registry's order.
IFEVAL_INSTRUCTION_IDS: tuple[str, ...] = tuple(cls.id for cls in _ALL if cls.in_ifeval)


def _conflicts() -> dict[str, set[str]]:
    # Which instructions cannot be asked together (the reference's INSTRUCTION_CONFLICTS, made symmetric).
    every = set(IFEVAL_INSTRUCTION_IDS)
    table = {
        "keywords:existence": set(),
        "keywords:frequency": set(),
        "keywords:forbidden_words": set(),
        "keywords:letter_frequency": set(),
        "language:response_language": {
            "detectable_format:multiple_sections", "keywords:existence", "keywords:frequency",
            "keywords:forbidden_words", "startend:end_checker", "change_case:english_capital",
            "change_case:english_lowercase",
        },
        "length_constraints:number_sentences": set(),
        "length_constraints:number_paragraphs": {
            "length_constraints:nth_paragraph_first_word", "length_constraints:number_sentences",
        },
        "length_constraints:number_words": set(),
        "length_constraints:nth_paragraph_first_word": {"length_constraints:number_paragraphs"},
        "detectable_content:number_placeholders": set(),
        "detectable_content:postscript": set(),
        "detectable_format:number_bullet_lists": set(),
        "detectable_format:constrained_response": set(every),
        "detectable_format:number_highlighted_sections": set(),
        "detectable_format:multiple_sections": {
            "language:response_language", "detectable_format:number_highlighted_sections",
        },
        "detectable_format:json_format": every - {"keywords:forbidden_words", "keywords:existence"},
        "detectable_format:title": set(),
        "combination:two_responses": every - {
            "keywords:forbidden_words", "keywords:existence", "language:response_language", "detectable_format:title",
            "punctuation:no_comma",
        },
        "combination:repeat_prompt": every - {"keywords:existence", "detectable_format:title", "punctuation:no_comma"},
        "startend:end_checker": set(),
        "change_case:capital_word_frequency": {"change_case:english_lowercase", "change_case:english_capital"},
        "change_case:english_capital": set(),
        "change_case:english_lowercase": {"change_case:english_capital"},
        "punctuation:no_comma": set(),
        "startend:quotation": {"detectable_format:title"},
    }  # fmt: skip
    for key in list(table):
        for other in table[key]:
            table[other].add(key)
        table[key].add(key)
    return table


CONFLICTS: dict[str, set[str]] = _conflicts()


def get_instruction(instruction_id: str, kwargs: dict[str, Any] | None = None) -> Instruction:
    """Build the checker for `instruction_id` from its kwargs; `None` values are dropped (the Hub layout of IFEval
    stores every possible kwarg, unused ones as null).

    Raises:
        `InvalidConstraintError`: the id is unknown, or a kwarg is missing, unexpected or invalid.

    Example:
        >>> get_instruction("punctuation:no_comma").check("No commas here.")
        True
    """
    cls = INSTRUCTIONS.get(instruction_id) if isinstance(instruction_id, str) else None
    if cls is None:
        import difflib

        close = difflib.get_close_matches(str(instruction_id), list(INSTRUCTIONS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidConstraintError(
            f"unknown instruction id {instruction_id!r}",
            hint=hint + f"known ids: {', '.join(IFEVAL_INSTRUCTION_IDS)}",
        )
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise InvalidConstraintError(
            f"instruction {instruction_id!r}: kwargs must be a JSON object, got {kwargs!r}",
            hint='write kwargs as a dict, e.g. {"num_words": 100, "relation": "at least"}',
        )
    return cls(**{k: v for k, v in kwargs.items() if v is not None})
