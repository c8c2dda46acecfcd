"""The datatrove steps: the in-process annotator (transformers) and InferenceRunner against a real server."""

import json
from collections import defaultdict

import pytest
from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.writers import JsonlWriter

from nebula_hub.generate import BackendConfig, GenerationAnnotator, SamplingSettings, build_inference_runner
from nebula_hub.generate.annotator import document_conversation


def make_docs():
    return [
        Document(text="hello there", id="d0"),
        Document(text="ignored", id="d1", metadata={"messages": [{"role": "user", "content": "What is 2 + 2?"}]}),
        Document(text="a b c", id="d2"),
        Document(text="the quick brown fox", id="d3"),
    ]


def test_document_conversation_prefers_metadata_messages():
    docs = make_docs()
    assert document_conversation(docs[0]) == [{"role": "user", "content": "hello there"}]
    assert document_conversation(docs[1]) == [{"role": "user", "content": "What is 2 + 2?"}]


def test_annotator_adds_completions_and_a_rerun_regenerates_nothing(tmp_path, tiny_model_path, monkeypatch):
    config = BackendConfig(model=str(tiny_model_path), device="cpu")
    settings = SamplingSettings(n=2, max_tokens=6, seed=0)
    checkpoints = str(tmp_path / "ckpt")

    # First run is interrupted after the first batch of 2 documents (consumer stops early, as a crash would).
    step = GenerationAnnotator(config, settings, documents_per_call=2, checkpoints_dir=checkpoints)
    stream = step.run(make_docs())
    first_two = [next(stream), next(stream)]
    stream.close()
    assert [len(d.metadata["completions"]) for d in first_two] == [2, 2]
    assert step.stats["generated"].total == 2

    # The rerun generates only the two missing documents and reuses the saved ones verbatim.
    step = GenerationAnnotator(config, settings, documents_per_call=2, checkpoints_dir=checkpoints)
    docs = list(step.run(make_docs()))
    assert (step.stats["generated"].total, step.stats["reused"].total) == (2, 2)
    assert [d.metadata["completions"] for d in docs[:2]] == [d.metadata["completions"] for d in first_two]
    for doc in docs:
        assert [
            c["completion_tokens"] <= 6 and c["finish_reason"] in ("stop", "length")
            for c in doc.metadata["completions"]
        ] == [True, True]

    # A third run loads no model at all.
    def no_backend(_config):
        raise AssertionError("the rerun must not build a backend")

    monkeypatch.setattr("nebula_hub.generate.annotator.get_backend", no_backend)
    step = GenerationAnnotator(config, settings, documents_per_call=2, checkpoints_dir=checkpoints)
    again = list(step.run(make_docs()))
    assert step.stats["reused"].total == 4
    assert [d.metadata["completions"] for d in again] == [d.metadata["completions"] for d in docs]


def read_outputs(folder):
    docs = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            docs[record["id"]] = record["metadata"]["completions"]
    return docs


def run_pipeline(proxy_url, model, tmp_path, name):
    runner = build_inference_runner(
        BackendConfig(
            backend="openai", model=model, base_url=proxy_url, max_concurrency=1, retries=1, backoff_base=0.05
        ),
        SamplingSettings(n=2, temperature=0, max_tokens=4, seed=10),
        output_writer=JsonlWriter(
            str(tmp_path / "out"), output_filename="${rank}_${chunk_index}.jsonl", compression=None
        ),
        checkpoints_local_dir=str(tmp_path / "ckpt"),
        records_per_chunk=2,
    )
    executor = LocalPipelineExecutor([make_docs(), runner], tasks=1, workers=1, logging_dir=str(tmp_path / name))
    executor.run()


@pytest.mark.slow
def test_inference_runner_against_a_real_server_resumes_after_the_server_dies(tmp_path, tiny_server, fault_proxy):
    _, model = tiny_server
    with fault_proxy(die_after=3) as dying:
        with pytest.raises(Exception, match="failed after 2 attempts"):
            run_pipeline(dying.base_url, model, tmp_path, "logs")
    assert dying.forwarded == 3

    with fault_proxy() as healthy:
        run_pipeline(healthy.base_url, model, tmp_path, "logs")
    # 8 requests in all (4 documents x 2 rollouts); the 3 answered before the crash are not sent again.
    assert healthy.forwarded == 5
    outputs = read_outputs(tmp_path / "out")
    assert sorted(outputs) == ["d0", "d1", "d2", "d3"]
    for completions in outputs.values():
        assert len(completions) == 2
        assert all(c["completion_tokens"] == 4 and c["prompt_tokens"] > 0 for c in completions)
    # Rollout j of a document is sent with seed + j, so the two rollouts are distinct requests.
    seeds = defaultdict(list)
    for body in dying.bodies + healthy.bodies:
        seeds[body["messages"][-1]["content"]].append(body["seed"])
    assert all(sorted(s) == [10, 11] for s in seeds.values()), dict(seeds)

    with fault_proxy() as untouched:  # a finished rank is skipped entirely on rerun
        run_pipeline(untouched.base_url, model, tmp_path, "logs")
    assert untouched.forwarded == 0
