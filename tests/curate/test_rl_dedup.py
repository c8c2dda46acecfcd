"""Decontamination of the RL pool against benchmarks and the SFT corpus's held-out split (the SFT steps, reused)."""

import gzip
import json

import pytest

from nebula_hub.config import from_dict
from nebula_hub.curate.rl_candidates import candidate_from_row
from nebula_hub.curate.rl_config import RLPoolConfig, RLSourceConfig
from nebula_hub.curate.rl_dedup import decontamination_steps
from nebula_hub.errors import NebulaError
from nebula_hub.schema import SFTRecord, to_table


HELD_OUT = ("A ferry crosses the bay four times a day carrying ninety cars each trip. How many cars does it carry "
            "in a full week of service?")
BENCH = "Priya saves eleven dollars every week for a bicycle that costs three hundred and eight dollars in total."


def sft_output(root):
    import pyarrow.parquet as pq

    (root / "data" / "test").mkdir(parents=True)
    rec = SFTRecord.create([{"role": "user", "content": HELD_OUT}, {"role": "assistant", "content": "2520"}],
                           source={"name": "sft"})
    pq.write_table(to_table([rec], "sft"), root / "data" / "test" / "00000.parquet")
    return root


def test_heldout_split_and_benchmarks_both_decontaminate(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"question": BENCH}) + "\n")
    cfg = from_dict(RLPoolConfig, {
        "sources": [{"name": "m", "path": "x.jsonl", "task": "math"}],
        "decontamination": {"benchmarks": [{"name": "mini", "path": str(bench), "field": "question"}],
                            "sft_heldout": str(sft_output(tmp_path / "sft"))},
    })
    work = tmp_path / "work"
    (step,) = decontamination_steps(cfg, work)
    src = RLSourceConfig(name="m", path="x.jsonl", task="math")
    docs = [candidate_from_row({"id": i, "problem": p, "answer": "1"}, src, f"x:{i}") for i, p in
            enumerate(["Some preamble. " + HELD_OUT, BENCH + " How many weeks?", "What is 6 times 7?"])]
    kept = list(step.run(iter(docs), rank=0, world_size=1))
    assert [d.metadata["source"]["original_id"] for d in kept] == ["2"]
    rows = [json.loads(line) for p in (work / "rejected" / "decontamination").glob("*.jsonl.gz")
            for line in gzip.open(p, "rt")]
    found = {json.loads(r["record"])["source"]["original_id"]: json.loads(r["record"])["contaminated_benchmark"]
             for r in rows}
    assert found == {"0": "sft_heldout", "1": "mini"}
    assert all(r["reason"] == "contaminated" for r in rows)


def test_heldout_folder_without_test_split_is_a_clear_error(tmp_path):
    (tmp_path / "sft" / "data" / "train").mkdir(parents=True)
    cfg = from_dict(RLPoolConfig, {"sources": [{"name": "m", "path": "x.jsonl", "task": "math"}],
                                   "decontamination": {"sft_heldout": str(tmp_path / "sft")}})
    with pytest.raises(NebulaError, match="no held-out split") as err:
        decontamination_steps(cfg, tmp_path / "work")
    assert "test_fraction" in err.value.hint
