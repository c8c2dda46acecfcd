"""Difficulty grading: pass rate of k grader rollouts for verifiable records, a length proxy for the rest.

An annotator: `doc.metadata["difficulty"] = {"level", "pass_rate", "num_samples"}`; every document is yielded.
A record is verifiable when its reference holds an answer, tests, constraints or choices; its rollouts are checked
by the same verifiers as cross-verification (`checks.correctness_check`), so a "pass" means the same thing in both.
Levels: `hard` if pass_rate <= hard_max, `easy` if >= easy_min, else `medium`. Other records get a proxy level from
their response length (`proxy_easy_max_chars`, `proxy_hard_min_chars`) and `pass_rate = None`.

Example:
    >>> level_for(0.0, easy_min=0.75, hard_max=0.25), level_for(0.5, 0.75, 0.25), level_for(1.0, 0.75, 0.25)
    ('hard', 'medium', 'easy')
"""

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.batching import batched

from nebula_hub.curate.checks import correctness_check, split_answer
from nebula_hub.curate.document import last_assistant, prompt_messages


def level_for(pass_rate: float, easy_min: float, hard_max: float) -> str:
    if pass_rate <= hard_max:
        return "hard"
    if pass_rate >= easy_min:
        return "easy"
    return "medium"


def is_verifiable(reference: dict) -> bool:
    return any(reference.get(k) for k in ("tests", "constraints", "choices")) or reference.get("answer") is not None


class DifficultyGrader(PipelineStep):
    """Annotates difficulty (see the module doc).

    Args:
        config (`GradeConfig`): grader model (`grader.n` rollouts), thresholds and the length proxy.
        verify_config (`VerifyConfig`): verifier settings (code timeout) shared with cross-verification.
        cache_dir (`str`, *optional*): per-task rollout cache (resume inside a task).
    """

    type = "📐 - ANNOTATOR"
    name = "📐 Difficulty"

    def __init__(self, config, verify_config, cache_dir: str | None = None, batch_size: int = 64):
        super().__init__()
        self.config = config
        self.verify_config = verify_config
        self.cache_dir = cache_dir
        self.batch_size = batch_size

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from nebula_hub.curate.generation import CachedGenerator

        generator = CachedGenerator(self.config.grader, self.cache_dir, rank)
        cfg = self.config
        try:
            for batch in batched(data, self.batch_size):
                graded = [d for d in batch if is_verifiable(d.metadata.get("reference") or {})]
                with self.track_time(unit="batch"):
                    rollouts = (
                        generator.generate([prompt_messages(d.metadata["messages"]) for d in graded]) if graded else []
                    )
                    for doc, samples in zip(graded, rollouts, strict=False):
                        task = (doc.metadata.get("task") or {}).get("label", "general")
                        ref = doc.metadata["reference"]
                        passes = 0
                        for s in samples:
                            result = correctness_check(task, s["text"], ref, doc.text, self.verify_config)
                            passes += bool(result and result["verdict"] == "pass" and s["finish_reason"] != "length")
                        rate = passes / len(samples)
                        doc.metadata["difficulty"] = {
                            "level": level_for(rate, cfg.easy_min, cfg.hard_max),
                            "pass_rate": round(rate, 6),
                            "num_samples": len(samples),
                        }
                for doc in batch:
                    if "difficulty" not in doc.metadata or doc.metadata["difficulty"] is None:
                        _, answer = split_answer(last_assistant(doc.metadata["messages"]) or "")
                        size = len(answer)
                        level = (
                            "easy"
                            if size <= cfg.proxy_easy_max_chars
                            else "hard"
                            if size >= cfg.proxy_hard_min_chars
                            else "medium"
                        )
                        doc.metadata["difficulty"] = {"level": level, "pass_rate": None, "num_samples": 0}
                        self.stat_update("proxy_graded")
                    else:
                        self.stat_update("rollout_graded")
                    self.stat_update(f"level_{doc.metadata['difficulty']['level']}")
                    yield doc
        finally:
            generator.close()
