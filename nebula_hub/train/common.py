"""What every trainer run shares: resuming from the last Trainer checkpoint, saving the final model, the result.

result = run_trainer(trainer, output_dir, resume=True)
result.final_dir, result.metrics["train_loss"], result.resumed_from
"""

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError


logger = logging.getLogger(__name__)
FINAL = "final"


@dataclass
class TrainResult:
    """The outcome of one phase: where the final model is, its metrics and full log history."""

    final_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    log_history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: str | None = None
    global_step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "final_dir": str(self.final_dir),
            "metrics": self.metrics,
            "log_history": self.log_history,
            "resumed_from": self.resumed_from,
            "global_step": self.global_step,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainResult":
        return cls(**{**data, "final_dir": Path(data["final_dir"])})


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest *complete* `checkpoint-N` folder under `output_dir` (None if there is none).

    Written by hand because `transformers.trainer_utils.get_last_checkpoint` returns the newest folder even when a
    kill interrupted its writing; `Trainer` writes `trainer_state.json` last, so a folder with a readable one is whole.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found = []
    for path in output_dir.glob("checkpoint-*"):
        step = path.name.split("-", 1)[1]
        if path.is_dir() and step.isdigit():
            found.append((int(step), path))
    for _, path in sorted(found, reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, json.JSONDecodeError):
            logger.warning("ignoring incomplete checkpoint %s (interrupted while saving)", path)
            continue
        return str(path)
    return None


def run_trainer(trainer, output_dir: str | Path, resume: bool, extra_metrics: dict | None = None) -> TrainResult:
    """Train (from the last checkpoint when `resume` and one exists), save the final model and tokenizer.

    Without `resume`, existing checkpoints in `output_dir` are an error: they belong to an unfinished run.
    """
    output_dir = Path(output_dir)
    checkpoint = last_checkpoint(output_dir)
    if checkpoint and not resume:
        raise NebulaError(
            f"{output_dir} holds checkpoints of an unfinished run ({Path(checkpoint).name})",
            hint="pass --resume to continue it, or pick another run with --set run_name=NAME",
        )
    if checkpoint:
        logger.info("resuming from %s", checkpoint)
    output = trainer.train(resume_from_checkpoint=checkpoint)
    final_dir = output_dir / FINAL
    trainer.save_model(str(final_dir))
    if trainer.processing_class is not None:
        trainer.processing_class.save_pretrained(str(final_dir))
    history = [dict(h) for h in trainer.state.log_history]
    metrics = dict(output.metrics)
    losses = [h["loss"] for h in history if "loss" in h and _finite(h["loss"])]
    if losses:
        metrics["final_loss"] = losses[-1]
        metrics["first_loss"] = losses[0]
    rewards = [h["reward"] for h in history if "reward" in h and _finite(h["reward"])]
    if rewards:
        metrics["final_reward"] = rewards[-1]
        metrics["mean_reward"] = sum(rewards) / len(rewards)
    metrics.update(extra_metrics or {})
    result = TrainResult(
        final_dir=final_dir,
        metrics=metrics,
        log_history=history,
        resumed_from=Path(checkpoint).name if checkpoint else None,
        global_step=trainer.state.global_step,
    )
    (final_dir / "nebula_train_result.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    return result


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def load_tokenizer(path: str | Path, padding_side: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if padding_side:
        tok.padding_side = padding_side
    return tok


def check_stop_token(model_dir: str | Path) -> None:
    """Check the chat template, the tokenizer's eos and the generation config agree on where a reply ends.

    Renders one user/assistant exchange with the model's chat template, takes the first special token after the
    assistant's text (`<|im_end|>` for Qwen3) and requires it to be among `generation_config.eos_token_id`;
    otherwise a trained model would run on to `max_new_tokens`.
    """
    from transformers import AutoTokenizer, GenerationConfig

    model_dir = Path(model_dir)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if not tok.chat_template:
        raise NebulaError(f"{model_dir}: the tokenizer has no chat template", hint="set args.chat_template_path")
    marker = "NEBULA_END_CHECK"
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}], tokenize=False
    )
    after = text.split(marker, 1)[1]
    ids = tok(after, add_special_tokens=False)["input_ids"]
    special = set(tok.all_special_ids)
    stop = next((i for i in ids if i in special), None)
    gen = GenerationConfig.from_pretrained(str(model_dir))
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    if stop is None or stop not in eos:
        shown = tok.convert_ids_to_tokens(stop) if stop is not None else None
        raise NebulaError(
            f"{model_dir}: the chat template ends a reply with {shown!r} but generation_config.eos_token_id is {eos} "
            f"({tok.convert_ids_to_tokens([e for e in eos if e is not None])}); generations would not stop",
            hint=f"set args.eos_token: {shown!r} in the SFT stage so tokenizer, config and generation config agree",
        )
