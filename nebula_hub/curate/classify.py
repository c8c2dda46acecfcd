"""Task classification: math, code, instruction following, knowledge, general chat (configurable label set).

An annotator: it writes `doc.metadata["task"] = {"label", "confidence"}` (and the prompt's `language`) and
yields every document. Rules come first
(a reference answer, tests or constraints are strong evidence; keywords are weaker); records whose rule confidence is
below `model_below_confidence` can be sent to a model classifier through the generation backends, whose majority
label over its samples wins when it names a valid label (its agreement share becomes the confidence).

Example:
    >>> from nebula_hub.curate.document import make_document
    >>> doc = make_document([{"role": "user", "content": "Solve for x: 2x + 3 = 11."},
    ...                      {"role": "assistant", "content": "x = 4"}], {"name": "demo"}, {"answer": "4"})
    >>> classify_by_rules(doc.text, doc.metadata["reference"])
    ('math', 0.95)
"""

import re
from collections import Counter

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.batching import batched


_CODE = re.compile(
    r"```|\bdef \w+\(|\b(?:python|function|program|script|implement|algorithm|code|compile|"
    r"return value|stdin|stdout|class \w+)\b",
    re.I,
)
_MATH = re.compile(
    r"\b(?:solve|calculate|compute|how many|how much|sum of|product of|equation|integer|remainder|"
    r"probability|percent|fraction|simplify|evaluate|what is \d|\d+\s*[-+*/^]\s*\d+)\b|\\frac|\$",
    re.I,
)
_IF = re.compile(
    r"\b(?:in (?:exactly|at least|at most|less than|fewer than) \d+ (?:words|sentences|paragraphs)|"
    r"all (?:lowercase|lower case|capital|uppercase)|do not use any commas|without (?:using )?any commas|"
    r"wrap your entire response|end your response with|include the keywords?|"
    r"in json format|bullet points|postscript|p\.s\.|title wrapped)",
    re.I,
)
_KNOWLEDGE = re.compile(
    r"\b(?:which of the following|who (?:wrote|invented|discovered|was)|what is the capital|"
    r"in what year|define|what does .+ stand for|true or false)\b|^\s*[A-D][).:]\s",
    re.I | re.M,
)


def prompt_language(text: str) -> str | None:
    """ISO 639-1 code of the prompt (langdetect, seeded), or None when too short to tell."""
    from nebula_hub.verify.ifeval.text import detect_language

    return detect_language(text[:2000]) if len(text) >= 60 else None


def classify_by_rules(prompt: str, reference: dict, labels=None, default: str = "general") -> tuple[str, float]:
    """(label, confidence) from the reference fields and prompt keywords."""
    labels = labels or ("math", "code", "instruction_following", "knowledge", "general")
    votes = []
    if reference.get("tests"):
        votes.append(("code", 0.95))
    if reference.get("constraints"):
        votes.append(("instruction_following", 0.95))
    if reference.get("choices"):
        votes.append(("knowledge", 0.9))
    if reference.get("answer") is not None and not reference.get("choices"):
        votes.append(("math", 0.95 if _MATH.search(prompt) else 0.8))
    if not votes:
        for label, pattern, confidence in (
            ("code", _CODE, 0.7),
            ("instruction_following", _IF, 0.7),
            ("math", _MATH, 0.65),
            ("knowledge", _KNOWLEDGE, 0.6),
        ):
            if pattern.search(prompt):
                votes.append((label, confidence))
    for label, confidence in votes:
        if label in labels:
            return label, confidence
    return default, 0.5


class TaskClassifier(PipelineStep):
    """Annotates `doc.metadata["task"]`; rules, then an optional model for low-confidence records.

    Args:
        labels (`list[str]`): the label set. default_label (`str`): when no rule fires.
        model (`ModelConfig`, *optional*): a model classifier through the generation backends.
        model_below_confidence (`float`, *optional*, defaults to 0.6): records below this confidence ask the model.
        cache_dir (`str`, *optional*): generation cache folder (resume).
    """

    type = "🏷 - ANNOTATOR"
    name = "🏷 Task classifier"

    def __init__(
        self,
        labels=None,
        default_label: str = "general",
        model=None,
        model_below_confidence: float = 0.6,
        cache_dir: str | None = None,
        batch_size: int = 64,
    ):
        super().__init__()
        self.labels = list(labels or ("math", "code", "instruction_following", "knowledge", "general"))
        self.default_label = default_label
        self.model = model
        self.model_below_confidence = model_below_confidence
        self.cache_dir = cache_dir
        self.batch_size = batch_size

    def warm_up(self) -> None:
        """Load the language profiles (before worker processes fork, so they share them)."""
        prompt_language("Warm-up text long enough for the language detector to look at it.")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        generator = None
        if self.model is not None:
            from nebula_hub.curate.generation import CachedGenerator

            generator = CachedGenerator(self.model, self.cache_dir, rank)
        for batch in batched(data, self.batch_size):
            with self.track_time(unit="batch"):
                for doc in batch:
                    label, confidence = classify_by_rules(
                        doc.text, doc.metadata.get("reference") or {}, self.labels, self.default_label
                    )
                    doc.metadata["task"] = {"label": label, "confidence": confidence}
                    doc.metadata["language"] = prompt_language(doc.text)
                unsure = [d for d in batch if d.metadata["task"]["confidence"] < self.model_below_confidence]
                if generator is not None and unsure:
                    self._ask_model(generator, unsure)
            for doc in batch:
                self.stat_update(f"task_{doc.metadata['task']['label']}")
                yield doc
        if generator is not None:
            generator.close()

    def _ask_model(self, generator, docs) -> None:
        options = ", ".join(self.labels)
        conversations = [
            [
                {
                    "role": "user",
                    "content": f"Classify the task of this request as one of: {options}.\n"
                    f"Answer with the label only.\n\nRequest:\n{doc.text[:2000]}",
                }
            ]
            for doc in docs
        ]
        for doc, samples in zip(docs, generator.generate(conversations), strict=False):
            found = [self._label_in(s["text"]) for s in samples]
            found = [f for f in found if f]
            if not found:
                self.stat_update("model_label_unparsable")
                continue
            label, count = Counter(found).most_common(1)[0]
            doc.metadata["task"] = {"label": label, "confidence": round(count / len(samples), 4)}
            self.stat_update("model_labelled")

    def _label_in(self, text: str) -> str | None:
        lowered = text.lower()
        hits = [(lowered.find(label.lower()), label) for label in self.labels if label.lower() in lowered]
        return min(hits)[1] if hits else None
