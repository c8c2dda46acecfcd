"""An append-only JSONL file of finished generations, keyed by what produced them, so reruns skip saved work.

Each line is `{"key": <request_fingerprint>, "completions": [...], ...extra}`, appended and flushed as soon as a
conversation's samples are all done. A crash can at worst leave a torn last line, which is ignored on reload.
Written by hand because neither datasets nor datatrove offers a keyed, append-as-you-go store (datatrove's request
cache is internal to `InferenceRunner` and tied to its chunking).

    cache = ResultCache("out.jsonl.partial")
    if (saved := cache.get(key)) is None:
        cache.put(key, backend.generate([messages], settings)[0])
"""

import json
import logging
import os
from pathlib import Path
from typing import Any

from nebula_hub.generate.settings import Completion


logger = logging.getLogger(__name__)


class ResultCache:
    """Completions by key, persisted to an append-only JSONL file.

    Example:
        >>> cache = ResultCache(tmp_path / "cache.jsonl")
        >>> cache.put("k1", [Completion("hi", "stop", 3, 2)])
        >>> ResultCache(tmp_path / "cache.jsonl").get("k1")[0].text
        'hi'
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.entries: dict[str, list[Completion]] = {}
        if self.path.exists():
            self._load()
        self._handle = None

    def _load(self) -> None:
        torn = 0
        with self.path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    self.entries[record["key"]] = [Completion.from_dict(c) for c in record["completions"]]
                except (json.JSONDecodeError, KeyError, TypeError):
                    torn += 1
                    logger.warning(
                        "%s:%d: unreadable saved generation (interrupted write?), will regenerate", self.path, number
                    )
        if torn:
            logger.info(
                "%s: %d saved generations loaded, %d unreadable lines skipped", self.path, len(self.entries), torn
            )

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> list[Completion] | None:
        return self.entries.get(key)

    def put(self, key: str, completions: list[Completion], **extra: Any) -> None:
        """Save one conversation's completions (and any JSON-ready `extra` fields) and flush to disk."""
        self.entries[key] = list(completions)
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        record = {"key": key, **extra, "completions": [c.as_dict() for c in completions]}
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
