"""Where nebula-hub keeps things: its cache folder and the resources that ship with it (cards, pipelines, spaces).

`cards/`, `pipelines/` and `spaces/` live at the top of the repository; `nebula_hub/_resources/` links to them so a
wheel ships them too. Everything else resolves them through `resource_path`.
"""

import os
from pathlib import Path


_PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """The nebula-hub cache folder: `$NEBULA_HUB_CACHE`, else `$XDG_CACHE_HOME/nebula-hub`, else `~/.cache/nebula-hub`."""
    if os.environ.get("NEBULA_HUB_CACHE"):
        return Path(os.environ["NEBULA_HUB_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nebula-hub"


def resource_path(*parts: str) -> Path:
    """Path of a shipped resource, e.g. `resource_path("cards", "model_card.md.j2")`.

    Looks in the installed package's `_resources/` first, then in the source checkout.
    """
    for root in (_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    from nebula_hub.errors import NebulaError

    raise NebulaError(
        f"resource {'/'.join(parts)!r} not found next to the nebula_hub package",
        hint="reinstall nebula-hub (pip install -e .) so cards/, pipelines/ and spaces/ are available",
    )
