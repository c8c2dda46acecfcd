"""`generate_jsonl` and the `nebula-hub generate` command: fields kept, order, resuming, errors."""

import argparse
import json

import pytest

from nebula_hub.errors import NebulaError, RecordValidationError
from nebula_hub.generate import BackendConfig, GenerationError, SamplingSettings, generate_jsonl
from nebula_hub.commands.generate import register


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


ROWS = [
    {"id": f"r{i}", "source": "test", "messages": [{"role": "user", "content": f"question number {i}"}]}
    for i in range(5)
]


def test_output_keeps_fields_and_order_and_rerun_generates_only_missing(tmp_path, tiny_model_path):
    config = BackendConfig(model=str(tiny_model_path), device="cpu", batch_size=4)
    settings = SamplingSettings(n=2, max_tokens=8, seed=0)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, ROWS[:3])
    first = generate_jsonl(src, out, config, settings, progress=False)
    assert (first.lines, first.generated, first.reused, first.samples) == (3, 3, 0, 6)
    lines = read_jsonl(out)
    assert [{k: v for k, v in line.items() if k != "completions"} for line in lines] == ROWS[:3]
    for line in lines:
        assert len(line["completions"]) == 2
        assert set(line["completions"][0]) == {"text", "finish_reason", "prompt_tokens", "completion_tokens"}
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text())
    assert meta["run"]["settings"] == settings.as_record()

    write_jsonl(src, ROWS)  # two new lines
    second = generate_jsonl(src, out, config, settings, progress=False)
    assert (second.generated, second.reused, second.samples) == (2, 3, 4)
    again = read_jsonl(out)
    assert again[:3] == lines and [line["id"] for line in again] == ["r0", "r1", "r2", "r3", "r4"]
    assert not (tmp_path / "out.jsonl.partial").exists()

    with pytest.raises(NebulaError) as info:
        generate_jsonl(src, out, config, SamplingSettings(n=2, max_tokens=8, seed=1), progress=False)
    assert "different settings" in str(info.value) and "--overwrite" in info.value.hint
    third = generate_jsonl(
        src, out, config, SamplingSettings(n=2, max_tokens=8, seed=1), overwrite=True, progress=False
    )
    assert third.generated == 5


def test_bad_input_line_is_named(tmp_path, tiny_model_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({"prompt": "hi"}) + "\n")
    with pytest.raises(RecordValidationError) as info:
        generate_jsonl(src, tmp_path / "o.jsonl", BackendConfig(model=str(tiny_model_path)), SamplingSettings())
    assert f"{src}:2: no 'messages' field (keys: ['prompt'])" in str(info.value)
    assert "--messages-field" in info.value.hint


def test_interrupted_server_run_resumes_without_regenerating(tmp_path, tiny_server, fault_proxy):
    _, model = tiny_server
    settings = SamplingSettings(n=2, temperature=0, max_tokens=4)
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, ROWS)

    def config(url):
        return BackendConfig(
            backend="openai", model=model, base_url=url, max_concurrency=1, retries=1, backoff_base=0.05
        )

    with fault_proxy(die_after=5) as dying:
        with pytest.raises(GenerationError) as info:
            generate_jsonl(src, out, config(dying.base_url), settings, progress=False)
    assert "rerun the same command to resume" in info.value.hint
    partial = read_jsonl(tmp_path / "out.jsonl.partial")
    assert len(partial) == 2 and not out.exists()  # 5 requests = two whole lines (2 samples each) + one

    with fault_proxy() as healthy:
        report = generate_jsonl(src, out, config(healthy.base_url), settings, progress=False)
    assert (report.generated, report.reused) == (3, 2)
    assert healthy.forwarded == 6  # only the 3 missing lines x 2 samples
    lines = read_jsonl(out)
    assert [line["id"] for line in lines] == [row["id"] for row in ROWS]
    assert all(len(line["completions"]) == 2 for line in lines)


def test_cli_command_runs_and_prints_a_summary(tmp_path, tiny_model_path, capsys):
    parser = argparse.ArgumentParser(prog="nebula-hub")
    register(parser.add_subparsers(dest="command"))
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, ROWS[:2])
    args = parser.parse_args(
        [
            "generate",
            str(src),
            "--model",
            str(tiny_model_path),
            "--n",
            "3",
            "--max-tokens",
            "5",
            "--seed",
            "0",
            "--thinking",
            "off",
            "--stop",
            "x",
            "--output",
            str(out),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert args.func(args) == 0
    assert "wrote 2 lines" in capsys.readouterr().out
    assert [len(line["completions"]) for line in read_jsonl(out)] == [3, 3]
    meta = json.loads((tmp_path / "out.jsonl.meta.json").read_text())
    assert meta["run"]["settings"]["enable_thinking"] is False and meta["run"]["settings"]["stop"] == ["x"]
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--help"])
    assert "rerun the same command" in capsys.readouterr().out
