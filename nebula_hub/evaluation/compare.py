"""Compare checkpoints by benchmark, reading only their model cards on the Hub (`model-index`), like the paper's
tables: one row per benchmark metric (and settings), one column per checkpoint, deltas against a baseline.

    nebula-hub eval compare local/tiny@sft local/tiny@grpo --baseline local/tiny@sft --csv table.csv

Example:
    >>> table = compare_checkpoints(["local/tiny@sft", "local/tiny@grpo"], baseline="local/tiny@sft")  # doctest: +SKIP
    >>> print(table.markdown())  # doctest: +SKIP
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from nebula_hub.errors import NebulaError


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`REPO@REV` -> `(repo, rev)`; a bare repo means its main branch.

    Example:
        >>> parse_ref("local/tiny@sft"), parse_ref("local/tiny")
        (('local/tiny', 'sft'), ('local/tiny', None))
    """
    repo, _, revision = ref.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise NebulaError(f"eval compare: {ref!r} is not REPO@REVISION", hint="e.g. local/tiny-sft@sft")
    return repo, revision or None


@dataclass
class Comparison:
    """Scores of several checkpoints: `columns` (their refs), `rows` (label, metric, config, values per column, in
    the card's units), and `baseline` (a column, or None)."""

    columns: list[str]
    rows: list[dict]
    baseline: str | None

    def delta(self, row: dict, column: str) -> float | None:
        if self.baseline is None or column == self.baseline:
            return None
        value, base = row["values"].get(column), row["values"].get(self.baseline)
        return None if value is None or base is None else value - base

    def markdown(self) -> str:
        """Scores in percent (one decimal), deltas in points against the baseline; `-` where a card has no score."""
        header = ["benchmark", "metric", "settings"] + [
            c + (" (baseline)" if c == self.baseline else "") for c in self.columns
        ]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows:
            cells = [row["benchmark"], row["metric"], row["config"] or "-"]
            for column in self.columns:
                value = row["values"].get(column)
                if value is None:
                    cells.append("-")
                    continue
                cell = f"{100 * value:.1f}"
                delta = self.delta(row, column)
                if delta is not None:
                    cell += f" ({100 * delta:+.1f})"
                cells.append(cell)
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def csv(self) -> str:
        """One line per row: raw values per checkpoint, then `delta:<checkpoint>` columns (empty where undefined)."""
        out = io.StringIO()
        writer = csv.writer(out)
        others = [c for c in self.columns if c != self.baseline] if self.baseline else []
        writer.writerow(["benchmark", "metric", "settings", *self.columns, *[f"delta:{c}" for c in others]])
        for row in self.rows:
            values = [row["values"].get(c) for c in self.columns]
            deltas = [self.delta(row, c) for c in others]
            writer.writerow(
                [
                    row["benchmark"],
                    row["metric"],
                    row["config"] or "",
                    *["" if v is None else repr(v) for v in values],
                    *["" if d is None else repr(d) for d in deltas],
                ]
            )
        return out.getvalue()

    def save_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.csv())
        return path


def compare_checkpoints(refs: list[str], baseline: str | None = None, hub: str | None = None) -> Comparison:
    """Read each checkpoint's card and line up its eval results.

    Args:
        refs (`list` of `str`): `REPO@REV` of each checkpoint (a baseline not in the list is added first).
        baseline (`str`, *optional*): the checkpoint deltas are taken against.
        hub (`str`, *optional*): the hub URL (`local`, a URL, or `HF_ENDPOINT`).

    Raises:
        `NebulaError`: a ref is malformed, a repo or revision does not exist, or no card holds any eval result.
    """
    from nebula_hub.evaluation.results import SUITE_DATASET, card_results
    from nebula_hub.hub import get_api, hub_errors, resolve_hub

    if not refs:
        raise NebulaError("eval compare: no checkpoints given", hint="e.g. nebula-hub eval compare REPO@a REPO@b")
    columns = list(dict.fromkeys(([baseline] if baseline else []) + list(refs)))
    target = resolve_hub(hub)
    api = get_api(target)
    rows: dict[tuple, dict] = {}
    with hub_errors(target):
        for column in columns:
            repo, revision = parse_ref(column)
            for r in card_results(repo, revision, api=api):
                row = rows.setdefault(
                    r["key"],
                    {
                        "benchmark": r["dataset_name"],
                        "metric": r["metric"],
                        "config": r["metric_config"],
                        "dataset": r["dataset"],
                        "values": {},
                    },
                )
                row["values"][column] = r["value"]
    if not rows:
        raise NebulaError(
            f"eval compare: none of the cards of {', '.join(columns)} holds eval results",
            hint="run `nebula-hub eval REPO@REV --push` on them first",
        )
    # Benchmarks first (in first-seen order), suite averages last, as in the paper's tables.
    ordered = sorted(rows.values(), key=lambda r: r["dataset"] == SUITE_DATASET)
    return Comparison(columns, ordered, baseline)
