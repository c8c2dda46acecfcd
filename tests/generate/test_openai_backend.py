"""The openai backend against a real OpenAI-compatible server (`transformers serve` on loopback), with faults."""

import logging

import pytest

from nebula_hub.generate import BackendConfig, GenerationError, SamplingSettings, get_backend
from nebula_hub.generate.openai_backend import chat_request, display_url
from nebula_hub.generate.transformers_backend import render_prompt


CONVERSATIONS = [
    "hello there",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2? Explain slowly."}],
    [{"role": "user", "content": "a b c"}],
    "the quick brown fox jumps over the lazy dog",
]
GREEDY = SamplingSettings(n=2, temperature=0, max_tokens=6, seed=0)


def backend_for(base_url, model, **overrides):
    config = dict(backend="openai", model=model, base_url=base_url, max_concurrency=4, retries=3, backoff_base=0.05)
    return get_backend(BackendConfig(**{**config, **overrides}))


def test_chat_request_maps_settings_and_keeps_strict_servers_happy():
    messages = [{"role": "user", "content": "hi"}]
    plain = chat_request(messages, SamplingSettings(max_tokens=7), 0, "m")
    assert plain == {"model": "m", "messages": messages, "max_tokens": 7, "temperature": 1.0}
    full = chat_request(
        messages,
        SamplingSettings(
            temperature=0.5, top_p=0.9, top_k=20, seed=10, stop=["x"], enable_thinking=False, logprobs=True
        ),
        3,
        "m",
        extra_body={"repetition_penalty": 1.1},
    )
    assert (full["seed"], full["top_p"], full["stop"], full["logprobs"]) == (13, 0.9, ["x"], True)
    assert full["extra_body"] == {
        "top_k": 20,
        "chat_template_kwargs": {"enable_thinking": False},
        "repetition_penalty": 1.1,
    }
    assert display_url("https://u:p@host:8443/v1?token=abc") == "https://host:8443/v1"


def test_n_samples_in_input_order_with_server_token_counts(tiny_server, tiny_backend):
    base_url, model = tiny_server
    results = backend_for(base_url, model).generate(CONVERSATIONS, GREEDY, progress=False)
    assert [len(row) for row in results] == [2, 2, 2, 2]
    tok = tiny_backend.tokenizer
    for conversation, row in zip(CONVERSATIONS, results, strict=True):
        messages = [{"role": "user", "content": conversation}] if isinstance(conversation, str) else conversation
        # The server applied the same chat template: its prompt count proves which conversation each row answers.
        expected = len(tok(render_prompt(tok, messages, None), add_special_tokens=False)["input_ids"])
        for completion in row:
            assert completion.prompt_tokens == expected
            assert completion.finish_reason == "length" and completion.completion_tokens == 6
    # Greedy decoding is reproducible through the server.
    again = backend_for(base_url, model, max_concurrency=1).generate(CONVERSATIONS, GREEDY, progress=False)
    assert [[c.as_dict() for c in row] for row in again] == [[c.as_dict() for c in row] for row in results]


def test_thinking_switch_reaches_the_chat_template(tiny_server):
    base_url, model = tiny_server
    backend = backend_for(base_url, model)
    off = backend.generate(
        ["hi"], SamplingSettings(max_tokens=2, temperature=0, enable_thinking=False), progress=False
    )
    on = backend.generate(["hi"], SamplingSettings(max_tokens=2, temperature=0, enable_thinking=True), progress=False)
    assert off[0][0].prompt_tokens > on[0][0].prompt_tokens


def test_500_and_429_are_retried_and_the_run_completes(tiny_server, fault_proxy, caplog):
    base_url, model = tiny_server
    direct = backend_for(base_url, model).generate(CONVERSATIONS, GREEDY, progress=False)

    def fail(request_id):  # first attempt of samples 0 gets 500, of conversation 1 sample 1 gets 429
        return 500 if request_id.endswith("-0") else 429 if request_id.endswith("-1-1") else None

    with fault_proxy(fail_first=fail) as proxy, caplog.at_level(logging.WARNING):
        results = backend_for(proxy.base_url, model).generate(CONVERSATIONS, GREEDY, progress=False)
    assert proxy.injected[500] == 4 and proxy.injected[429] == 1
    assert [[c.as_dict() for c in row] for row in results] == [[c.as_dict() for c in row] for row in direct]
    retried = [rid for rid, n in proxy.attempts.items() if n > 1]
    assert len(retried) == 5 and all(n == 2 for n in proxy.attempts.values() if n > 1)
    for request_id in retried:  # every retry is logged with its request id and the reason
        assert any(request_id in r.message and "HTTP" in r.message for r in caplog.records), request_id


def test_timeouts_are_retried(tiny_server, fault_proxy):
    base_url, model = tiny_server
    with fault_proxy(stall_first=lambda rid: rid.endswith("-0-0"), stall_s=8.0) as proxy:
        results = backend_for(proxy.base_url, model, timeout=3.0).generate(
            ["hello there"], SamplingSettings(n=2, temperature=0, max_tokens=3), progress=False
        )
    assert proxy.injected["stall"] == 1
    assert [c.completion_tokens for c in results[0]] == [3, 3]


def test_dead_server_gives_a_clear_error_without_leaking_the_key(tiny_server, monkeypatch, caplog):
    from tests.fixtures.generate import free_port

    monkeypatch.setenv("NEBULA_TEST_API_KEY", "sk-test-secret-123")
    url = f"http://127.0.0.1:{free_port()}/v1"
    backend = backend_for(url, "m", retries=2, api_key_env="NEBULA_TEST_API_KEY")
    with caplog.at_level(logging.DEBUG), pytest.raises(GenerationError) as info:
        backend.generate(["a", "b"], SamplingSettings(max_tokens=4), progress=False)
    err = info.value
    assert url in str(err) and "failed after 3 attempts" in str(err) and "connection failed" in str(err)
    assert "server is running" in err.hint and "0 of 2 conversations finished" in err.hint
    assert err.partial == [None, None]
    assert "sk-test-secret-123" not in str(err) + err.hint + caplog.text


def test_server_dying_midway_keeps_what_was_done(tiny_server, fault_proxy, monkeypatch):
    base_url, model = tiny_server
    monkeypatch.setenv("NEBULA_TEST_API_KEY", "sk-test-secret-123")
    saved = {}
    with fault_proxy(die_after=3) as proxy:
        backend = backend_for(proxy.base_url, model, max_concurrency=1, retries=1, api_key_env="NEBULA_TEST_API_KEY")
        with pytest.raises(GenerationError) as info:
            backend.generate(CONVERSATIONS, GREEDY, progress=False, on_result=lambda i, c: saved.setdefault(i, c))
    # The key was read from the environment and sent as a bearer token.
    assert proxy.authorization == {"Bearer sk-test-secret-123"}
    # 3 requests succeeded with one worker: conversation 0 (2 samples) finished, conversation 1 half-done.
    assert list(saved) == [0]
    assert info.value.partial[0] is not None and info.value.partial[1:] == [None, None, None]
    assert info.value.completed == 1 and "1 of 4 conversations finished" in info.value.hint
