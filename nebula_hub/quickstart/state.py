"""The quickstart's state file: which stages are done, what they produced, and what they cost.

`<workdir>/quickstart-state.json`, rewritten atomically after every stage, so a rerun skips completed stages and
reruns the failed one:

    {"format": 1, "settings": {"size": "small", "hub": "...", "namespace": "local", ...},
     "stages": {"curate-sft": {"status": "done", "output": {...}, "wall_s": 81.2, "peak_rss_mb": 612.0, ...}}}

Example:
    >>> import tempfile
    >>> state = QuickstartState.load(tempfile.mkdtemp(), {"size": "tiny"})
    >>> state.record("curate-sft", "done", output={"path": "/tmp/x"}, wall_s=1.0)
    >>> state.done("curate-sft"), state.output("curate-sft")["path"]
    (True, '/tmp/x')
"""

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError


STATE_FILE = "quickstart-state.json"
FORMAT = 1
# Settings that decide what the stages produce: a rerun with other values would mix two runs in one workdir.
PINNED = ("size", "hub", "namespace")


class QuickstartState:
    """The state of one quickstart workdir (see the module docstring)."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = path
        self.data = data

    @classmethod
    def load(cls, workdir: str | Path, settings: dict[str, Any]) -> "QuickstartState":
        """Open the workdir's state, or start a new one; refuses a workdir that holds a run with other settings."""
        path = Path(workdir) / STATE_FILE
        if not path.is_file():
            state = cls(path, {"format": FORMAT, "settings": dict(settings), "created_at": _now(), "stages": {}})
            state.save()
            return state
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise NebulaError(
                f"quickstart state file {path} is not valid JSON ({err.msg} at line {err.lineno})",
                hint="rerun with --restart to start over (it deletes the state file and the workdir's outputs)",
            ) from None
        old = data.get("settings", {})
        changed = [k for k in PINNED if k in settings and old.get(k) != settings[k]]
        if changed:
            what = ", ".join(f"{k} {old.get(k)!r} -> {settings[k]!r}" for k in changed)
            raise NebulaError(
                f"workdir {path.parent} holds a quickstart run with other settings ({what})",
                hint="rerun with the same settings to resume it, pass --restart to start over there, "
                "or give another --workdir",
            )
        data.setdefault("stages", {})
        data["settings"] = {**old, **settings}
        return cls(path, data)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
        tmp.replace(self.path)

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return self.data["stages"]

    def done(self, stage: str) -> bool:
        return self.stages.get(stage, {}).get("status") == "done"

    def output(self, stage: str) -> dict[str, Any]:
        return self.stages.get(stage, {}).get("output") or {}

    def record(self, stage: str, status: str, output: dict[str, Any] | None = None, **figures: Any) -> None:
        """Record a stage's outcome (`done`, `failed` or `interrupted`) with its output and measurements."""
        entry = {"status": status, "finished_at": _now(), **figures}
        if output is not None:
            entry["output"] = output
        attempts = self.stages.get(stage, {}).get("attempts", 0) + 1
        self.stages[stage] = {**entry, "attempts": attempts}
        self.save()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
