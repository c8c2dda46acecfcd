"""Multiple-choice accuracy: the share of responses whose chosen letter is the gold letter.

Example:
    >>> import evaluate
    >>> from nebula_hub.evaluation.metrics import metric_path
    >>> acc = evaluate.load(str(metric_path("mc_accuracy")))
    >>> acc.compute(predictions=["Answer: B", "Answer: A"], references=["B", "C"])["accuracy"]
    0.5
"""

import datasets
import evaluate

from nebula_hub.evaluation.choices import extract_choice


_DESCRIPTION = """Accuracy on multiple-choice questions (MMLU-style): the letter a response settles on ("Answer: X" on
its last line as asked, or "the answer is X", \\boxed{X}, a line holding only the letter; reasoning inside <think>
ignored) must equal the gold letter. A response with no letter is incorrect."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the responses.
    references (`list` of `str`): the gold letters.
    letters (`str`, *optional*, defaults to "ABCD"): the option letters.
    return_details (`bool`, *optional*, defaults to False): per-response verdicts under "details".
Returns:
    accuracy (float), n (int), n_no_answer (int), and with return_details "details": per response
    {verdict, score, detail, answer}.
"""

_CITATION = """@article{hendrycks2021mmlu, title={Measuring Massive Multitask Language Understanding},
author={Hendrycks, Dan and others}, journal={ICLR}, year={2021}}"""


class MultipleChoiceAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, letters="ABCD", return_details=False):
        details = []
        for response, gold in zip(predictions, references, strict=True):
            choice = extract_choice(response or "", letters)
            if choice is None:
                verdict, detail = "unparsable", "no answer letter found"
            else:
                verdict = "pass" if choice == gold.strip().upper() else "fail"
                detail = f"chose {choice}, gold {gold}"
            details.append({"verdict": verdict, "score": float(verdict == "pass"), "detail": detail, "answer": choice})
        n = len(details)
        out = {
            "accuracy": sum(d["verdict"] == "pass" for d in details) / n if n else 0.0,
            "n": n,
            "n_no_answer": sum(d["verdict"] == "unparsable" for d in details),
        }
        if return_details:
            out["details"] = details
        return out
