"""nebula-hub comparison Space: checkpoints side by side (arena), their scores, the data and the lineage behind them.

Everything is read back from a Hub: model cards (metadata, `model-index`, the `nebula` lineage block) and curated
dataset repos. Which hub: `$NEBULA_SPACE_HUB`, else `hub:` in config.yaml, else `$HF_ENDPOINT`, else the local hub.
Which content: `$NEBULA_SPACE_CONFIG`, else the config.yaml next to this file (empty lists = discover on the hub).

Run it:
    python spaces/compare/app.py          # or: nebula-hub space run [--config FILE] [--port N] [--hub URL]
Deploy it:
    nebula-hub space deploy --repo ORG/NAME
"""

import os
from pathlib import Path

from nebula_hub.space import build_demo, launch_kwargs, load_space_config


HERE = Path(__file__).resolve().parent


def make_demo():
    """Build the Space from the config next to this file (or `$NEBULA_SPACE_CONFIG`)."""
    path = Path(os.environ.get("NEBULA_SPACE_CONFIG") or HERE / "config.yaml")
    return build_demo(load_space_config(path if path.is_file() else None), hub=os.environ.get("NEBULA_SPACE_HUB"))


demo = make_demo()


if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch(ssr_mode=False, **launch_kwargs())
