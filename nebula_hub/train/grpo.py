"""GRPO on a verifiable RL pool with TRL's `GRPOTrainer` and nebula-hub's reward functions.

The rewards are named in the recipe (`args.reward_funcs`, next to `args.reward_weights`) and built by
`nebula_hub.rewards.get_reward_funcs`; they read the pool's `answer` / `tests` / `constraints` / `task` columns,
which GRPO passes through (`remove_unused_columns=False`). Generation uses transformers on CPU and vLLM on GPU
(`use_vllm: true`, `vllm_mode: colocate | server` in the recipe).

    result = train_grpo("path/to/sft-model", rl_dataset, NebulaGRPOConfig(output_dir="out", reward_funcs=["accuracy"],
                        num_generations=4, per_device_train_batch_size=4, max_steps=2, use_cpu=True, bf16=False))
"""

from pathlib import Path

from nebula_hub.errors import NebulaError
from nebula_hub.train.common import TrainResult, load_tokenizer, run_trainer


def reward_functions(names: list[str]) -> list:
    """Reward callables by name from `nebula_hub.rewards` (its errors list the valid names)."""
    from nebula_hub.rewards import get_reward_funcs

    if not names:
        raise NebulaError("GRPO stage has no reward functions", hint="set args.reward_funcs, e.g. [accuracy, format]")
    return get_reward_funcs(names)


def train_grpo(model_path: str | Path, train_dataset, args, resume: bool = False, callbacks: list | None = None):
    """Train one GRPO phase from `model_path`; save under `args.output_dir/final`.

    Args:
        model_path (`str`): a local model folder.
        train_dataset (`datasets.Dataset`): RL rows: `prompt` (messages) plus the columns the rewards read.
        args (`NebulaGRPOConfig`): `GRPOConfig` plus `reward_funcs` (names).
        resume (`bool`, *optional*, defaults to `False`): continue from the last checkpoint in `args.output_dir`.

    Example:
        >>> from nebula_hub.train.configs import trl_config_class
        >>> args = trl_config_class("grpo")(output_dir="/tmp/grpo-doc", reward_funcs=["format"], use_cpu=True,
        ...     bf16=False, num_generations=2, per_device_train_batch_size=2, max_steps=1)   # doctest: +SKIP
        >>> train_grpo(build_tiny_model(), rl_dataset, args).metrics["final_reward"]          # doctest: +SKIP
    """
    from trl import GRPOTrainer

    if args.reward_weights is not None and len(args.reward_weights) != len(args.reward_funcs):
        raise NebulaError(
            f"GRPO: {len(args.reward_funcs)} reward_funcs {args.reward_funcs} but {len(args.reward_weights)} "
            f"reward_weights {args.reward_weights}",
            hint="give one weight per reward function, in the same order",
        )
    tokenizer = load_tokenizer(model_path, padding_side="left")
    trainer = GRPOTrainer(
        model=str(model_path),
        reward_funcs=reward_functions(args.reward_funcs),
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    result: TrainResult = run_trainer(trainer, args.output_dir, resume=resume)
    return result
