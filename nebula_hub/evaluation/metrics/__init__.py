"""nebula-hub's `evaluate` metric modules, loaded from their local folders so they work offline.

`evaluate.load("exact_match")` and friends download their script from the Hub and fail offline; a folder `<name>/`
holding `<name>.py` with an `evaluate.Metric` subclass loads from disk: `evaluate.load(str(metric_path(name)))`.
Each metric calls the shared verifiers (`nebula_hub.verify`), so eval scores, curation filters and GRPO rewards agree.

Example:
    >>> from nebula_hub.evaluation.metrics import load_metric
    >>> load_metric("mc_accuracy").compute(predictions=["Answer: A"], references=["A"])["accuracy"]
    1.0
"""

from pathlib import Path

from nebula_hub.errors import NebulaError


METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES = ("ifeval", "math_accuracy", "code_pass_at_k", "mc_accuracy")


def metric_path(name: str) -> Path:
    """The folder of metric `name` (pass it to `evaluate.load`)."""
    if name not in METRIC_NAMES:
        raise NebulaError(f"unknown metric {name!r}", hint="choose among: " + ", ".join(METRIC_NAMES))
    return METRICS_DIR / name


_loaded: dict = {}


def load_metric(name: str):
    """`evaluate.load` of one of nebula-hub's metrics from its local folder (cached per process)."""
    import evaluate

    if name not in _loaded:
        _loaded[name] = evaluate.load(str(metric_path(name)))
    return _loaded[name]
