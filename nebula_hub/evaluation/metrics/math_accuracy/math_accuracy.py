"""Math accuracy: the share of responses whose final answer math-verify finds equal to the gold answer.

Scoring goes through `nebula_hub.verify.math` (answer extraction after any `<think>` block, math-verify equivalence,
timeouts, a process pool), the same checker the curation filters and GRPO rewards use.

Example:
    >>> import evaluate
    >>> from nebula_hub.evaluation.metrics import metric_path
    >>> acc = evaluate.load(str(metric_path("math_accuracy")))
    >>> acc.compute(predictions=["so $\\\\boxed{\\\\frac12}$", "it is 3"], references=["0.5", "4"])["accuracy"]
    0.5
"""

import datasets
import evaluate

from nebula_hub.verify.math import DEFAULT_TIMEOUT, verify_math_batch


_DESCRIPTION = """Accuracy on math problems (GSM8K, MATH-500, AIME): a response is correct when the answer extracted
from it (\\boxed{}, a final-answer line, or the last expression; reasoning inside <think> ignored) is equivalent to
the gold answer according to math-verify. A response with no extractable answer, or a timeout, is incorrect."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the responses.
    references (`list` of `str`): the gold answers ("18", "\\frac{19}{12}", "(1, 5)").
    timeout (`float`, *optional*, defaults to 5): seconds per parse or comparison.
    workers (`int`, *optional*): processes of the verifier pool (defaults to the shared pool).
    return_details (`bool`, *optional*, defaults to False): per-response verdicts under "details".
Returns:
    accuracy (float), n (int), n_no_answer (int: responses with no answer), n_gold_unparsable (int), and with
    return_details "details": per response {verdict, score, detail, answer}.
"""

_CITATION = """@misc{math-verify, title={Math-Verify}, author={Kydlicek, Hynek and Hugging Face},
url={https://github.com/huggingface/Math-Verify}, year={2025}}"""


class MathAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, timeout=DEFAULT_TIMEOUT, workers=None, return_details=False):
        results = verify_math_batch(
            [p or "" for p in predictions],
            list(references),
            workers=workers,
            timeout=timeout,
            progress=len(predictions) > 200,
        )
        n = len(results)
        out = {
            "accuracy": sum(r.verdict == "pass" for r in results) / n if n else 0.0,
            "n": n,
            "n_no_answer": sum(r.verdict == "unparsable" and r.extra.get("side") == "answer" for r in results),
            "n_gold_unparsable": sum(r.verdict == "unparsable" and r.extra.get("side") == "gold" for r in results),
        }
        if return_details:
            out["details"] = [
                {
                    "verdict": r.verdict,
                    "score": float(r.verdict == "pass"),
                    "detail": r.detail,
                    "answer": r.extra.get("answer"),
                }
                for r in results
            ]
        return out
