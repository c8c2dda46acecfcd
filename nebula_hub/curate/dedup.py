"""Exact and near-duplicate removal on prompt text, with datatrove's staged ExactDedup and MinHash steps.

Both are multi-stage (signatures per task -> a global find/cluster -> a filter over the same documents in the same
order), so this module only supplies what they are configured with and the pieces the stages share:

- `exact_dedup_config()`: hashes `doc.text` (the prompt text; SFT and RL documents alike);
- `minhash_config(...)`: `MinhashConfig` with a `HashConfig` (64-bit xxhash; `xxhash<4` is pinned because 4.x breaks it);
- `WordTokenizer`: a regex word tokenizer. datatrove's default English tokenizer is spaCy (not a dependency here) and
  its NLTK one needs a punkt download, so MinHash and decontamination get this instance as `language=`;
- `ShardReader`: reads back exactly the file its rank wrote, so document indices in stage 1 and stage 4 line up even
  when some rank wrote nothing (datatrove's file sharding would shift ranks).

The stage layout (see `nebula_hub.curate.sft.build_stages`):

    prepare:    ... -> JsonlWriter(work/prepared) -> ExactDedupSignature(work/exact/sigs)
    exact_find: ExactFindDedups(work/exact/sigs, work/exact/dups)                       (1 task)
    signatures: ShardReader(work/prepared) -> ExactDedupFilter -> JsonlWriter(work/unique)
                -> MinhashDedupSignature(work/minhash/sigs)
    buckets:    MinhashDedupBuckets                                                      (num_buckets tasks)
    clusters:   MinhashDedupCluster                                                      (1 task)
    process:    ShardReader(work/unique) -> MinhashDedupFilter -> ...

Example:
    >>> WordTokenizer().word_tokenize("Hello, world! 2+2=4")
    ['Hello', 'world', '2', '2', '4']
"""

import re

from datatrove.io import get_datafolder
from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.readers.jsonl import JsonlReader
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer as _BaseWordTokenizer


_WORD = re.compile(r"\w+", re.UNICODE)
_SENT = re.compile(r"[^.!?\n]+[.!?]*")


class WordTokenizer(_BaseWordTokenizer):
    """Words are runs of `\\w` characters (any script); sentences end at `.`, `!`, `?` or a newline."""

    def __init__(self):
        super().__init__("und")

    def word_tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in _SENT.findall(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _SENT.finditer(text) if m.group().strip()]


def prompt_content(doc) -> str:
    """What exact dedup hashes: the prompt text (the annotation tells datatrove to hash a `str`)."""
    return doc.text


def exact_dedup_config() -> ExactDedupConfig:
    return ExactDedupConfig(content_getter=prompt_content, hash_config=HashConfig(precision=64))


def minhash_config(
    n_grams: int = 5, num_buckets: int = 14, hashes_per_bucket: int = 8, seed: int = 1
) -> MinhashConfig:
    return MinhashConfig(
        n_grams=n_grams,
        num_buckets=num_buckets,
        hashes_per_bucket=hashes_per_bucket,
        seed=seed,
        hash_config=HashConfig(precision=64),
    )


class ShardReader(JsonlReader):
    """Reads `<folder>/<rank>.jsonl.gz`, the file the same rank of the previous stage wrote (none: no documents)."""

    name = "📖 Shard"

    def __init__(self, data_folder: str):
        super().__init__(data_folder, add_file_path=False)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        name = f"{rank:05d}.jsonl.gz"
        if get_datafolder(self.data_folder.path).exists(name):
            yield from self.read_files_shard([name])
