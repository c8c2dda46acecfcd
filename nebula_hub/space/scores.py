"""The Benchmarks tab: per-checkpoint scores read from cards' `model-index`, deltas against the base, charts per
capability area, laid out like a paper's result table (areas as column groups, one row per checkpoint, an average).

Example:
    >>> from nebula_hub.space.hub_reader import Score
    >>> table = score_table({"base": [Score("GSM8K", "gsm8k", "math", "accuracy", 0.2, True)],
    ...                      "sft": [Score("GSM8K", "gsm8k", "math", "accuracy", 0.5, True)]}, base="base")
    >>> table.frame.loc["sft", "GSM8K"], table.deltas.loc["sft", "GSM8K"]
    (50.0, 30.0)
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from nebula_hub.space.hub_reader import Score


AREA_ORDER = ("instruction_following", "math", "code", "knowledge", "other")
AREA_TITLES = {
    "instruction_following": "Instruction following",
    "math": "Math",
    "code": "Code",
    "knowledge": "Knowledge",
    "other": "Other",
}
AVERAGE = "Average"


@dataclass
class ScoreTable:
    """Primary scores (rows: checkpoints, columns: benchmarks grouped by area, then the average), the deltas against
    the base row, the benchmark -> area map, and every metric in long form with its settings."""

    frame: pd.DataFrame
    deltas: pd.DataFrame | None
    areas: dict[str, str]
    base: str | None
    long: pd.DataFrame
    percent: dict[str, bool] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.frame.empty


def score_table(scores: dict[str, list[Score]], base: str | None = None) -> ScoreTable:
    """Build the table from each checkpoint's scores (in display order). Scores whose values all lie in [0, 1] are
    shown as percentages, the usual way papers print accuracies."""
    long_rows = [
        {"checkpoint": label, "area": s.area, "benchmark": s.benchmark, "metric": s.metric, "value": s.value,
         "primary": s.primary, "settings": ", ".join(f"{k}={v}" for k, v in sorted(s.settings.items()))}
        for label, items in scores.items() for s in items
    ]  # fmt: skip
    long = pd.DataFrame(
        long_rows, columns=["checkpoint", "area", "benchmark", "metric", "value", "primary", "settings"]
    )
    if long.empty:
        return ScoreTable(pd.DataFrame(), None, {}, base, long)
    percent = {}
    for (bench, metric), group in long.groupby(["benchmark", "metric"]):
        percent[f"{bench}/{metric}"] = bool(group["value"].between(0, 1).all())
    long["shown"] = [
        v * 100 if percent[f"{b}/{m}"] else v for b, m, v in zip(long.benchmark, long.metric, long.value, strict=False)
    ]
    primary = long[long.primary]
    areas = dict(zip(primary.benchmark, primary.area, strict=False))
    order = sorted(areas, key=lambda b: (AREA_ORDER.index(areas[b]) if areas[b] in AREA_ORDER else len(AREA_ORDER), b))
    frame = primary.pivot_table(index="checkpoint", columns="benchmark", values="shown", aggfunc="first")
    frame = frame.reindex(index=[c for c in scores if c in frame.index], columns=order)
    frame[AVERAGE] = frame[order].mean(axis=1, skipna=False)
    frame = frame.round(1)
    deltas = None
    if base is not None and base in frame.index:
        deltas = (frame - frame.loc[base]).round(1)
    return ScoreTable(frame, deltas, areas, base, long.drop(columns=["shown"]), percent)


def table_html(table: ScoreTable) -> str:
    """The paper-style HTML table: area column groups, best score per column in bold, deltas against the base as
    coloured subscripts."""
    if table.empty:
        return "<p class='nh-empty'>No scores yet: run <code>nebula-hub eval REPO@REVISION</code> to add results to a card's model-index.</p>"
    groups: list[tuple[str, list[str]]] = []
    for bench in table.frame.columns:
        area = table.areas.get(bench, "")
        if bench == AVERAGE:
            groups.append(("", [bench]))
        elif groups and groups[-1][0] == area:
            groups[-1][1].append(bench)
        else:
            groups.append((area, [bench]))
    head1 = "<th rowspan='2' class='nh-ckpt'>Checkpoint</th>" + "".join(
        f"<th colspan='{len(b)}' class='nh-area'>{html.escape(AREA_TITLES.get(a, a))}</th>"
        if a
        else "<th rowspan='2' class='nh-avg'>Average</th>"
        for a, b in groups
    )
    head2 = "".join(f"<th>{html.escape(b)}</th>" for a, bs in groups if a for b in bs)
    best = table.frame.max(axis=0)
    body = []
    for label, row in table.frame.iterrows():
        cells = []
        for bench, value in row.items():
            if pd.isna(value):
                cells.append("<td class='nh-na'>–</td>")
                continue
            text = f"{value:.1f}"
            if value == best[bench] and len(table.frame) > 1:
                text = f"<b>{text}</b>"
            if table.deltas is not None and label != table.base and not pd.isna(table.deltas.loc[label, bench]):
                d = table.deltas.loc[label, bench]
                cls = "nh-up" if d > 0 else "nh-down" if d < 0 else "nh-flat"
                text += f"<sub class='{cls}'>{d:+.1f}</sub>"
            cells.append(f"<td>{text}</td>")
        tag = " <span class='nh-tag'>base</span>" if label == table.base else ""
        body.append(f"<tr><td class='nh-ckpt'>{html.escape(str(label))}{tag}</td>{''.join(cells)}</tr>")
    note = (
        "Scores in %, deltas against the base as subscripts; best per column in bold."
        if any(table.percent.values())
        else "Deltas against the base as subscripts; best per column in bold."
    )
    if any("†" in str(c) for c in table.frame.columns):
        note += " † a bundled offline sample of the benchmark, not the full set."
    return (
        f"<div class='nh-table-wrap'><table class='nh-table' id='nh-bench-table'><thead><tr>{head1}</tr>"
        f"<tr>{head2}</tr></thead><tbody>{''.join(body)}</tbody></table><p class='nh-note'>{note}</p></div>"
    )


def display_frame(table: ScoreTable) -> pd.DataFrame:
    """The sortable version of the table (checkpoint as a column, deltas as `Δ <benchmark>` columns)."""
    if table.empty:
        return pd.DataFrame({"checkpoint": []})
    out = table.frame.reset_index().rename(columns={"index": "checkpoint"})
    out.columns.name = None
    if table.deltas is not None:
        for bench in table.frame.columns:
            out[f"Δ {bench}"] = table.deltas[bench].values
    return out


def area_chart(table: ScoreTable):
    """One panel per capability area, grouped bars (benchmark x checkpoint); a matplotlib `Figure`, or None."""
    if table.empty:
        return None
    # Figure objects, not pyplot: no global figure registry to leak or to share between the Space's threads.
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    areas = [a for a in AREA_ORDER if a in set(table.areas.values())]
    fig = Figure(figsize=(max(4.2 * len(areas), 6), 3.6))
    axes = fig.subplots(1, len(areas), squeeze=False)
    colors = colormaps["tab10"].colors
    checkpoints = list(table.frame.index)
    width = 0.8 / max(len(checkpoints), 1)
    for ax, area in zip(axes[0], areas, strict=False):
        benches = [b for b in table.frame.columns if table.areas.get(b) == area]
        for i, ckpt in enumerate(checkpoints):
            values = [table.frame.loc[ckpt, b] for b in benches]
            xs = [j + (i - (len(checkpoints) - 1) / 2) * width for j in range(len(benches))]
            ax.bar(xs, values, width=width * 0.95, color=colors[i % len(colors)], label=str(ckpt))
        ax.set_xticks(range(len(benches)), benches)
        ax.set_title(AREA_TITLES.get(area, area), fontsize=11, fontweight="bold")
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].set_ylabel("score (%)" if any(table.percent.values()) else "score")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.08 + 0.04 * ((len(labels) - 1) // 4), 1, 1))
    return fig


def settings_markdown(table: ScoreTable) -> str:
    """The settings that produced each score (from the results' args), one line per distinct setting."""
    if table.empty:
        return ""
    rows = table.long[table.long.settings != ""].drop_duplicates(["benchmark", "settings"])
    if rows.empty:
        return "_The cards record no evaluation settings._"
    lines = [f"- **{r.benchmark}**: {r.settings}" for r in rows.itertuples()]
    return "**Evaluation settings** (from the cards' model-index)\n\n" + "\n".join(lines)
