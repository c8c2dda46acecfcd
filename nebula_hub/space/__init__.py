"""The comparison Space's library side: config, Hub reading, arena generation, views, lineage, launch and deploy.

`spaces/compare/app.py` is a thin shell over this package; `nebula-hub space run|deploy` call `run_space` and
`deploy_space`. Everything shown is read back from a Hub (cards and dataset repos), never from a training folder.

Example:
    >>> from nebula_hub.space import load_space_config
    >>> load_space_config(None).is_empty
    True
    >>> from nebula_hub.space import build_demo, launch_kwargs          # doctest: +SKIP
    >>> build_demo().launch(**launch_kwargs())                          # doctest: +SKIP
"""

from nebula_hub.space.config import ArenaDefaults as ArenaDefaults
from nebula_hub.space.config import CheckpointRef as CheckpointRef
from nebula_hub.space.config import DatasetRef as DatasetRef
from nebula_hub.space.config import SpaceConfig as SpaceConfig
from nebula_hub.space.config import load_space_config as load_space_config
from nebula_hub.space.config import parse_ref as parse_ref


# gradio and transformers load slowly: import the modules that need them only when their names are used.
_LAZY = {
    "build_demo": "nebula_hub.space.ui",
    "launch_kwargs": "nebula_hub.space.ui",
    "run_space": "nebula_hub.space.launch",
    "default_config_path": "nebula_hub.space.launch",
    "deploy_space": "nebula_hub.space.deploy",
    "build_space_folder": "nebula_hub.space.deploy",
    "DeployResult": "nebula_hub.space.deploy",
    "load_content": "nebula_hub.space.hub_reader",
    "discover": "nebula_hub.space.hub_reader",
    "read_checkpoint": "nebula_hub.space.hub_reader",
    "read_dataset": "nebula_hub.space.hub_reader",
    "read_records": "nebula_hub.space.hub_reader",
    "SpaceContent": "nebula_hub.space.hub_reader",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nebula_hub.space' has no attribute {name!r}")


__all__ = sorted(
    {"ArenaDefaults", "CheckpointRef", "DatasetRef", "SpaceConfig", "load_space_config", "parse_ref"} | set(_LAZY)
)
