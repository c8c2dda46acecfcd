"""YAML files -> typed dataclasses, with `--set key=value` overrides and validation.

One loader for every config in the project (curation pipelines, training recipes, eval suites, the Space): the
dataclass declares fields, types, defaults and `metadata={"help": ...}`; this module fills it from YAML, applies
overrides, converts values to the declared types, and refuses unknown keys by name.

    @dataclass
    class Demo:
        name: str = "x"
        steps: int = field(default=10, metadata={"help": "Optimizer steps."})

    cfg = load_config("demo.yaml", Demo, overrides=["steps=20"])

TRL's config classes (`SFTConfig`, `GRPOConfig`, ...) are dataclasses too, so recipes can nest them directly.
"""

import dataclasses
import hashlib
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from nebula_hub.errors import ConfigError


T = TypeVar("T")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist", hint="check the path (relative to where you run)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of keys to values, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], value parsed as YAML, so `3` is an int and `[1, 2]` a list)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value", hint="e.g. --set training.learning_rate=1e-5")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key part", hint="use dotted keys like stage.max_steps=10")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply `key.sub=value` overrides to a nested dict (a copy); list items are addressed by index (`stages.0.lr`)."""
    import copy

    data = copy.deepcopy(data)
    for text in overrides or []:
        path, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                node = node[_index(part, path[: i + 1], len(node))]
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"override {text!r}: {'.'.join(path[: i + 1])!r} is a value, not a section")
        last = path[-1]
        if isinstance(node, list):
            node[_index(last, path, len(node))] = value
        else:
            node[last] = value
    return data


def _index(part: str, path: list[str], length: int) -> int:
    if not part.isdigit() or int(part) >= length:
        raise ConfigError(f"override key {'.'.join(path)!r}: {part!r} is not an index of a list of {length} item(s)")
    return int(part)


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from a mapping, recursively, converting types and refusing unknown keys.

    Example:
        >>> @dataclasses.dataclass
        ... class C:
        ...     steps: int = 1
        >>> from_dict(C, {"steps": "3"}).steps
        3
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        close = _suggest(unknown[0], fields)
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} for {cls.__name__}" + (f" (and {unknown[1:]})" if unknown[1:] else ""),
            hint=(f"did you mean {close!r}? " if close else "") + f"valid keys: {', '.join(sorted(fields))}",
        )
    kwargs = {name: convert_value(hints.get(name, Any), value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {err}") from None


def load_config(path: str | Path | None, cls: type[T], overrides: list[str] | None = None, base: dict | None = None) -> T:
    """Load YAML `path` (or only `base`/overrides when `path` is None) into dataclass `cls`."""
    data = dict(base or {})
    if path is not None:
        data.update(read_yaml(path))
    data = apply_overrides(data, overrides)
    return from_dict(cls, data, where=str(path) if path else cls.__name__)


def to_dict(obj: Any) -> Any:
    """A dataclass (possibly nested) -> plain dict suitable for YAML/JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (recipes and pipeline configs are pinned by it in cards and manifests)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def convert_value(tp: Any, value: Any, where: str) -> Any:
    """Convert `value` to type annotation `tp` (dataclasses, lists, dicts, unions, literals, scalars) or raise a
    `ConfigError` naming `where`.

    Example:
        >>> convert_value(list[int], ["1", 2], "steps")
        [1, 2]
    """
    origin = get_origin(tp)
    if tp is Any or tp is typing.Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return convert_value(arg, value, where)
            except ConfigError as err:
                errors.append(err.message)
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {args}")
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of {list(choices)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        (item,) = get_args(tp)[:1] or (Any,)
        return [convert_value(item, v, f"{where}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        _, val_tp = get_args(tp) or (Any, Any)
        return {k: convert_value(val_tp, v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            converted = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}") from None
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return converted
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        return str(value)
    if tp is Path:
        return Path(value)
    return value


def _suggest(name: str, fields: dict[str, Any]) -> str | None:
    import difflib

    match = difflib.get_close_matches(name, list(fields), n=1)
    return match[0] if match else None
