"""The vllm backend: the settings -> vLLM arguments mapping and the missing-extra error run anywhere; real vLLM
runs only where vllm and CUDA are present (`gpu` marker)."""

import importlib.util
import sys

import pytest

from nebula_hub.errors import NebulaError
from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
from nebula_hub.generate.inference import inference_config
from nebula_hub.generate.vllm_backend import vllm_chat_kwargs, vllm_engine_kwargs, vllm_sampling_kwargs


HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_engine_kwargs_pass_parallelism_prefix_caching_and_revision_through():
    config = BackendConfig(
        backend="vllm",
        model="Qwen/Qwen3-8B",
        revision="abc123",
        dtype="bfloat16",
        tensor_parallel_size=4,
        enable_prefix_caching=False,
        gpu_memory_utilization=0.5,
        max_model_len=4096,
        engine_kwargs={"enforce_eager": True},
    )
    assert vllm_engine_kwargs(config) == {
        "model": "Qwen/Qwen3-8B",
        "tokenizer": "Qwen/Qwen3-8B",
        "revision": "abc123",
        "tokenizer_revision": "abc123",
        "dtype": "bfloat16",
        "tensor_parallel_size": 4,
        "enable_prefix_caching": False,
        "gpu_memory_utilization": 0.5,
        "max_model_len": 4096,
        "enforce_eager": True,
    }


def test_sampling_kwargs_one_request_per_sample_with_its_own_seed():
    settings = SamplingSettings(
        n=3, temperature=0.6, top_p=0.95, top_k=20, max_tokens=64, seed=7, stop=["</a>"], logprobs=True
    )
    assert [vllm_sampling_kwargs(settings, j)["seed"] for j in range(3)] == [7, 8, 9]
    assert vllm_sampling_kwargs(settings, 0) == {
        "n": 1,
        "temperature": 0.6,
        "max_tokens": 64,
        "seed": 7,
        "top_p": 0.95,
        "top_k": 20,
        "stop": ["</a>"],
        "logprobs": 0,
    }
    plain = vllm_sampling_kwargs(SamplingSettings(temperature=0, max_tokens=5), 0)
    assert plain == {"n": 1, "temperature": 0, "max_tokens": 5, "seed": None}
    assert vllm_chat_kwargs(SamplingSettings(enable_thinking=False)) == {
        "chat_template_kwargs": {"enable_thinking": False}
    }
    assert vllm_chat_kwargs(SamplingSettings()) == {}


def test_datatrove_server_config_for_vllm_passes_tp_and_prefix_caching():
    config = BackendConfig(backend="vllm", model="m", tensor_parallel_size=2, max_model_len=2048, revision="v1")
    cfg = inference_config(config, SamplingSettings(n=4))
    assert (cfg.server_type, cfg.tp, cfg.model_max_context, cfg.rollouts_per_document) == ("vllm", 2, 2048, 4)
    assert cfg.model_kwargs["enable-prefix-caching"] is True and cfg.model_kwargs["revision"] == "v1"


def test_missing_vllm_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail even where it is installed
    with pytest.raises(NebulaError) as info:
        get_backend(BackendConfig(backend="vllm", model="m"))
    assert "backend 'vllm' needs the vllm package" in str(info.value)
    assert "pip install 'nebula-hub[gpu]'" in info.value.hint


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_VLLM, reason="vllm is not installed (pip install 'nebula-hub[gpu]')")
def test_real_vllm_generates_n_seeded_samples_in_order(tiny_model_path):
    config = BackendConfig(backend="vllm", model=str(tiny_model_path), gpu_memory_utilization=0.3, max_model_len=1024)
    settings = SamplingSettings(n=3, temperature=1.0, max_tokens=16, seed=0, logprobs=True)
    conversations = ["hello there", [{"role": "user", "content": "What is 2 + 2?"}]]
    with get_backend(config) as backend:
        first = backend.generate(conversations, settings, progress=False)
        again = backend.generate(conversations, settings, progress=False)
        alone = backend.generate(conversations[1:], settings, progress=False)
    assert [len(row) for row in first] == [3, 3]
    assert [[c.text for c in row] for row in again] == [[c.text for c in row] for row in first]
    assert [c.text for c in alone[0]] == [c.text for c in first[1]]
    for row in first:
        for completion in row:
            assert completion.finish_reason in ("stop", "length") and 1 <= completion.completion_tokens <= 16
            assert len(completion.logprobs) == completion.completion_tokens
    assert first[0][0].prompt_tokens < first[1][0].prompt_tokens
