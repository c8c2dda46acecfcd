"""Supervised fine-tuning of one phase with TRL's `SFTTrainer` (assistant-only loss, packing or padding-free).

Reads top to bottom: tokenizer, trainer, optional probe loss before, train (resuming from the last checkpoint),
probe loss after, save, check that the chat template / eos / generation config agree on where a reply stops.

    from trl import SFTConfig
    result = train_sft("path/to/model", dataset, SFTConfig(output_dir="out", assistant_only_loss=True, max_steps=20,
                       use_cpu=True, bf16=False), probe_dataset=dataset.select(range(8)))
    result.metrics["probe_loss_before"], result.metrics["probe_loss_after"]

The probe is a fixed set of rows evaluated with the same tokenisation and loss as training, before and after the
phase, so a recipe can show its loss going down phase after phase on the same batch.
"""

import logging
from pathlib import Path

from nebula_hub.train.common import TrainResult, check_stop_token, load_tokenizer, run_trainer


logger = logging.getLogger(__name__)


def train_sft(
    model_path: str | Path,
    train_dataset,
    args,
    resume: bool = False,
    probe_dataset=None,
    callbacks: list | None = None,
) -> TrainResult:
    """Train one SFT phase from `model_path` and save the result under `args.output_dir/final`.

    Args:
        model_path (`str`): a local model folder (weights + tokenizer + chat template).
        train_dataset (`datasets.Dataset`): `messages` rows (or `prompt`/`completion`).
        args (`trl.SFTConfig`): the phase's TRL config.
        resume (`bool`, *optional*, defaults to `False`): continue from the last checkpoint in `args.output_dir`.
        probe_dataset (`datasets.Dataset`, *optional*): rows whose loss is measured before and after training.
        callbacks (`list`, *optional*): extra `TrainerCallback`s.

    Example:
        >>> from datasets import Dataset
        >>> from trl import SFTConfig
        >>> from nebula_hub.models import build_tiny_model
        >>> ds = Dataset.from_list([{"messages": [{"role": "user", "content": "hi"},
        ...                                       {"role": "assistant", "content": "hello"}]}] * 8)
        >>> args = SFTConfig(output_dir="/tmp/sft-doc", max_steps=2, use_cpu=True, bf16=False, report_to="none",
        ...                  assistant_only_loss=True, gradient_checkpointing=False)
        >>> train_sft(build_tiny_model(), ds, args).global_step                   # doctest: +SKIP
        2
    """
    from trl import SFTTrainer

    tokenizer = load_tokenizer(model_path)
    trainer = SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=train_dataset,
        eval_dataset=probe_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    before = trainer.evaluate()["eval_loss"] if probe_dataset is not None else None
    result = run_trainer(trainer, args.output_dir, resume=resume)
    if probe_dataset is not None:
        result.metrics["probe_loss_before"] = before
        result.metrics["probe_loss_after"] = trainer.evaluate()["eval_loss"]
        logger.info("probe loss %.4f -> %.4f", result.metrics["probe_loss_before"], result.metrics["probe_loss_after"])
    check_stop_token(result.final_dir)
    return result
