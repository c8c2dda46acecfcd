"""The benchmark registry, prompts and loaders: bundled sets, the public layouts in ../shared/data, errors."""

import json

import pytest

from nebula_hub.errors import NebulaError
from nebula_hub.evaluation.benchmarks import BENCHMARKS, SUITES, get_benchmark, resolve_benchmarks, suite_name
from nebula_hub.evaluation.loaders import load_samples
from nebula_hub.evaluation.prompts import TEMPLATES, render_prompt


MIRROR = BENCHMARKS["gsm8k"].with_source("my-org/gsm8k-mirror", "main")


def test_every_benchmark_is_consistent():
    from nebula_hub.evaluation.loaders import LAYOUTS
    from nebula_hub.evaluation.metrics import METRIC_NAMES

    for name, spec in BENCHMARKS.items():
        assert spec.prompt_template in TEMPLATES, name
        assert spec.metric in METRIC_NAMES, name
        assert spec.layout_name in LAYOUTS, name
        assert spec.bundled_path().is_file(), name
    for suite, members in SUITES.items():
        assert all(m in BENCHMARKS for m in members), suite
    assert {b.area for b in BENCHMARKS.values()} == {"instruction_following", "math", "code", "knowledge"}


def test_resolve_and_errors():
    assert [b.name for b in resolve_benchmarks(names="gsm8k, mmlu,gsm8k")] == ["gsm8k", "mmlu"]
    assert suite_name(resolve_benchmarks(suite="all")) == "all"
    with pytest.raises(NebulaError, match="unknown benchmark 'gsm9k'") as err:
        get_benchmark("gsm9k")
    assert "gsm8k" in err.value.hint
    with pytest.raises(NebulaError, match="unknown suite 'chat'"):
        resolve_benchmarks(suite="chat")
    # dotted-path escape hatch
    assert get_benchmark("tests.evaluation.test_benchmarks:MIRROR").repo == "my-org/gsm8k-mirror"
    with pytest.raises(NebulaError, match="is a dict, not a BenchmarkSpec"):
        get_benchmark("nebula_hub.evaluation.benchmarks:BENCHMARKS")
    with pytest.raises(NebulaError, match="cannot import 'NOPE'"):
        get_benchmark("nebula_hub.evaluation.benchmarks:NOPE")


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_bundled_sets_load_and_render(name):
    spec = get_benchmark(name)
    samples, source = load_samples(spec, source="bundled")
    assert 8 <= len(samples) <= 30, name
    assert source["kind"] == "bundled" and len(source["sha256"]) == 64 and source["n"] == len(samples)
    for s in samples:
        messages = render_prompt(spec.prompt_template, s.inputs)
        assert messages[-1]["role"] == "user" and messages[-1]["content"].strip(), (name, s.id)
        assert isinstance(s.reference, str) and s.reference, (name, s.id)
    assert len(load_samples(spec, source="bundled", limit=3)[0]) == 3


def test_shared_public_layouts_parse(shared_data):
    cases = [
        ("gsm8k", shared_data / "math" / "gsm8k_test.jsonl", None, 1319),
        ("math500", shared_data / "math" / "math500_test.jsonl", None, 500),
        ("humaneval", shared_data / "code" / "HumanEval.jsonl.gz", None, 164),
        # The Qwen2.5-Math copy of MMLU names the subject column `type` (cais/mmlu: `subject`).
        ("mmlu", shared_data / "knowledge" / "mmlu_stem_test.jsonl", {"subject": "type"}, 3018),
        ("ifeval", shared_data / "ifeval" / "input_data.jsonl", None, 541),
    ]
    for name, path, fields, n in cases:
        samples, source = load_samples(get_benchmark(name), source="file", path=path, fields=fields)
        assert len(samples) == n, name
        assert source["file"] == str(path)
    gsm = load_samples(get_benchmark("gsm8k"), source="file", path=cases[0][1], limit=1)[0][0]
    assert gsm.reference == "18" and gsm.inputs["problem"].startswith("Janet")
    he = load_samples(get_benchmark("humaneval"), source="file", path=cases[2][1], limit=1)[0][0]
    ref = json.loads(he.reference)
    assert he.id == "HumanEval/0" and ref["test"].rstrip().endswith("check(has_close_elements)")
    mmlu = load_samples(get_benchmark("mmlu"), source="file", path=cases[3][1], fields={"subject": "type"}, limit=1)
    assert mmlu[0][0].reference in "ABCD" and mmlu[0][0].meta["subject"] == "college_biology"
    ifeval = load_samples(get_benchmark("ifeval"), source="file", path=cases[4][1], limit=1)[0][0]
    # json/parquet rows hold every kwarg key (null where unused); only the instruction's own kwargs remain
    assert json.loads(ifeval.reference)["kwargs"] == [
        {},
        {"num_highlights": 3},
        {"relation": "at least", "num_words": 300},
    ]


def test_missing_column_names_the_file_and_column(shared_data):
    path = shared_data / "knowledge" / "mmlu_stem_test.jsonl"
    with pytest.raises(NebulaError) as err:
        load_samples(get_benchmark("mmlu"), source="file", path=path)
    assert "lacks subject (column 'subject')" in err.value.message and str(path) in err.value.message
    assert "'type'" in err.value.message  # the columns it does have


def test_bad_row_names_the_row(tmp_path):
    path = tmp_path / "gsm.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "42"}) + "\n")
    with pytest.raises(NebulaError, match=r"row 0 cannot be read: answer has no '#### <number>' line"):
        load_samples(get_benchmark("gsm8k"), source="file", path=path)
    with pytest.raises(NebulaError, match="does not exist"):
        load_samples(get_benchmark("gsm8k"), source="file", path=tmp_path / "none.jsonl")


def test_prompt_template_missing_field():
    with pytest.raises(NebulaError, match=r"needs field\(s\) \['problem'\]"):
        render_prompt("math_boxed_v1", {"question": "1+1?"})


def test_hub_loader_reads_a_dataset_repo_and_pins_its_commit(local_hub):
    """`--data hub` path: a dataset repo with GSM8K's layout on a Hub (here the local one), pinned to its sha."""
    from nebula_hub.evaluation.runner import _hub_spec

    spec = get_benchmark("gsm8k")
    repo = local_hub.repo_id("gsm8k-mirror")
    api = local_hub.api()
    api.create_repo(repo, repo_type="dataset")
    api.upload_file(
        path_or_fileobj=str(spec.bundled_path()), path_in_repo="data/test.jsonl", repo_id=repo, repo_type="dataset"
    )
    sha = api.dataset_info(repo).sha
    mirror = _hub_spec(spec, f"{repo}@main")
    assert (mirror.repo, mirror.config, mirror.revision) == (repo, "main", "main")  # the spec's config is kept
    mirror = spec.with_source(repo, None)
    samples, source = load_samples(mirror, source="hub", data_hub=local_hub.endpoint)
    bundled, _ = load_samples(spec, source="bundled")
    assert [(s.inputs, s.reference) for s in samples] == [(s.inputs, s.reference) for s in bundled]
    assert source == {
        "kind": "hub",
        "hub": local_hub.endpoint,
        "repo": repo,
        "config": None,
        "split": "test",
        "revision": sha,
        "n": len(bundled),
    }
    with pytest.raises(NebulaError, match="is not REPO\\[:CONFIG\\]\\[@REVISION\\]"):
        _hub_spec(spec, "not a repo")
