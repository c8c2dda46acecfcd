"""PNG charts for the dataset card (matplotlib, headless): distributions and the stage funnel.

Every function writes one PNG and returns its path; an empty input draws nothing and returns `None`, so the card
can guard on it.

Example:
    >>> from nebula_hub.publish.charts import bar_chart
    >>> bar_chart({"math": 40, "code": 12}, "Records per task", "/tmp/task.png")  # doctest: +SKIP
    PosixPath('/tmp/task.png')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


# Charts show the largest categories; the rest are summed into one bar so a long tail stays readable.
MAX_BARS = 15


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No software/date metadata: the same data gives byte-identical PNGs, so identical publishes stay identical.
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return path


def bar_chart(counts: dict[str, int], title: str, path: str | Path, xlabel: str = "records") -> Path | None:
    """Horizontal bar chart of `counts` (largest first, at most `MAX_BARS` bars plus an "other" bar)."""
    items = sorted(((str(k), int(v)) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return None
    if len(items) > MAX_BARS:
        items = items[: MAX_BARS - 1] + [
            (f"other ({len(items) - MAX_BARS + 1})", sum(v for _, v in items[MAX_BARS - 1 :]))
        ]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(items) + 1.2))
    labels, values = [k for k, _ in items][::-1], [v for _, v in items][::-1]
    bars = ax.barh(labels, values, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.15)
    return _save(fig, path)


def histogram_chart(length: dict[str, Any], title: str, path: str | Path) -> Path | None:
    """Bar chart of a pre-binned histogram `{"unit", "bins": [edges...], "counts": [...]}` (last bin open-ended)."""
    bins, counts = length.get("bins") or [], length.get("counts") or []
    if not bins or len(bins) != len(counts) or not any(counts):
        return None
    labels = [f"{int(lo):,}-{int(hi):,}" for lo, hi in zip(bins, bins[1:], strict=False)] + [f">= {int(bins[-1]):,}"]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.bar(range(len(counts)), counts, color="#55a868")
    ax.set_xticks(range(len(counts)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(length.get("unit", "characters"))
    ax.set_ylabel("records")
    return _save(fig, path)


def funnel_chart(funnel: list[dict[str, Any]], title: str, path: str | Path) -> Path | None:
    """Records in and out of each curation stage, in pipeline order."""
    rows = [s for s in funnel if isinstance(s, dict) and "stage" in s]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(rows) + 1.2))
    stages = [str(s["stage"]) for s in rows][::-1]
    ins = [int(s.get("in", 0) or 0) for s in rows][::-1]
    outs = [int(s.get("out", 0) or 0) for s in rows][::-1]
    ax.barh(stages, ins, color="#dd8452", alpha=0.45, label="in")
    bars = ax.barh(stages, outs, color="#dd8452", label="out")
    ax.bar_label(bars, labels=[f"{o:,} / {i:,}" for o, i in zip(outs, ins, strict=True)], padding=3, fontsize=8)
    ax.set_title(title)
    ax.set_xlabel("records")
    ax.legend(loc="lower right", fontsize=8)
    ax.margins(x=0.2)
    return _save(fig, path)
