"""datasets, transformers and the `hf` CLI, unchanged, against the local Hub (end to end)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nebula_hub.hub import env_lines


pytestmark = pytest.mark.slow


def test_datasets_push_and_load_with_configs_tag_and_streaming(hub_env):
    from datasets import Dataset, DatasetDict, load_dataset
    from huggingface_hub import HfApi

    repo = hub_env.repo_id("ds")
    Dataset.from_dict({"q": ["1+1", "2+2"], "a": [2, 4]}).push_to_hub(repo, config_name="math", split="train")
    DatasetDict(
        {
            "train": Dataset.from_dict({"prompt": ["hi", "yo", "hey"]}),
            "test": Dataset.from_dict({"prompt": ["bye"]}),
        }
    ).push_to_hub(repo, config_name="chat")
    api = HfApi()
    api.create_tag(repo, tag="v1.0.0", repo_type="dataset")
    # a later push must not change what the tag points to
    Dataset.from_dict({"q": ["3+3"], "a": [6]}).push_to_hub(repo, config_name="math", split="train")

    math_v1 = load_dataset(repo, "math", split="train", revision="v1.0.0")
    assert math_v1["a"] == [2, 4]
    assert load_dataset(repo, "math", split="train")["a"] == [6]
    chat = load_dataset(repo, "chat", revision="v1.0.0")
    assert chat["train"].num_rows == 3 and chat["test"]["prompt"] == ["bye"]
    streamed = load_dataset(repo, "chat", split="train", revision="v1.0.0", streaming=True)
    assert [row["prompt"] for row in streamed] == ["hi", "yo", "hey"]
    with pytest.raises(ValueError, match="BuilderConfig 'nope' not found"):
        load_dataset(repo, "nope", split="train", revision="v1.0.0")


def test_transformers_push_and_from_pretrained_at_revision(hub_env, tiny_model_path):
    from huggingface_hub import HfApi
    from transformers import AutoModelForCausalLM, AutoTokenizer

    repo = hub_env.repo_id("tiny")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    model.push_to_hub(repo)
    tokenizer.push_to_hub(repo)
    api = HfApi()
    first = api.model_info(repo).sha
    api.create_tag(repo, tag="step-1")
    # change the weights on a branch: main/tag keep the old ones
    api.create_branch(repo, branch="run-2")
    name, param = next(iter(model.named_parameters()))
    original = param.detach().clone()
    for p in model.parameters():
        p.data.add_(1.0)
    model.push_to_hub(repo, revision="run-2")

    at_tag = AutoModelForCausalLM.from_pretrained(repo, revision="step-1")
    at_sha = AutoModelForCausalLM.from_pretrained(repo, revision=first)
    at_branch = AutoModelForCausalLM.from_pretrained(repo, revision="run-2")
    assert (dict(at_branch.named_parameters())[name] == param).all()
    assert (dict(at_tag.named_parameters())[name] == original).all()
    assert (dict(at_sha.named_parameters())[name] == original).all()
    tok = AutoTokenizer.from_pretrained(repo, revision="step-1")
    assert tok("hello world")["input_ids"] == tokenizer("hello world")["input_ids"]
    assert tok.chat_template == tokenizer.chat_template


def test_hf_cli_upload_and_download(local_hub, tmp_path):
    repo = local_hub.repo_id("cli")
    local_hub.api().create_repo(repo, repo_type="dataset")
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "nested" / "rows.jsonl").write_text('{"x": 1}\n')
    (src / "blob.parquet").write_bytes(os.urandom(300_000))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    for line in env_lines(local_hub.target):
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = local_hub.token if key == "HF_TOKEN" else value
    env["HF_HOME"] = str(tmp_path / "hf-home")
    hf = str(Path(sys.executable).with_name("hf"))
    up = subprocess.run(
        [hf, "upload", repo, str(src), ".", "--repo-type", "dataset", "--commit-message", "via cli"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert up.returncode == 0, up.stderr
    out = tmp_path / "out"
    down = subprocess.run(
        [hf, "download", repo, "--repo-type", "dataset", "--local-dir", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr
    assert (out / "nested" / "rows.jsonl").read_text() == '{"x": 1}\n'
    assert (out / "blob.parquet").read_bytes() == (src / "blob.parquet").read_bytes()
    assert local_hub.api().list_repo_commits(repo, repo_type="dataset")[0].title == "via cli"
    assert local_hub.token not in up.stdout + up.stderr + down.stdout + down.stderr
