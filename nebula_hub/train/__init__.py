"""Training stages on TRL: Ins-SFT, GRPO, OPD and MOPD from recipes, pushed to the Hub with lineage cards.

    from nebula_hub.train import load_recipe, train_and_push
    train_and_push("pipelines/recipes/tiny/quickstart.yaml", overrides=["defaults.max_steps=2"])
    train_and_push("pipelines/recipes/qwen3-8b-base/quickstart.yaml", hub="https://huggingface.co",
                   accelerate_config="pipelines/accelerate/zero3.yaml")   # several GPUs, same RunResult back

Modules: `configs` (recipes), `data` (Hub datasets at pinned shas, mixtures), `sft` / `grpo` / `distill` (one phase
each), `card` (model cards), `push` (branches and tags), `run` (the composition behind `nebula-hub train-and-push`).
Run `python -m nebula_hub.train --recipe FILE` (what `accelerate launch ... -m nebula_hub.train` starts).
"""

from nebula_hub.train.configs import RecipeConfig, load_recipe


def __getattr__(name: str):
    # `run` imports the hub client and, through the trainers, TRL; load it on first use.
    if name in ("train_and_push", "train_stage", "stage_card", "push_stage", "Run", "RunResult"):
        from nebula_hub.train import run

        return getattr(run, name)
    raise AttributeError(f"module 'nebula_hub.train' has no attribute {name!r}")


__all__ = [
    "RecipeConfig",
    "load_recipe",
    "train_and_push",
    "train_stage",
    "stage_card",
    "push_stage",
    "Run",
    "RunResult",
]
