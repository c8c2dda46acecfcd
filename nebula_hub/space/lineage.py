"""The Lineage tab: checkpoint -> parent checkpoint -> dataset revisions -> recipe, read from the cards' `nebula`
blocks, as a table and as a graph drawn with matplotlib (offline; no graphviz or mermaid runtime needed).

Example:
    >>> g = lineage_graph([])
    >>> g.nodes, g.edges
    ({}, [])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from nebula_hub.space.hub_reader import CheckpointInfo


def _short(sha: str | None, n: int = 10) -> str:
    return (sha or "?")[:n]


def lineage_frame(checkpoints: list[CheckpointInfo]) -> pd.DataFrame:
    """One row per checkpoint: commit, stage/method, parent (repo@revision and sha), datasets, teachers, recipe."""
    rows = []
    for c in checkpoints:
        nb = c.nebula
        parent = c.parent
        datasets = [
            f"{d.get('repo')}[{d.get('config') or 'default'}]@{d.get('revision') or '?'} ({_short(d.get('sha'), 8)})"
            for d in nb.get("datasets") or []
            if isinstance(d, dict)
        ]
        teachers = [
            f"{t.get('name') or t.get('repo')}: {t.get('repo')}@{_short(t.get('sha'), 8)}"
            for t in nb.get("teachers") or []
            if isinstance(t, dict)
        ]
        recipe = nb.get("recipe") or {}
        rows.append(
            {
                "checkpoint": c.label,
                "commit": _short(c.sha, 12),
                "stage": f"{nb.get('stage', '–')} ({nb.get('method', '–')})" if nb else "– (no nebula block)",
                "parent": f"{parent.get('repo')}@{parent.get('revision') or '?'} ({_short(parent.get('sha'), 8)})"
                if parent
                else (str(c.metadata.get("base_model")) if c.metadata.get("base_model") else "–"),
                "datasets": "; ".join(dict.fromkeys(datasets)) or "–",
                "teachers": "; ".join(teachers) or "–",
                "recipe": f"{recipe.get('name') or recipe.get('path')} (sha256 {_short(recipe.get('sha256'), 12)})"
                if recipe
                else "–",
                "nebula-hub": nb.get("version", "–"),
            }
        )
    return pd.DataFrame(
        rows, columns=["checkpoint", "commit", "stage", "parent", "datasets", "teachers", "recipe", "nebula-hub"]
    )


@dataclass
class Graph:
    """Nodes (id -> (kind, label)) and edges (source id, target id, label)."""

    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)


def lineage_graph(checkpoints: list[CheckpointInfo]) -> Graph:
    """The lineage as a graph: checkpoints (by sha), their parents, dataset revisions, teachers and recipes."""
    g = Graph()
    for c in checkpoints:
        g.nodes[c.sha] = ("checkpoint", f"{c.label}\n{_short(c.sha, 8)}")
    for c in checkpoints:
        nb, parent = c.nebula, c.parent
        if parent.get("sha"):
            if parent["sha"] not in g.nodes:
                g.nodes[parent["sha"]] = (
                    "checkpoint",
                    f"{parent.get('repo')}@{parent.get('revision') or ''}\n{_short(parent['sha'], 8)}",
                )
            g.edges.append((parent["sha"], c.sha, nb.get("method") or ""))
        for d in nb.get("datasets") or []:
            if isinstance(d, dict) and d.get("repo"):
                node = f"ds:{d['repo']}@{d.get('sha') or d.get('revision')}"
                g.nodes.setdefault(
                    node,
                    ("dataset", f"{d['repo'].split('/')[-1]}\n@{d.get('revision') or ''} {_short(d.get('sha'), 8)}"),
                )
                edge = (node, c.sha, d.get("config") or "")
                if edge not in g.edges:
                    g.edges.append(edge)
        for t in nb.get("teachers") or []:
            if isinstance(t, dict) and t.get("sha"):
                g.nodes.setdefault(
                    t["sha"], ("checkpoint", f"{t.get('repo')}@{t.get('revision') or ''}\n{_short(t['sha'], 8)}")
                )
                g.edges.append((t["sha"], c.sha, f"teacher {t.get('name') or ''}".strip()))
        recipe = nb.get("recipe") or {}
        if recipe.get("sha256"):
            node = f"recipe:{recipe['sha256']}"
            g.nodes.setdefault(node, ("recipe", f"recipe {recipe.get('name') or ''}\n{_short(recipe['sha256'], 8)}"))
            g.edges.append((node, c.sha, ""))
    return g


def _layout(g: Graph) -> dict[str, tuple[float, float]]:
    # A layered layout by hand: matplotlib has no graph layout, and networkx/graphviz are not dependencies.
    models = [n for n, (kind, _) in g.nodes.items() if kind == "checkpoint"]
    parents: dict[str, list[str]] = {n: [] for n in models}
    for src, dst, label in g.edges:
        if src in parents and dst in parents and not label.startswith("teacher"):
            parents[dst].append(src)
    depth: dict[str, int] = {}

    def d(n: str, hops: int = 0) -> int:
        if n not in depth:
            depth[n] = 0 if not parents[n] or hops > len(models) else 1 + max(d(p, hops + 1) for p in parents[n])
        return depth[n]

    columns: dict[int, list[str]] = {}
    for n in models:
        columns.setdefault(d(n), []).append(n)
    pos = {}
    for x, names in columns.items():
        for i, n in enumerate(names):
            pos[n] = (x * 3.0, -(i - (len(names) - 1) / 2) * 1.3)
    for kind, _y0 in (("dataset", None), ("recipe", None)):
        extras = [n for n, (k, _) in g.nodes.items() if k == kind]
        low = min((p[1] for p in pos.values()), default=0)
        high = max((p[1] for p in pos.values()), default=0)
        for i, n in enumerate(extras):
            targets = [pos[dst][0] for src, dst, _ in g.edges if src == n and dst in pos]
            x = sum(targets) / len(targets) - 1.5 if targets else i * 3.0
            y = (low - 1.6 - 0.9 * (i % 2)) if kind == "dataset" else (high + 1.6 + 0.9 * (i % 2))
            pos[n] = (x, y)
    return pos


def graph_figure(g: Graph):
    """Draw the lineage graph; a matplotlib `Figure`, or None when there is nothing to draw."""
    if not g.nodes:
        return None
    # Figure objects, not pyplot: no global figure registry to leak or to share between the Space's threads.
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    pos = _layout(g)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    columns = (max(xs) - min(xs)) / 3.0 + 1
    fig = Figure(figsize=(max(6.0, 2.6 * columns + 1.5), max(3.6, 0.75 * (max(ys) - min(ys) + 2.5))))
    ax = fig.subplots()
    style = {"checkpoint": ("#eef2ff", "#6366f1"), "dataset": ("#ecfdf5", "#10b981"), "recipe": ("#fff7ed", "#f59e0b")}
    for src, dst, label in g.edges:
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#94a3b8",
                "lw": 1.2,
                "shrinkA": 22,
                "shrinkB": 22,
                "connectionstyle": "arc3,rad=0.08",
                "linestyle": "--" if label.startswith("teacher") else "-",
            },
        )
        if label:
            ax.text(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                label,
                fontsize=8,
                color="#475569",
                ha="center",
                va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
    for n, (kind, label) in g.nodes.items():
        face, edge = style[kind]
        ax.text(
            *pos[n],
            label,
            ha="center",
            va="center",
            fontsize=9,
            family="monospace",
            bbox={"boxstyle": "round,pad=0.45", "fc": face, "ec": edge, "lw": 1.4},
        )
    ax.set_xlim(min(xs) - 1.8, max(xs) + 1.8)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.axis("off")
    handles = [
        Line2D([], [], marker="s", ls="", markersize=10, markerfacecolor=f, markeredgecolor=e, label=k)
        for k, (f, e) in style.items()
    ]
    ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
