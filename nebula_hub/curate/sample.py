"""Diversity-aware sampling to a target size and task mixture, deterministic by seed (a single-task stage).

Quotas: `target_size` split over tasks by `mixture` weights (all present tasks equally when empty); a task with fewer
records than its quota gives the rest to the others. Within a task, records are grouped into clusters of similar
prompts by MinHash LSH at a looser threshold than dedup (2 hashes per band, digits masked, so templated prompts that
differ only in their numbers share a cluster), and strata of the `balance` keys (difficulty, source). Selection goes
round-robin over strata, and within a stratum round-robin over clusters, so one large family of near-identical prompts
cannot crowd out rare ones. Records left out are rejected with reason `over_quota` (or `mixture_excluded` for a task
with weight 0). Kept records get `metadata["split"]` (`test` for `test_fraction` of them by id hash, else `train`)
and are validated against `SFTRecord` (a failure is rejected as `schema_invalid`).

Example:
    >>> from nebula_hub.curate.sft_config import SampleConfig
    >>> sampler = DiversitySampler(SampleConfig(target_size=100, mixture={"math": 2, "code": 1}))
    >>> kept = list(sampler.run(verified_docs))                       # doctest: +SKIP
"""

import hashlib
import random
import re
from collections import defaultdict

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

from nebula_hub.curate.dedup import WordTokenizer, minhash_config
from nebula_hub.curate.document import sft_row
from nebula_hub.errors import RecordValidationError
from nebula_hub.schema import SFTRecord


_DIGITS = re.compile(r"\d+")


def task_quotas(available: dict[str, int], target: int, mixture: dict[str, float]) -> dict[str, int]:
    """Records per task: `target` split by weight, capped by availability, leftovers handed on.

    Example:
        >>> task_quotas({"math": 10, "code": 2}, 8, {"math": 1, "code": 1})
        {'code': 2, 'math': 6}
    """
    weights = {t: (mixture.get(t, 0.0) if mixture else 1.0) for t in available}
    quotas = {t: 0 for t in sorted(available)}
    remaining = min(target, sum(n for t, n in available.items() if weights[t] > 0))
    while remaining > 0:
        open_tasks = [t for t in quotas if weights[t] > 0 and quotas[t] < available[t]]
        if not open_tasks:
            break
        total = sum(weights[t] for t in open_tasks)
        shares = {t: remaining * weights[t] / total for t in open_tasks}
        given = 0
        for t in open_tasks:
            add = min(int(shares[t]), available[t] - quotas[t])
            quotas[t] += add
            given += add
        if given == 0:  # hand out the remainder one by one, largest fractional share first
            t = max(open_tasks, key=lambda t: (shares[t] - int(shares[t]), weights[t], t))
            quotas[t] += 1
            given = 1
        remaining -= given
    return quotas


class DiversitySampler(PipelineStep):
    """Selects the corpus (see the module doc); run it with `tasks=1`, it needs every record at once.

    Args:
        config (`SampleConfig`): target_size, mixture, balance, test_fraction, seed.
        exclusion_writer (`DiskWriter`, *optional*): receives records left out.
    """

    type = "🎲 - SAMPLER"
    name = "🎲 Diversity sampler"

    def __init__(self, config, exclusion_writer=None):
        super().__init__()
        self.config = config
        self.exclusion_writer = exclusion_writer
        self._minhash = None

    def clusters(self, docs: list[Document]) -> dict[str, str]:
        """doc id -> cluster id (union of LSH band collisions)."""
        # only datatrove's shingle and signature functions are used; the folder is never written
        if self._minhash is None:
            self._minhash = MinhashDedupSignature("/tmp/unused-nebula-sigs", minhash_config(3, 8, 2), WordTokenizer())
        parent: dict[str, str] = {}

        def find(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        bands: dict[tuple, str] = {}
        for doc in docs:
            find(doc.id)
            shingles = self._minhash.get_shingles(_DIGITS.sub("0", doc.text))
            if shingles.size == 0:
                continue
            for b, band in enumerate(self._minhash.get_signature(shingles)):
                key = (b, *band)
                if key in bands:
                    parent[find(doc.id)] = find(bands[key])
                else:
                    bands[key] = doc.id
        return {doc.id: find(doc.id) for doc in docs}

    def order(self, docs: list[Document], cluster_of: dict[str, str], rng: random.Random) -> list[Document]:
        strata: dict[tuple, dict[str, list[Document]]] = defaultdict(lambda: defaultdict(list))
        for doc in docs:
            key = tuple(
                str(
                    (doc.metadata.get(k) or {}).get("level")
                    if k == "difficulty"
                    else (doc.metadata.get(k) or {}).get("name")
                    if k == "source"
                    else doc.metadata.get(k)
                )
                for k in self.config.balance
            )
            strata[key][cluster_of[doc.id]].append(doc)
        streams = []
        for key in sorted(strata):
            clusters = [strata[key][c] for c in sorted(strata[key])]
            rng.shuffle(clusters)
            for members in clusters:
                rng.shuffle(members)
            streams.append(_round_robin(clusters))
        rng.shuffle(streams)
        return _round_robin(streams)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        assert world_size == 1, "the diversity sampler needs all records in one task"
        docs = sorted(data, key=lambda d: d.id)
        by_task: dict[str, list[Document]] = defaultdict(list)
        for doc in docs:
            by_task[(doc.metadata.get("task") or {}).get("label", "general")].append(doc)
        cfg = self.config
        target = cfg.target_size if cfg.target_size > 0 else len(docs)
        quotas = task_quotas({t: len(v) for t, v in by_task.items()}, target, cfg.mixture)
        cluster_of = self.clusters(docs)
        keep, drop = [], []
        rng = random.Random(cfg.seed)
        for task in sorted(by_task):
            ordered = self.order(by_task[task], cluster_of, rng)
            keep.extend(ordered[: quotas[task]])
            for doc in ordered[quotas[task] :]:
                excluded = cfg.mixture and cfg.mixture.get(task, 0.0) <= 0
                doc.metadata["filter_reason"] = "mixture_excluded" if excluded else "over_quota"
                doc.metadata["rejection_detail"] = (
                    f"task {task!r} has weight 0 in sample.mixture"
                    if excluded
                    else f"task {task!r} quota {quotas[task]} of {len(ordered)} reached"
                )
                drop.append(doc)
        for doc in keep:
            doc.metadata.setdefault("meta", {})["cluster"] = cluster_of[doc.id]
            try:
                SFTRecord.validate_dict(sft_row(doc), where="curated record")
            except RecordValidationError as err:
                doc.metadata["filter_reason"] = "schema_invalid"
                doc.metadata["rejection_detail"] = err.message
                drop.append(doc)
                continue
            fraction = int(hashlib.sha256(doc.id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            doc.metadata["split"] = "test" if fraction < cfg.test_fraction else "train"
        if self.exclusion_writer:
            with self.exclusion_writer as writer:
                for doc in drop:
                    writer.write(doc, rank)
        for doc in drop:
            self.stat_update("dropped", f"dropped_{doc.metadata['filter_reason']}")
        for doc in sorted((d for d in keep if "filter_reason" not in d.metadata), key=lambda d: d.id):
            self.stat_update("forwarded")
            yield doc


def _round_robin(groups: list) -> list:
    """Interleave lists (or lists of lists, flattened by round-robin first) one item at a time."""
    iters = [iter(g) for g in groups]
    out = []
    while iters:
        alive = []
        for it in iters:
            item = next(it, None)
            if item is not None:
                out.append(item)
                alive.append(it)
        iters = alive
    return out
