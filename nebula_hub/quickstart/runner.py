"""`run_quickstart`: the whole recipe end to end on embedded defaults, stage by stage, resumable and measured.

    hub -> curate-sft -> curate-rl -> publish -> train-ins-sft -> train-grpo -> train-teachers -> train-opd
        -> train-mopd -> evaluate -> space

Each stage after `hub` runs in a child process (`nebula_hub.quickstart.child`) whose wall time and peak memory are
measured (`nebula_hub.quickstart.measure`); the outcome goes to `<workdir>/quickstart-state.json`, so a rerun skips
completed stages and reruns the failed one (and each piece resumes its own partial work). The child's output goes to
`<workdir>/logs/<stage>.log`.

Example:
    >>> from nebula_hub.quickstart import QuickstartOptions, run_quickstart
    >>> result = run_quickstart(QuickstartOptions(size="tiny", workdir="/tmp/qs", space=False))  # doctest: +SKIP
    >>> sorted(result.checkpoints)                                                             # doctest: +SKIP
    ['grpo', 'ins_sft', 'mopd', 'opd']
"""

import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.paths import resource_path
from nebula_hub.quickstart.measure import run_measured
from nebula_hub.quickstart.recipe import CHECKPOINTS, stage_groups
from nebula_hub.quickstart.sizes import DEFAULT_SIZE, SIZES
from nebula_hub.quickstart.state import STATE_FILE, QuickstartState


SET_GROUPS = ("sft", "rl", "recipe", "eval")
# What --restart removes from the workdir (never the folder itself: it may hold the user's own files).
OUTPUTS = (STATE_FILE, "curated", "runs", "eval", "logs", "context", "space.yaml", "summary.md")


@dataclass
class QuickstartOptions:
    """Options of one quickstart run (the `nebula-hub quickstart` flags).

    Run:
        size: `tiny`, `small` or `medium` (`nebula_hub.quickstart.sizes`). workdir: where outputs, run folders, logs
        and the state file go. restart: delete the workdir's quickstart outputs and state first.
    Hub:
        hub: hub URL (default: `HF_ENDPOINT`, else the local Hub, started if needed); namespace: owner of the repos
        (default: the token's user, `local` on the local Hub).
    Pieces:
        sets: `GROUP.KEY=VALUE` overrides for `sft` (pipelines/sft_corpus.yaml), `rl` (pipelines/rl_pool.yaml),
        `recipe` (the training recipe) and `eval` (eval settings), applied after the size's.
        sft_config, rl_config, recipe: the configs (default: the bundled ones). accelerate_config: train under
        `accelerate launch --config_file` (multi-GPU, DeepSpeed, FSDP) instead of one process.
    Output:
        space: start the Space at the end (False: print the command); space_port: its port. verbose: show the
        stages' own output instead of writing it to `<workdir>/logs/`.
    """

    size: str = DEFAULT_SIZE
    workdir: str | Path = "nebula-quickstart"
    hub: str | None = None
    namespace: str | None = None
    restart: bool = False
    space: bool = True
    space_port: int | None = None
    sets: list[str] = field(default_factory=list)
    sft_config: str | Path | None = None
    rl_config: str | Path | None = None
    recipe: str | Path | None = None
    accelerate_config: str | Path | None = None
    verbose: bool = False

    def __post_init__(self):
        if self.size not in SIZES:
            raise NebulaError(f"quickstart: unknown size {self.size!r}", hint=f"use one of: {', '.join(SIZES)}")
        self.workdir = Path(self.workdir).expanduser().resolve()
        for text in self.sets:
            group = text.split(".", 1)[0]
            if group not in SET_GROUPS or "=" not in text or "." not in text.split("=", 1)[0]:
                raise NebulaError(
                    f"quickstart: --set {text!r} is not GROUP.KEY=VALUE with GROUP one of {', '.join(SET_GROUPS)}",
                    hint="e.g. --set sft.sample.target_size=500 --set recipe.stages.grpo.args.max_steps=4 "
                    "--set eval.limit=5",
                )

    def user_sets(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {g: [] for g in SET_GROUPS}
        for text in self.sets:
            group, rest = text.split(".", 1)
            out[group].append(rest)
        return out

    def command(self) -> str:
        """The `nebula-hub quickstart` command line for these options (what to run to resume)."""
        from nebula_hub.hub import redact

        parts = ["nebula-hub", "quickstart", "--size", self.size, "--workdir", str(self.workdir)]
        if self.hub:
            parts += ["--hub", self.hub]
        if self.namespace:
            parts += ["--namespace", self.namespace]
        for text in self.sets:
            parts += ["--set", text]
        for flag, value in (("--sft-config", self.sft_config), ("--rl-config", self.rl_config),
                            ("--recipe", self.recipe)):  # fmt: skip
            if value:
                parts += [flag, str(value)]
        if not self.space:
            parts.append("--no-space")
        return redact(shlex.join(parts))


@dataclass
class StageReport:
    name: str
    status: str  # done | skipped (done in an earlier run) | failed | interrupted
    wall_s: float | None
    peak_rss_mb: float | None
    peak_tree_mb: float | None
    note: str = ""
    cpu_s: float | None = None


@dataclass
class QuickstartResult:
    """What a quickstart run produced (also in `<workdir>/quickstart-state.json` and `summary.md`)."""

    workdir: Path
    hub: str
    namespace: str
    datasets: dict[str, dict[str, Any]]
    checkpoints: dict[str, dict[str, Any]]
    stages: list[StageReport]
    summary: str
    space_config: Path
    space_command: str
    space_url: str | None = None
    space: Any = None  # the running gr.Blocks when the Space was started

    def wait_space(self) -> None:
        """Block while the Space started by the quickstart serves (Ctrl-C stops it)."""
        if self.space is None:
            return
        try:
            self.space.block_thread()
        finally:
            pool = getattr(self.space, "nebula_pool", None)
            if pool is not None:
                pool.close()


def _names(namespace: str, size: str) -> dict[str, str]:
    # Sizes get their own repos: a tiny CI run and a default run on one hub never compete for a version.
    suffix = "" if size == DEFAULT_SIZE else f"-{size}"
    return {
        "sft": f"{namespace}/nebula-sft{suffix}",
        "rl": f"{namespace}/nebula-rl{suffix}",
        "model": f"{namespace}/nebula-quickstart{suffix}",
        "run": "quickstart",
    }


def _namespace(api, target, given: str | None) -> str:
    if given:
        return given
    try:
        return api.whoami()["name"]
    except Exception as err:  # noqa: BLE001 - any failure means we cannot tell whose namespace to use
        if target.is_local:
            return "local"
        raise NebulaError(
            f"could not tell the namespace from the token on {target.endpoint} ({type(err).__name__})",
            hint="pass --namespace YOUR_USER_OR_ORG and set HF_TOKEN to a write token for it",
        ) from None


def _hub_identity(target) -> str:
    # The local Hub may come back on another port; its root folder is what identifies it.
    return f"local:{target.root}" if target.is_local else target.endpoint


def _mb(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1024:.2f} GiB" if value >= 1024 else f"{value:.0f} MiB"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.1f} s"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class _Progress:
    """One line per stage: `[3/10] curate-rl ... done in 42.1 s (peak RSS 612 MiB)`, live elapsed time on a tty."""

    def __init__(self, total: int, print_fn):
        self.total = total
        self.print = print_fn
        self.tty = sys.stderr.isatty()

    def start(self, index: int, name: str) -> None:
        self.prefix = f"[{index:>2}/{self.total}] {name:<16}"

    def running(self) -> None:
        if not self.tty:
            self.print(f"{self.prefix} running ...")

    def tick(self, elapsed: float) -> None:
        if self.tty:
            sys.stderr.write(f"\r{self.prefix} running ... {elapsed:5.0f} s")
            sys.stderr.flush()

    def end(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * (len(self.prefix) + 24) + "\r")
            sys.stderr.flush()
        self.print(f"{self.prefix} {text}")


def _stage_note(name: str, output: dict[str, Any]) -> str:
    if name.startswith("curate-"):
        t = output.get("totals", {})
        return f"{t.get('curated', '?')} of {t.get('input', '?')} records kept"
    if name == "publish":
        return "; ".join(f"{v['repo']}@{v['tag']} ({v['status']})" for v in output.values())
    if name.startswith("train-"):
        pushed = list(output.get("pushed", {}).values())
        if len(pushed) > 2:
            return f"{len(pushed)} checkpoints: " + ", ".join(f"@{p['branch']}" for p in pushed)
        return "; ".join(f"{p['repo']}@{p['branch']} ({p['sha'][:12]})" for p in pushed)
    if name == "evaluate":
        return "; ".join(
            f"{k} avg {100 * v['average']:.1f}" if v.get("average") is not None else k for k, v in output.items()
        )
    return ""


def _child_env(verbose: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not verbose:
        # The stage's output goes to a log file: progress bars would only fill it with carriage returns.
        env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        env.setdefault("TQDM_DISABLE", "1")
    return env


def _log_tail(path: Path, lines: int = 15) -> str:
    from nebula_hub.hub import redact

    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return redact("\n".join(text[-lines:]))


def _restart(workdir: Path) -> None:
    for name in OUTPUTS:
        path = workdir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run_quickstart(options: QuickstartOptions, print_fn=print) -> QuickstartResult:
    """Run (or resume) the quickstart; prints progress and the final summary, returns what was produced.

    Raises:
        `NebulaError`: a stage failed (the message names it; the hint gives the command that resumes the run).

    Example:
        >>> res = run_quickstart(QuickstartOptions(size="tiny", workdir="/tmp/qs", space=False))  # doctest: +SKIP
        >>> res.datasets["sft"]["tag"]                                                            # doctest: +SKIP
        'v1.0.0'
    """
    from nebula_hub.hub import get_api, resolve_hub

    workdir = Path(options.workdir)
    if options.restart:
        _restart(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    size = SIZES[options.size]
    print_fn(f"nebula-hub quickstart: size {size.name} ({size.description}); workdir {workdir}")

    # ---- stage: hub (in this process: the hub must outlive every stage) ------------------------------------------
    t0 = time.perf_counter()
    target = resolve_hub(options.hub)
    api = get_api(target)
    namespace = _namespace(api, target, options.namespace)
    hub_wall = time.perf_counter() - t0
    print_fn(target.describe())
    state = QuickstartState.load(
        workdir,
        {"size": size.name, "hub": _hub_identity(target), "namespace": namespace, "command": options.command()},
    )
    overwrite = not any(state.done(s) for s in state.stages if s.startswith("train-"))

    sft_config = str(Path(options.sft_config or resource_path("pipelines", "sft_corpus.yaml")).resolve())
    rl_config = str(Path(options.rl_config or resource_path("pipelines", "rl_pool.yaml")).resolve())
    recipe = str(Path(options.recipe or resource_path("pipelines", "recipes", "tiny", "quickstart.yaml")).resolve())
    groups = _train_groups(recipe, options.user_sets()["recipe"])
    plan = ["curate-sft", "curate-rl", "publish", *[g for g, _ in groups], "evaluate"]
    total = len(plan) + 2  # + hub + space
    progress = _Progress(total, print_fn)
    reports = [StageReport("hub", "done", hub_wall, None, None, _hub_note(target))]
    progress.start(1, "hub")
    progress.end(f"ready in {_secs(hub_wall)}: {target.endpoint} (namespace {namespace})")

    ctx: dict[str, Any] = {
        "workdir": str(workdir),
        "size": size.name,
        "hub": options.hub,
        "namespace": namespace,
        "names": _names(namespace, size.name),
        "sft_config": sft_config,
        "rl_config": rl_config,
        "recipe": recipe,
        "accelerate_config": str(options.accelerate_config) if options.accelerate_config else None,
        "train_groups": groups,
        "user_sets": options.user_sets(),
        "overwrite": overwrite,
        "progress": options.verbose,
        "outputs": {},
    }
    (workdir / "logs").mkdir(exist_ok=True)
    (workdir / "context").mkdir(exist_ok=True)
    for index, name in enumerate(plan, start=2):
        progress.start(index, name)
        if state.done(name):
            entry = state.stages[name]
            ctx["outputs"][name] = entry.get("output") or {}
            reports.append(StageReport(name, "skipped", entry.get("wall_s"), entry.get("peak_rss_mb"),
                                       entry.get("peak_tree_mb"), _stage_note(name, ctx["outputs"][name]),
                                       entry.get("cpu_s")))  # fmt: skip
            progress.end(f"done in an earlier run ({_secs(entry.get('wall_s'))}), skipped")
            continue
        output, report = _run_child(name, ctx, workdir, options, state, progress)
        reports.append(report)
        ctx["outputs"][name] = output

    # ---- stage: space ------------------------------------------------------------------------------------------------
    from nebula_hub.quickstart.stages import checkpoints as pushed_checkpoints

    datasets = ctx["outputs"]["publish"]
    evals = ctx["outputs"]["evaluate"]
    ckpts = {name: {**pushed, **evals.get(name, {})} for name, pushed in pushed_checkpoints(ctx).items()}
    space_config = _write_space_config(workdir, size.name, datasets, ckpts)
    space_command = shlex.join(
        ["nebula-hub", "space", "run", "--config", str(space_config)] + (["--hub", options.hub] if options.hub else [])
    )
    progress.start(total, "space")
    demo, url = None, None
    if options.space:
        from nebula_hub.space import run_space

        t0 = time.perf_counter()
        said: list[str] = []
        try:
            demo = run_space(str(space_config), hub=options.hub, port=options.space_port, block=False,
                             print_fn=lambda *a: said.append(" ".join(map(str, a))))  # fmt: skip
        except Exception as err:
            raise NebulaError(
                f"quickstart stage 'space' failed: {type(err).__name__}: {err}",
                hint=f"every other stage is done; start it yourself with: {space_command}",
            ) from err
        url = demo.local_url
        wall = time.perf_counter() - t0
        shows = next((line for line in said if line.startswith("showing")), "")
        reports.append(StageReport("space", "done", wall, None, None, f"{url} (in this process) {shows}".strip()))
        progress.end(f"running on {url} (started in {_secs(wall)}) {shows}".rstrip())
    else:
        reports.append(StageReport("space", "skipped", None, None, None, "--no-space: command printed"))
        progress.end(f"not started (--no-space); start it with: {space_command}")

    hub_peak = _hub_peak_mb(target)
    if hub_peak is not None:
        reports[0].peak_rss_mb = hub_peak
    summary = _summary(target, namespace, datasets, ckpts, reports, space_command, url, workdir)
    (workdir / "summary.md").write_text(summary + "\n")
    print_fn("")
    print_fn(summary)
    return QuickstartResult(
        workdir=workdir,
        hub=target.endpoint,
        namespace=namespace,
        datasets=datasets,
        checkpoints=ckpts,
        stages=reports,
        summary=summary,
        space_config=space_config,
        space_command=space_command,
        space_url=url,
        space=demo,
    )


def _train_groups(recipe: str, user_recipe_sets: list[str]) -> list[tuple[str, list[str]]]:
    """The training stages of the quickstart, from the recipe's stage order (YAML only: no TRL import here)."""
    from nebula_hub.config import apply_overrides, read_yaml

    names = list(apply_overrides(read_yaml(recipe), user_recipe_sets).get("stages") or {})
    missing = [c for c in CHECKPOINTS if c not in names]
    if missing:
        raise NebulaError(
            f"training recipe {recipe} has no stage(s) {missing}",
            hint=f"the quickstart trains and evaluates {', '.join(CHECKPOINTS)}; use a recipe that names them",
        )
    return stage_groups(names)


def _run_child(name, ctx, workdir: Path, options: QuickstartOptions, state: QuickstartState, progress):
    context_path = workdir / "context" / f"{name}.json"
    result_path = workdir / "context" / f"{name}.result.json"
    log_path = None if options.verbose else workdir / "logs" / f"{name}.log"
    context_path.write_text(json.dumps(ctx, indent=2, default=str))
    result_path.unlink(missing_ok=True)
    if log_path is not None:
        with open(log_path, "a") as fh:
            fh.write(f"\n===== {name}: attempt {state.stages.get(name, {}).get('attempts', 0) + 1} =====\n")
    cmd = [sys.executable, "-m", "nebula_hub.quickstart.child", name, str(context_path), str(result_path)]
    progress.running()
    m = run_measured(cmd, log_path, env=_child_env(options.verbose), on_tick=progress.tick)
    try:
        result = json.loads(result_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        result = {"ok": False, "error": f"the stage's process exited with status {m.returncode} without a result"}
    if result.get("peak_rss_mb"):
        # the child's own figure at exit covers the last sampling interval (see nebula_hub.quickstart.measure)
        m.peak_rss_mb = max(m.peak_rss_mb, result["peak_rss_mb"])
    figures = {"wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2), "peak_rss_mb": round(m.peak_rss_mb, 1),
               "peak_tree_mb": round(m.peak_tree_mb, 1)}  # fmt: skip
    resume = options.command()
    if m.interrupted or not result.get("ok") or m.returncode != 0:
        status = "interrupted" if m.interrupted else "failed"
        state.record(name, status, error=result.get("error"), **figures)
        progress.end(f"{status.upper()} after {_secs(m.wall_s)}")
        where = f"; full log: {log_path}" if log_path else ""
        tail = _log_tail(log_path) if log_path and not m.interrupted else ""
        if tail:
            progress.print(f"--- last lines of {log_path} ---\n{tail}\n---")
        if m.interrupted:
            raise NebulaError(f"quickstart interrupted during stage {name!r}",
                              hint=f"resume with: {resume}")  # fmt: skip
        cause = result.get("error") or "unknown error"
        if result.get("hint"):
            cause += f" ({result['hint']})"
        raise NebulaError(
            f"quickstart stage {name!r} failed after {_secs(m.wall_s)}: {cause}",
            hint=f"fix the cause, then resume with: {resume}  (completed stages are skipped){where}",
        )
    output = result["output"]
    state.record(name, "done", output=output, **figures)
    note = _stage_note(name, output)
    progress.end(
        f"done in {_secs(m.wall_s)} (CPU {_secs(m.cpu_s)}, peak RSS {_mb(m.peak_rss_mb)}, "
        f"all processes {_mb(m.peak_tree_mb)})" + (f": {note}" if note else "")
    )
    return output, StageReport(name, "done", m.wall_s, m.peak_rss_mb, m.peak_tree_mb, note, m.cpu_s)


def _hub_note(target) -> str:
    return f"local hub at {target.root}" if target.is_local else target.endpoint


def _hub_peak_mb(target) -> float | None:
    """Peak RSS (VmHWM) of the local Hub server, when this machine runs it."""
    if not target.is_local or target.root is None:
        return None
    try:
        pid = json.loads((Path(target.root) / "server.json").read_text())["pid"]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, KeyError):
        return None
    return None


def _write_space_config(workdir: Path, size: str, datasets: dict, ckpts: dict) -> Path:
    import yaml

    labels = {"ins_sft": "Ins-SFT", "grpo": "GRPO", "opd": "OPD", "mopd": "MOPD"}
    data = {
        "title": f"nebula-hub quickstart ({size})",
        "checkpoints": [
            {"repo": c["repo"], "revision": c["branch"], "label": labels.get(name, name)} for name, c in ckpts.items()
        ],
        "datasets": [{"repo": d["repo"], "revision": d["tag"]} for d in datasets.values()],
        "base": "Ins-SFT",
    }
    path = workdir / "space.yaml"
    path.write_text("# Written by `nebula-hub quickstart`: the checkpoints and datasets it made.\n"
                    + yaml.safe_dump(data, sort_keys=False))  # fmt: skip
    return path


def _summary(target, namespace, datasets, ckpts, reports, space_command, url, workdir) -> str:
    from nebula_hub.hub import redact

    out = ["## Datasets", ""]
    rows = []
    for role, d in datasets.items():
        configs = d.get("configs", {})
        default = configs.get("default", {})
        split_rows = ", ".join(f"{split} {n:,}" for split, n in default.items())
        others = ", ".join(c for c in configs if c != "default")
        rows.append([role, d["repo"], d["tag"], d["commit"][:12], split_rows, others])
    out.append(_table(["role", "repo", "version", "commit", "rows (default)", "other configs"], rows))
    out += ["", "## Checkpoints", ""]
    benches: list[str] = []
    for c in ckpts.values():
        benches += [b for b in (c.get("scores") or {}) if b not in benches]
    rows = []
    for name, c in ckpts.items():
        scores = c.get("scores") or {}
        avg = c.get("average")
        rows.append(
            [name, f"{c['repo']}@{c['branch']}", c["trained_sha"][:12] if c.get("trained_sha") else c["sha"][:12],
             (c.get("card_commit") or "-")[:12], "-" if avg is None else f"{100 * avg:.1f}"]
            + [f"{100 * scores[b]:.1f}" if b in scores else "-" for b in benches]
        )  # fmt: skip
    out.append(_table(["stage", "repo@branch", "trained commit", "card commit (scores)", "average"] + benches, rows))
    out += ["", "## Stages: wall time and peak memory", ""]
    rows = [
        [r.name, r.status, _secs(r.wall_s), _secs(r.cpu_s), _mb(r.peak_rss_mb), _mb(r.peak_tree_mb), r.note]
        for r in reports
    ]
    out.append(_table(["stage", "status", "wall", "CPU", "peak RSS (largest process)", "peak all processes (PSS)",
                       "output"], rows))  # fmt: skip
    total, cpu = sum(r.wall_s or 0 for r in reports), sum(r.cpu_s or 0 for r in reports)
    out.append(f"\ntotal: wall {_secs(total)}, CPU {_secs(cpu)} (status `skipped`: figures of the earlier run)")
    out += ["", "## Where", ""]
    out.append(f"- hub: {redact(target.endpoint)}" + (f" (local hub at {target.root})" if target.is_local else ""))
    if target.is_local:
        out.append("  (started for this command: `nebula-hub hub start` keeps it running; "
                   "`nebula-hub hub env` prints the settings for other tools)")  # fmt: skip
    for d in datasets.values():
        out.append(f"- `{d['load']}`")
    first = next(iter(ckpts.values()), None)
    if first:
        out.append(f'- `AutoModelForCausalLM.from_pretrained("{first["repo"]}", revision="{first["branch"]}")`')
    out.append(f"- space: {url}" if url else f"- space: `{space_command}`")
    out.append(f"- workdir: {workdir} (state: {STATE_FILE}, logs: logs/, Space config: space.yaml)")
    return "\n".join(out)
