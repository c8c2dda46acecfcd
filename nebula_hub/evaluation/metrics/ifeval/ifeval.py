"""IFEval accuracy, prompt- and instruction-level, strict and loose, by nebula-hub's IFEval verifier.

Load it offline from its folder: `evaluate.load(str(nebula_hub.evaluation.metrics.metric_path("ifeval")))`.

Example:
    >>> import evaluate
    >>> from nebula_hub.evaluation.metrics import metric_path
    >>> ifeval = evaluate.load(str(metric_path("ifeval")))
    >>> ref = '{"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}'
    >>> ifeval.compute(predictions=["no commas here", "a, b"], references=[ref, ref])["prompt_level_strict_acc"]
    0.5
"""

import json

import datasets
import evaluate

from nebula_hub.errors import NebulaError
from nebula_hub.verify.ifeval import check_constraints, summarize


_DESCRIPTION = """IFEval (Zhou et al., 2023): the share of prompts whose every instruction is followed (prompt level) and
the share of instructions followed (instruction level), checked as given (strict) and after removing the first/last
line and asterisks (loose), exactly as Google's reference implementation. Reasoning in <think>...</think> is removed
first; a response cut off inside its reasoning follows nothing."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): the responses.
    references (`list` of `str`): per response, its constraints as JSON: {"instruction_id_list": [...], "kwargs": [...]}.
    return_details (`bool`, *optional*, defaults to False): also return per-response verdicts under "details".
Returns:
    prompt_level_strict_acc, inst_level_strict_acc, prompt_level_loose_acc, inst_level_loose_acc (floats),
    n_prompts, n_instructions (ints), per_instruction ({id: {n, strict_acc, loose_acc}}), and with return_details
    "details": per response {follow_instruction_list_strict, follow_instruction_list_loose, verdict, score, detail}.
"""

_CITATION = """@article{zhou2023instructionfollowing, title={Instruction-Following Evaluation for Large Language Models},
author={Zhou, Jeffrey and Lu, Tianjian and Mishra, Swaroop and Brahma, Siddhartha and Basu, Sujoy and Luan, Yi and
Zhou, Denny and Hou, Le}, journal={arXiv preprint arXiv:2311.07911}, year={2023}}"""


def answer_text(response: str) -> str:
    """The part of a response that is checked: after the `<think>` block; empty if cut off inside it."""
    if "<think>" in response and "</think>" not in response:
        return ""
    return response.split("</think>", 1)[1].lstrip() if "</think>" in response else response


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class IFEval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            reference_urls=[
                "https://github.com/google-research/google-research/tree/master/instruction_following_eval"
            ],
        )

    def _compute(self, predictions, references, return_details=False):
        rows, details = [], []
        for index, (response, reference) in enumerate(zip(predictions, references, strict=True)):
            constraints = json.loads(reference)
            result = check_constraints(answer_text(response or ""), constraints)
            if result.verdict == "unparsable":
                raise NebulaError(
                    f"ifeval metric: reference {index} has invalid constraints: {result.detail}",
                    hint="each reference is JSON {'instruction_id_list': [...], 'kwargs': [...]} as in google/IFEval",
                )
            extra = result.extra
            rows.append(
                {
                    "instruction_id_list": extra["instruction_id_list"],
                    "follow_instruction_list_strict": extra["follow_instruction_list_strict"],
                    "follow_instruction_list_loose": extra["follow_instruction_list_loose"],
                }
            )
            if return_details:
                details.append({**rows[-1], "verdict": result.verdict, "score": result.score, "detail": result.detail})
        summary = summarize(rows)
        out = {
            "prompt_level_strict_acc": summary["prompt_level_strict"],
            "inst_level_strict_acc": summary["inst_level_strict"],
            "prompt_level_loose_acc": summary["prompt_level_loose"],
            "inst_level_loose_acc": summary["inst_level_loose"],
            "n_prompts": summary["n_prompts"],
            "n_instructions": summary["n_instructions"],
            "per_instruction": summary["per_instruction"],
        }
        if return_details:
            out["details"] = details
        return out
