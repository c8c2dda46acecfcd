"""Deploy the comparison Space as a Space repo (`repo_type="space"`): the same `app.py`, its requirements, the
resolved config (checkpoints and datasets pinned by name) and a README whose front matter is Space metadata
(`sdk: gradio`, `sdk_version` = the installed gradio, `app_file`, and the `models` and `datasets` it shows).

Example:
    >>> result = deploy_space("local/compare")  # doctest: +SKIP
    >>> result.url                              # doctest: +SKIP
    'http://127.0.0.1:8090/spaces/local/compare'
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nebula_hub import __version__
from nebula_hub.errors import NebulaError
from nebula_hub.paths import resource_path
from nebula_hub.space.config import SpaceConfig, load_space_config


APP_FILES = ("app.py", "requirements.txt")
_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class DeployResult:
    repo_id: str
    url: str
    commit: str
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


def _readme_body(source: Path) -> str:
    text = source.read_text(encoding="utf-8")
    match = re.match(r"^---\s*\n.*?\n---\s*\n", text, re.S)
    return text[match.end() :] if match else text


def build_space_folder(config: SpaceConfig, out_dir: str | Path, hub_endpoint: str | None = None) -> Path:
    """Write the Space's files into `out_dir`: app.py, requirements.txt (nebula-hub pinned to this version),
    config.yaml (`config`, with `hub` set to `hub_endpoint`) and README.md with `SpaceCardData` front matter.

    Example:
        >>> folder = build_space_folder(SpaceConfig.from_dict({"checkpoints": ["org/m@v1"]}), "/tmp/space")  # doctest: +SKIP
        >>> sorted(p.name for p in folder.iterdir())                                                       # doctest: +SKIP
        ['README.md', 'app.py', 'config.yaml', 'requirements.txt']
    """
    import gradio
    from huggingface_hub import SpaceCard, SpaceCardData

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = resource_path("spaces", "compare")
    shutil.copyfile(src / "app.py", out / "app.py")
    requirements = (src / "requirements.txt").read_text(encoding="utf-8")
    requirements = re.sub(r"(?m)^nebula-hub\b.*$", f"nebula-hub=={__version__}", requirements)
    (out / "requirements.txt").write_text(requirements, encoding="utf-8")
    shipped = SpaceConfig.from_dict({**_as_dict(config), "hub": hub_endpoint}, source=config.source)
    (out / "config.yaml").write_text(
        "# Written by `nebula-hub space deploy`; edit and push to change what the Space shows.\n" + shipped.to_yaml(),
        encoding="utf-8",
    )
    data = SpaceCardData(
        title=config.title[:60],
        sdk="gradio",
        sdk_version=gradio.__version__,
        app_file="app.py",
        license="apache-2.0",
        models=sorted({c.repo for c in config.checkpoints}) or None,
        datasets=sorted({d.repo for d in config.datasets}) or None,
        tags=["nebula-hub", "model-comparison", "lineage"],
        short_description="Checkpoints side by side, with the scores and the data behind them",
    )
    card = SpaceCard(f"---\n{data.to_yaml()}\n---\n{_readme_body(src / 'README.md')}")
    card.save(str(out / "README.md"))
    return out


def _as_dict(config: SpaceConfig) -> dict:
    from nebula_hub.config import to_dict

    data = to_dict(config)
    data.pop("source", None)
    return data


def deploy_space(
    repo_id: str,
    config: str | Path | SpaceConfig | None = None,
    hub: str | None = None,
    private: bool = False,
    print_fn=print,
) -> DeployResult:
    """Create (or update) the Space repo `repo_id` on the hub and upload the app in one commit.

    With no config, the checkpoints and datasets are discovered on the hub now and written into the shipped
    `config.yaml`, so the Space and its card name exactly what was there at deploy time. Every named checkpoint and
    dataset is read first; a missing one stops the deploy before anything is uploaded.

    Example:
        >>> deploy_space("local/nebula-compare", hub="http://127.0.0.1:8090").commit[:7]  # doctest: +SKIP
    """
    from nebula_hub.config import to_dict
    from nebula_hub.hub import get_api, hub_errors, resolve_hub
    from nebula_hub.space.hub_reader import load_content
    from nebula_hub.space.launch import default_config_path

    if not isinstance(repo_id, str) or not _REPO_RE.match(repo_id):
        raise NebulaError(
            f"--repo {repo_id!r} is not a Space repo id", hint="write ORG/NAME, e.g. local/nebula-compare"
        )
    if not isinstance(config, SpaceConfig):
        config = load_space_config(config if config is not None else default_config_path())
    target = resolve_hub(hub or config.hub)
    print_fn(target.describe())
    api = get_api(target)
    with hub_errors(target):
        content = load_content(api, config)
        if content.errors:
            raise NebulaError(
                "the Space would show artifacts that cannot be read: " + "; ".join(content.errors),
                hint="fix or remove them in the Space config, then deploy again",
            )
        if not content.checkpoints and not content.datasets:
            raise NebulaError(
                f"nothing to show: no checkpoint or dataset found on {target.endpoint}",
                hint="run `nebula-hub quickstart` (or name checkpoints/datasets in --config) first",
            )
        resolved = SpaceConfig.from_dict(
            {
                **to_dict(content.config),
                "checkpoints": [vars(c.ref) for c in content.checkpoints],
                "datasets": [{**vars(d.ref), "revision": d.revision} for d in content.datasets],
            },
            source=config.source,
        )
        with tempfile.TemporaryDirectory(prefix="nebula-space-") as tmp:
            folder = build_space_folder(resolved, tmp, hub_endpoint=None if target.is_local else target.endpoint)
            api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
            info = api.upload_folder(
                folder_path=str(folder),
                repo_id=repo_id,
                repo_type="space",
                commit_message=f"nebula-hub {__version__}: deploy the comparison Space",
            )
    models = sorted({c.repo for c in resolved.checkpoints})
    datasets = sorted({d.repo for d in resolved.datasets})
    return DeployResult(
        repo_id=repo_id, url=f"{target.endpoint}/spaces/{repo_id}", commit=info.oid, models=models, datasets=datasets
    )
