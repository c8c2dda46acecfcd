"""The Data tab: a curated dataset version's stage funnel, its task/difficulty/source distributions, and a record
browser over the curated configs (with verification verdicts) and the `rejected` config (with stage and reason).

Everything comes from the dataset repo: `stats.json` (funnel, distributions; layout in `nebula_hub/artifacts.py`),
`nebula_manifest.json` (kind, version, distributions as counted at publish time) and the Parquet configs.

Example:
    >>> funnel_frame({"funnel": [{"stage": "normalize", "in": 10, "out": 8, "reasons": {"empty": 2}}]}).iloc[0].tolist()
    ['normalize', 10, 8, 2, 80.0, 'empty: 2']
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from nebula_hub.space.hub_reader import DatasetInfo


DIST_KEYS = ("task", "difficulty", "source")


def summary_markdown(info: DatasetInfo) -> str:
    m, totals = info.manifest, info.stats.get("totals") or {}
    parts = [
        f"### `{info.ref.repo}` · `{info.revision}`",
        f"commit `{info.sha[:12]}` · kind **{info.kind}**"
        + (f" · published {m['published_at']}" if m.get("published_at") else "")
        + (f" · nebula-hub {m['nebula_hub_version']}" if m.get("nebula_hub_version") else ""),
    ]
    if totals:
        parts.append(" · ".join(f"**{k}**: {v:,}" for k, v in totals.items() if isinstance(v, (int, float))))
    configs = ", ".join(f"`{c}`" for c in info.configs) or "none in the card"
    parts.append(f"configs: {configs}")
    if not info.stats:
        parts.append("_This version has no `stats.json`: funnel and distributions are unavailable._")
    return "\n\n".join(parts)


def funnel_frame(stats: dict[str, Any]) -> pd.DataFrame:
    """One row per curation stage: records in, out, dropped, kept %, and the drop reasons."""
    rows = []
    for step in stats.get("funnel") or []:
        n_in, n_out = int(step.get("in") or 0), int(step.get("out") or 0)
        reasons = step.get("reasons") or {}
        rows.append(
            [
                step.get("stage", "?"),
                n_in,
                n_out,
                n_in - n_out,
                round(100 * n_out / n_in, 1) if n_in else 0.0,
                ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])),
            ]
        )
    return pd.DataFrame(rows, columns=["stage", "in", "out", "dropped", "kept %", "drop reasons"])


def distributions(info: DatasetInfo) -> dict[str, dict[str, int]]:
    """task/difficulty/source counts: from `stats.json`, else from the manifest."""
    dist = info.stats.get("distributions") or info.manifest.get("distributions") or {}
    return {k: {str(a): int(b) for a, b in (dist.get(k) or {}).items()} for k in DIST_KEYS if dist.get(k)}


def funnel_chart(stats: dict[str, Any]):
    """Horizontal funnel: records kept after each stage, dropped ones stacked in grey; a `Figure` or None."""
    frame = funnel_frame(stats)
    if frame.empty:
        return None
    # Figure objects, not pyplot: no global figure registry to leak or to share between the Space's threads.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 0.55 * len(frame) + 1.2))
    ax = fig.subplots()
    ys = list(range(len(frame)))[::-1]
    ax.barh(ys, frame["out"], color="#6366f1", label="kept")
    ax.barh(ys, frame["dropped"], left=frame["out"], color="#e5e7eb", label="dropped")
    for y, kept, dropped in zip(ys, frame["out"], frame["dropped"], strict=False):
        ax.text(kept, y, f" {kept:,}" + (f"  (−{dropped:,})" if dropped else ""), va="center", fontsize=9)
    ax.set_yticks(ys, frame["stage"])
    ax.set_xlabel("records")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", frameon=False, fontsize=9)
    ax.set_xlim(0, max(frame["in"].max(), 1) * 1.25)
    fig.tight_layout()
    return fig


def distribution_chart(info: DatasetInfo):
    """One bar panel per distribution (task, difficulty, source); a `Figure` or None."""
    dist = distributions(info)
    if not dist:
        return None
    # Figure objects, not pyplot: no global figure registry to leak or to share between the Space's threads.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(dist), 3.4))
    axes = fig.subplots(1, len(dist), squeeze=False)
    palette = {"task": "#0ea5e9", "difficulty": "#f59e0b", "source": "#10b981"}
    for ax, (name, counts) in zip(axes[0], dist.items(), strict=False):
        items = sorted(counts.items(), key=lambda kv: -kv[1])[:12]
        ax.bar([k for k, _ in items], [v for _, v in items], color=palette.get(name, "#6366f1"))
        ax.set_title(name, fontsize=11, fontweight="bold")
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _first_user(messages: Any) -> str:
    for m in messages or []:
        if isinstance(m, dict) and m.get("role") == "user":
            text = str(m.get("content") or "")
            return text if len(text) <= 120 else text[:117] + "..."
    return ""


def _verdicts(row: dict) -> str:
    out = [f"{v.get('verifier')}: {v.get('verdict')}" for v in row.get("verification") or [] if isinstance(v, dict)]
    return ", ".join(out) or "–"


def records_frame(rows: list[dict], rejected: bool) -> pd.DataFrame:
    """A browsable table: curated rows show task, difficulty, source and verdicts; rejected rows stage and reason."""
    if rejected:
        data = [
            {
                "id": r.get("id"),
                "stage": r.get("stage"),
                "reason": r.get("reason"),
                "detail": (r.get("detail") or "")[:160],
                "source": r.get("source"),
                "prompt": _first_user(
                    (r.get("record") or {}).get("messages") or (r.get("record") or {}).get("prompt")
                ),
            }
            for r in rows
        ]
        return pd.DataFrame(data, columns=["id", "stage", "reason", "detail", "source", "prompt"])
    data = []
    for r in rows:
        task = r.get("task")
        difficulty = r.get("difficulty")
        data.append(
            {
                "id": r.get("id"),
                "task": task.get("label") if isinstance(task, dict) else task,
                "difficulty": difficulty.get("level") if isinstance(difficulty, dict) else difficulty,
                "source": (r.get("source") or {}).get("name")
                if isinstance(r.get("source"), dict)
                else r.get("source"),
                "verdicts": _verdicts(r),
                "prompt": _first_user(r.get("messages") or r.get("prompt")),
            }
        )
    return pd.DataFrame(data, columns=["id", "task", "difficulty", "source", "verdicts", "prompt"])


def record_markdown(row: dict | None) -> str:
    """One record in full: the conversation, then verification verdicts or the rejection, then the rest as JSON."""
    if not row:
        return "_Select a row to see the whole record._"
    parts = [f"**id** `{row.get('id')}`"]
    if row.get("stage"):
        parts.append(
            f"**rejected at** `{row['stage']}` · **reason** `{row.get('reason')}`"
            + (f"\n\n> {row['detail']}" if row.get("detail") else "")
        )
    body = row.get("record") if isinstance(row.get("record"), dict) else row
    for m in body.get("messages") or body.get("prompt") or []:
        if isinstance(m, dict):
            parts.append(f"**{m.get('role')}**\n\n```text\n{m.get('content')}\n```")
    for v in row.get("verification") or body.get("verification") or []:
        if isinstance(v, dict):
            parts.append(
                f"**{v.get('verifier')}** verdict **{str(v.get('verdict')).upper()}** (score {v.get('score')})"
                f" {v.get('detail') or ''}"
            )
    rest = {k: v for k, v in body.items() if k not in ("messages", "prompt", "verification", "id")}
    parts.append("```json\n" + json.dumps(rest, indent=2, ensure_ascii=False, default=str)[:4000] + "\n```")
    return "\n\n".join(parts)
