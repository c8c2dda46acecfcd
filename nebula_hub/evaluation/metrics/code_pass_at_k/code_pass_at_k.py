"""Code pass@k: the unbiased estimator of Chen et al. (2021) over sandboxed test runs.

Each candidate is a model response; its program is the last ```python block (the whole response when there is none),
prefixed with the problem's prompt for HumanEval-style problems, and run against the reference tests in
nebula-hub's code sandbox (`nebula_hub.verify.code`), the same checker curation and GRPO rewards use. The Hub's
`code_eval` metric does the same job but must be downloaded (it fails offline) and runs candidates unisolated.

Example:
    >>> import evaluate, json
    >>> from nebula_hub.evaluation.metrics import metric_path
    >>> pass_at_k = evaluate.load(str(metric_path("code_pass_at_k")))
    >>> ref = json.dumps({"test": "assert add(1, 2) == 3"})
    >>> good, bad = "```python\\ndef add(a, b):\\n    return a + b\\n```", "def add(a, b):\\n    return a - b"
    >>> pass_at_k.compute(predictions=[[good, bad]], references=[ref], k=[1, 2])
    {'pass@1': 0.5, 'pass@2': 1.0, 'n_problems': 1, 'n_samples': 2}
"""

import json

import datasets
import evaluate
import numpy as np

from nebula_hub.verify.code import extract_code, verify_code_batch


_DESCRIPTION = """pass@k for code generation (HumanEval, MBPP): for each problem with n candidates of which c pass every
test, pass@k = 1 - C(n-c, k) / C(n, k), averaged over problems (reported for k <= n only)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `str`): per problem, its candidate responses.
    references (`list` of `str`): per problem, JSON {"test": test code run after the program, "prompt": code to put
        before the candidate (optional, HumanEval), "entry_point": the function name (optional)}.
    k (`list` of `int`, *optional*, defaults to [1]): the k values.
    timeout (`float`, *optional*, defaults to 10): wall-clock seconds per test.
    return_details (`bool`, *optional*, defaults to False): per problem, per candidate {verdict, score, detail}.
Returns:
    "pass@k" for each k <= n (floats), n_problems, n_samples, and with return_details "details".
"""

_CITATION = """@article{chen2021codex, title={Evaluating Large Language Models Trained on Code}, author={Chen, Mark and
others}, journal={arXiv preprint arXiv:2107.03374}, year={2021}}"""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with `n` samples of which `c` pass (Chen et al., numerically stable form)."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def build_program(response: str, reference: dict) -> str:
    """The program run for one response: the extracted code, after the problem's prompt when there is one."""
    code = extract_code(response or "")
    if code is None:
        code = (response or "") if "<think>" not in (response or "") else ""
    prompt = reference.get("prompt")
    # The prompt holds imports and the signature; a full function in the answer simply redefines it.
    return prompt + code if prompt else code


class CodePassAtK(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("string")), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, k=(1,), timeout=10.0, return_details=False):
        k = [k] if isinstance(k, int) else list(k)
        refs = [json.loads(r) for r in references]
        items, owners = [], []
        for problem, (candidates, ref) in enumerate(zip(predictions, refs, strict=True)):
            for response in candidates:
                items.append((build_program(response, ref), ref["test"]))
                owners.append(problem)
        results = verify_code_batch(items, timeout=timeout, progress=len(items) > 50)
        per_problem: list[list] = [[] for _ in predictions]
        for owner, result in zip(owners, results, strict=True):
            per_problem[owner].append(result)
        sizes = {len(c) for c in predictions}
        n_min = min(sizes) if sizes else 0
        out = {}
        for kk in k:
            if kk <= n_min:
                scores = [pass_at_k(len(rs), sum(r.verdict == "pass" for r in rs), kk) for rs in per_problem]
                out[f"pass@{kk}"] = float(np.mean(scores)) if scores else 0.0
        out["n_problems"] = len(predictions)
        out["n_samples"] = len(items)
        if return_details:
            out["details"] = [
                [{"verdict": r.verdict, "score": float(r.verdict == "pass"), "detail": r.detail} for r in rs]
                for rs in per_problem
            ]
        return out
