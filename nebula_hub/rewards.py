"""TRL reward functions over the verifiers: `(completions, **kwargs) -> list[float | None]`, one value per completion.

GRPOTrainer calls each reward with the completions and every dataset column as a keyword (repeated per generation).
`None` means "this reward does not apply to this sample" (TRL's NaN-aware averaging skips it): a gold answer or test
set that cannot be read, a sandbox failure, or, for `multi_task_reward`, a row of another task. A response with no
extractable answer scores 0.0, not None: otherwise a policy could dodge the penalty by never answering (pass
`unparsable_answer=None` to a factory for the skip behaviour instead). Rewards never raise on bad model output.

Names for configs and the CLI resolve through `get_reward_funcs`:

    >>> from nebula_hub.rewards import get_reward_funcs
    >>> [f.__name__ for f in get_reward_funcs(["math_accuracy", "format"])]
    ['math_accuracy_reward', 'format_reward']
"""

import functools
import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.verify.result import VerificationResult


RewardFunc = Callable[..., list[float | None]]
POOL_THRESHOLD = 8  # from this many completions on, math checks fan out over the process pool


def completion_text(completion: Any) -> str:
    """The text of a completion: a plain string, or the assistant content of a conversational completion.

    Example:
        >>> completion_text([{"role": "assistant", "content": "hi"}]), completion_text("hi")
        ('hi', 'hi')
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, list):
        parts = []
        for msg in completion:
            content = msg.get("content", "") if isinstance(msg, dict) else msg
            if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
                content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
            if not isinstance(msg, dict) or msg.get("role", "assistant") == "assistant":
                parts.append(str(content))
        return "".join(parts)
    return "" if completion is None else str(completion)


def _to_reward(r: VerificationResult, partial: bool, unparsable_answer: float | None) -> float | None:
    if r.verdict == "pass":
        return 1.0
    if r.verdict == "error":
        return None  # our failure, not the model's
    if r.verdict == "unparsable":
        return None if r.extra.get("side", "gold") != "answer" else unparsable_answer
    return float(r.score) if partial else 0.0


def _column(kwargs: dict, name: str, n: int, reward: str) -> list:
    if name not in kwargs or kwargs[name] is None:
        raise NebulaError(f"{reward}: the dataset has no {name!r} column (got columns {sorted(kwargs)})",
                          hint=f"add a {name!r} column, or drop {reward} from reward_funcs")
    col = list(kwargs[name])
    if len(col) != n:
        raise NebulaError(f"{reward}: {len(col)} values in column {name!r} for {n} completions",
                          hint="pass one value per completion (TRL repeats dataset columns per generation)")
    return col


# ---------------------------------------------------------------------------------------------------------- math
def get_math_accuracy_reward(unparsable_answer: float | None = 0.0, timeout: float = 5.0) -> RewardFunc:
    """Build a math accuracy reward: 1.0 when the final answer equals column `answer`, else 0.0.

    Example:
        >>> get_math_accuracy_reward()(["$\\\\boxed{4}$", "5"], answer=["4", "4"])
        [1.0, 0.0]
    """

    def math_accuracy_reward(completions: Sequence[Any], answer: Sequence[str] | None = None, **kwargs) -> list:
        from nebula_hub.verify.math import default_math_pool, verify_math

        golds = _column({"answer": answer}, "answer", len(completions), "math_accuracy_reward")
        texts = [completion_text(c) for c in completions]
        keep = [i for i, g in enumerate(golds) if g is not None]
        if len(keep) >= POOL_THRESHOLD:
            results = default_math_pool().verify([(texts[i], golds[i]) for i in keep], timeout=timeout, progress=False)
        else:
            results = [verify_math(texts[i], golds[i], timeout=timeout) for i in keep]
        out: list[float | None] = [None] * len(completions)
        for i, r in zip(keep, results, strict=True):
            out[i] = _to_reward(r, partial=False, unparsable_answer=unparsable_answer)
        return out

    return math_accuracy_reward


math_accuracy_reward = get_math_accuracy_reward()


# ---------------------------------------------------------------------------------------------------------- code
def get_code_reward(partial: bool = True, unparsable_answer: float | None = 0.0, timeout: float = 10.0) -> RewardFunc:
    """Build a code reward over column `tests`: the fraction of tests passed (`partial=True`) or 1.0/0.0.

    The program is the last fenced code block of the completion (a completion without a fence is taken as code).

    Example:
        >>> get_code_reward()(["```python\\nx = 1\\n```"], tests=["assert x == 1\\nassert x == 2"])
        [0.5]
    """

    def code_reward(completions: Sequence[Any], tests: Sequence[Any] | None = None, **kwargs) -> list:
        from nebula_hub.verify.code import extract_code, verify_code_batch

        tests = _column({"tests": tests}, "tests", len(completions), "code_reward")
        out: list[float | None] = [None] * len(completions)
        items, where = [], []
        for i, (c, t) in enumerate(zip(completions, tests, strict=True)):
            if t is None:
                continue
            text = completion_text(c)
            code = extract_code(text)
            if code is None and "```" not in text and "<think>" not in text:
                code = text
            if code is None:
                out[i] = unparsable_answer
                continue
            items.append((code, t))
            where.append(i)
        for i, r in zip(where, verify_code_batch(items, timeout=timeout, progress=False), strict=True):
            out[i] = _to_reward(r, partial=partial, unparsable_answer=unparsable_answer)
        return out

    return code_reward


code_reward = get_code_reward()


# --------------------------------------------------------------------------------------------- instruction following
def get_ifeval_reward(partial: bool = True) -> RewardFunc:
    """Build an instruction-following reward over column `constraints`: share of constraints followed (or 1.0/0.0).

    Example:
        >>> get_ifeval_reward()(["<think>Plan.</think>all lowercase", "NO"],
        ...                     constraints=[[{"id": "change_case:english_lowercase", "kwargs": {}}]] * 2)
        [1.0, 0.0]
    """

    def ifeval_reward(completions: Sequence[Any], constraints: Sequence[Any] | None = None, **kwargs) -> list:
        from nebula_hub.verify.ifeval import check_constraints  # the IF checkers; imported only when used
        from nebula_hub.verify.math import strip_thinking

        cons = _column({"constraints": constraints}, "constraints", len(completions), "ifeval_reward")
        out: list[float | None] = []
        for c, k in zip(completions, cons, strict=True):
            if k is None:
                out.append(None)
                continue
            text = strip_thinking(completion_text(c))  # constraints apply to the answer, not the reasoning
            if text is None:
                out.append(0.0)  # truncated inside <think>: no answer was given
                continue
            try:
                r = check_constraints(text, k)
            except NebulaError:
                out.append(None)  # constraints the checker cannot read: skip the sample, do not punish the model
                continue
            out.append(_to_reward(r, partial=partial, unparsable_answer=0.0))
        return out

    return ifeval_reward


ifeval_reward = get_ifeval_reward()


# ------------------------------------------------------------------------------------------------------------ format
_FORMAT = re.compile(r"^\s*<think>(?P<think>(?:(?!<think>|</think>).)*?)</think>(?P<answer>(?:(?!<think>|</think>).)*)$",
                     re.S)


def format_reward(completions: Sequence[Any], **kwargs) -> list[float]:
    """1.0 when the completion is one well-formed `<think>...</think>` block followed by a non-empty answer.

    Example:
        >>> format_reward(["<think>2+2</think>4", "<think>2+2", "4", "<think>a</think><think>b</think>4"])
        [1.0, 0.0, 0.0, 0.0]
    """
    out = []
    for c in completions:
        text = completion_text(c)
        m = _FORMAT.match(text)
        out.append(1.0 if m and m.group("think").strip() and m.group("answer").strip() else 0.0)
    return out


# ------------------------------------------------------------------------------------------------------- multi-task
TASK_REWARDS: dict[str, str] = {"math": "math_accuracy", "code": "code", "if": "ifeval", "ifeval": "ifeval",
                                "instruction_following": "ifeval"}


def get_multi_task_reward(task_rewards: dict[str, RewardFunc] | None = None) -> RewardFunc:
    """Build a reward that routes each row by its `task` column (`math`, `code`, `if`) to that task's reward.

    Rows of a task with no reward get `None` (TRL skips them), so one dataset can mix tasks.

    Example:
        >>> f = get_multi_task_reward()
        >>> f(["$\\\\boxed{2}$", "hello"], task=["math", "chat"], answer=["2", None])
        [1.0, None]
    """
    routes = task_rewards or {t: REWARD_FUNCS[name] for t, name in TASK_REWARDS.items()}

    def multi_task_reward(completions: Sequence[Any], task: Sequence[str] | None = None, **kwargs) -> list:
        tasks = _column({"task": task}, "task", len(completions), "multi_task_reward")
        out: list[float | None] = [None] * len(completions)
        for name, fn in routes.items():
            idx = [i for i, t in enumerate(tasks) if t == name]
            if not idx:
                continue
            sub = {k: [v[i] for i in idx] if isinstance(v, list) and len(v) == len(completions) else v
                   for k, v in kwargs.items()}
            for i, v in zip(idx, fn([completions[i] for i in idx], **sub), strict=True):
                out[i] = v
        return out

    return multi_task_reward


# ---------------------------------------------------------------------------------------------------------- registry
REWARD_FUNCS: dict[str, RewardFunc] = {
    "math_accuracy": math_accuracy_reward,
    "code": code_reward,
    "ifeval": ifeval_reward,
    "format": format_reward,
}
REWARD_FACTORIES: dict[str, Callable[..., RewardFunc]] = {
    "math_accuracy": get_math_accuracy_reward,
    "code": get_code_reward,
    "ifeval": get_ifeval_reward,
    "multi_task": get_multi_task_reward,
}
multi_task_reward = get_multi_task_reward()
REWARD_FUNCS["multi_task"] = multi_task_reward


def _import_dotted(path: str) -> RewardFunc:
    module, _, attr = path.rpartition(":") if ":" in path else path.rpartition(".")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise NebulaError(f"reward {path!r} could not be imported: {e}",
                          hint="give 'package.module:function' (or 'package.module.function') of an importable reward") from e
    if not callable(fn):
        raise NebulaError(f"reward {path!r} is not callable", hint="point to a function (completions, **kwargs)")
    return fn


def get_reward_funcs(names: Sequence[str | dict[str, Any]]) -> list[RewardFunc]:
    """Resolve reward names to functions, in order.

    Each entry is a registered name (`math_accuracy`, `code`, `ifeval`, `format`, `multi_task`), a dict
    `{"name": ..., **options}` passed to that reward's `get_*` factory (the bound function keeps its metric name),
    or a dotted import path (`my_pkg.rewards:length_reward`).

    Example:
        >>> [f.__name__ for f in get_reward_funcs([{"name": "code", "partial": False}, "multi_task"])]
        ['code_reward', 'multi_task_reward']
    """
    out = []
    valid = ", ".join(sorted(REWARD_FUNCS))
    for entry in names:
        if isinstance(entry, dict):
            opts = dict(entry)
            name = opts.pop("name", None)
            if name not in REWARD_FACTORIES:
                raise NebulaError(f"reward {name!r} takes no options or is unknown (options {sorted(opts)})",
                                  hint=f"rewards with options: {', '.join(sorted(REWARD_FACTORIES))}")
            try:
                fn = REWARD_FACTORIES[name](**opts)
            except TypeError as e:
                raise NebulaError(f"reward {name!r}: bad options {opts}: {e}",
                                  hint=f"see help(nebula_hub.rewards.{REWARD_FACTORIES[name].__name__})") from e
            out.append(fn)
        elif entry in REWARD_FUNCS:
            out.append(REWARD_FUNCS[entry])
        elif isinstance(entry, str) and ("." in entry or ":" in entry):
            out.append(_import_dotted(entry))
        else:
            raise NebulaError(f"unknown reward {entry!r}", hint=f"valid names: {valid}; or a dotted path 'pkg.mod:func'")
    return out


def bind_reward(fn: RewardFunc, **bound: Any) -> RewardFunc:
    """`functools.partial` that keeps the function's name (TRL logs rewards under `__name__`).

    Example:
        >>> bind_reward(format_reward, extra=1).__name__
        'format_reward'
    """
    return functools.update_wrapper(functools.partial(fn, **bound), fn)
