"""Math candidates: the gold answer must be one math-verify can parse; it is stored normalized.

A gold the math verifier cannot parse (an unbalanced `\\frac{1}{`, an empty `\\boxed{}`, prose) could never reward
a correct rollout, so the candidate is rejected with reason `unparsable_gold` and the parser's message. A parsable
gold is stored as `nebula_hub.verify.math.normalize_gold` returns it (the form math-verify extracted: outer `$...$`
and `\\boxed{}` removed), which the GRPO reward parses back to the same value; the original is kept in
`meta.original_answer` when they differ. Other tasks pass through.

    step = MathGoldFilter(exclusion_writer=RejectedWriter(work_dir, "math_gold"))
"""

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from nebula_hub.curate.document import reject
from nebula_hub.errors import NebulaError


class MathGoldFilter(BaseFilter):
    """Keep math candidates whose gold answer parses; normalize it in place."""

    name = "RL math gold"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        md = doc.metadata
        if md["task"]["label"] != "math":
            return True
        from nebula_hub.verify.math import normalize_gold

        gold = md["reference"]["answer"]
        try:
            with self.track_time():
                normalized = normalize_gold(gold)
        except NebulaError as err:
            return reject(doc, "unparsable_gold", f"{md['meta'].get('location', doc.id)}: {err.message}")
        if normalized != gold:
            md["meta"]["original_answer"] = gold
            md["reference"]["answer"] = normalized
        return True
