"""Batch generation over a JSONL file of conversations, resumable: what `nebula-hub generate` runs.

Each output line is its input line (every field kept, same order) plus `completions`, a list of `n` samples with
`text`, `finish_reason`, `prompt_tokens` and `completion_tokens`. While running, finished conversations are appended
to `OUT.partial` (a `ResultCache`); the final file is written in input order at the end, with the settings and
backend recorded in `OUT.meta.json`. A rerun with the same settings reuses both the finished output and the partial
file and generates only the missing lines; lines with identical messages are generated once.

    from nebula_hub.generate import BackendConfig, SamplingSettings, generate_jsonl
    report = generate_jsonl("prompts.jsonl", "out.jsonl", BackendConfig(model="path/to/model"),
                            SamplingSettings(n=4, max_tokens=256, seed=0))
    print(report.generated, report.reused)
"""

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nebula_hub import __version__
from nebula_hub.errors import NebulaError, RecordValidationError
from nebula_hub.generate.base import GenerationError, get_backend, normalize_conversations
from nebula_hub.generate.cache import ResultCache
from nebula_hub.generate.settings import BackendConfig, Completion, SamplingSettings, request_fingerprint


@dataclass
class GenerateReport:
    """What a `generate_jsonl` run did: lines written, conversations generated now vs reused from earlier runs."""

    output: Path
    lines: int
    generated: int  # lines whose completions were made in this run
    reused: int  # lines whose completions came from an earlier run
    samples: int
    completion_tokens: int
    seconds: float

    def summary(self) -> str:
        rate = self.completion_tokens / self.seconds if self.seconds > 0 else 0.0
        return (
            f"wrote {self.lines} lines to {self.output}: {self.generated} generated, {self.reused} reused; "
            f"{self.samples} new samples, {self.completion_tokens} new tokens in {self.seconds:.1f}s ({rate:.1f} tok/s)"
        )


def _read_records(path: Path, messages_field: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise NebulaError(
            f"input file {str(path)!r} does not exist", hint="pass a JSONL file with one record per line"
        )
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise RecordValidationError(
                    f"{path}:{number}: not valid JSON ({err.msg} at column {err.colno})",
                    hint="each line must be one JSON object",
                ) from err
            if not isinstance(record, dict) or messages_field not in record:
                raise RecordValidationError(
                    f"{path}:{number}: no {messages_field!r} field (keys: {sorted(record) if isinstance(record, dict) else type(record).__name__})",
                    hint=f"each line needs {messages_field!r}: a list of {{'role', 'content'}} messages "
                    "(or a prompt string); choose another field with --messages-field",
                )
            normalize_conversations([record[messages_field]], source=f"{path}:{number} field {messages_field!r}")
            records.append(record)
    return records


def _run_signature(config: BackendConfig, settings: SamplingSettings, messages_field: str) -> dict[str, Any]:
    return {
        "model": config.model,
        "revision": config.revision,
        "messages_field": messages_field,
        "settings": settings.as_record(),
    }


def generate_jsonl(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    config: BackendConfig,
    settings: SamplingSettings,
    messages_field: str = "messages",
    overwrite: bool = False,
    progress: bool = True,
) -> GenerateReport:
    """Generate `settings.n` completions for every line of `input_path` into `output_path`, resumably.

    Args:
        input_path (`str`): JSONL, one record per line with `messages_field`.
        output_path (`str`): JSONL written at the end (input fields + `completions`); `<output>.partial` holds
            finished conversations while running, `<output>.meta.json` the settings and backend used.
        config (`BackendConfig`): which backend and model.
        settings (`SamplingSettings`): how to sample.
        messages_field (`str`, *optional*, defaults to `"messages"`): the field holding the conversation.
        overwrite (`bool`, *optional*, defaults to `False`): discard earlier results made with other settings.
        progress (`bool`, *optional*, defaults to `True`): show a progress bar.

    Raises:
        `GenerationError`: generation stopped part-way; finished lines are kept in `<output>.partial` and a rerun
        of the same command completes only the rest.

    Example:
        >>> report = generate_jsonl("in.jsonl", "out.jsonl", BackendConfig(model=str(build_tiny_model())),
        ...                         SamplingSettings(n=2, max_tokens=16, seed=0), progress=False)
        >>> report.lines == report.generated + report.reused
        True
    """
    start = time.perf_counter()
    input_path, output_path = Path(input_path), Path(output_path)
    partial_path = output_path.with_name(output_path.name + ".partial")
    meta_path = output_path.with_name(output_path.name + ".meta.json")
    records = _read_records(input_path, messages_field)
    signature = _run_signature(config, settings, messages_field)

    previous = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if previous is not None and previous.get("run") != signature:
        if not overwrite:
            changed = sorted(k for k in signature if previous.get("run", {}).get(k) != signature[k])
            raise NebulaError(
                f"{output_path} was generated with different {', '.join(changed)} than this run "
                f"(see {meta_path.name})",
                hint="pass --overwrite to regenerate everything, or write to another --output",
            )
        for stale in (output_path, partial_path, meta_path):
            stale.unlink(missing_ok=True)
        previous = None

    def key_of(record: dict[str, Any]) -> str:
        messages = normalize_conversations([record[messages_field]])[0]
        return request_fingerprint(messages, settings, config.model, config.revision)

    keys = [key_of(record) for record in records]
    cache = ResultCache(partial_path)
    if previous is not None and output_path.exists():
        for line in output_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                done = json.loads(line)
                if messages_field in done and "completions" in done:
                    cache.entries.setdefault(key_of(done), [Completion.from_dict(c) for c in done["completions"]])
    reused = sum(key in cache for key in keys)
    todo = [key for key in dict.fromkeys(keys) if key not in cache]
    todo_set = set(todo)
    todo_records = {key: record for key, record in zip(keys, records, strict=True) if key in todo_set}
    new_tokens = 0
    if todo:
        conversations = [normalize_conversations([todo_records[key][messages_field]])[0] for key in todo]

        def save(index: int, completions: list[Completion]) -> None:
            nonlocal new_tokens
            new_tokens += sum(c.completion_tokens for c in completions)
            cache.put(todo[index], completions)

        try:
            with get_backend(config) as backend:
                backend.generate(conversations, settings, progress=progress, on_result=save)
        except GenerationError as err:
            raise GenerationError(
                f"{err.message} (input {input_path})",
                hint=f"{err.hint}; finished lines are saved in {partial_path}, rerun the same command to resume",
                partial=err.partial,
            ) from err
        finally:
            cache.close()

    tmp = output_path.with_name(output_path.name + ".tmp")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", encoding="utf-8") as handle:
        for record, key in zip(records, keys, strict=True):
            out = dict(record)
            out["completions"] = [c.as_dict() for c in cache.get(key)]
            handle.write(json.dumps(out, ensure_ascii=False) + "\n")
    meta = {
        "run": signature,
        "backend": config.backend,
        "base_url_host": _host_only(config.base_url),
        "nebula_hub_version": __version__,
        "input": str(input_path),
        "lines": len(records),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, output_path)
    partial_path.unlink(missing_ok=True)
    return GenerateReport(
        output=output_path,
        lines=len(records),
        generated=len(records) - reused,
        reused=reused,
        samples=len(todo) * settings.n,
        completion_tokens=new_tokens,
        seconds=time.perf_counter() - start,
    )


def _host_only(url: str | None) -> str | None:
    from nebula_hub.generate.openai_backend import display_url

    return display_url(url) if url else None
