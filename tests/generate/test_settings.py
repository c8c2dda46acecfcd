"""Settings validation, provenance records and input checking (no model needed)."""

import pytest

from nebula_hub.errors import ConfigError, RecordValidationError
from nebula_hub.generate import BackendConfig, Completion, SamplingSettings, normalize_conversations
from nebula_hub.generate.settings import request_fingerprint


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("n", 0, "an integer >= 1"),
        ("temperature", -0.5, "a number >= 0"),
        ("top_p", 1.5, "(0, 1]"),
        ("top_k", 0, "an integer >= 1 or null"),
        ("max_tokens", 0, "an integer >= 1"),
        ("seed", -1, "[0, 2**62)"),
        ("stop", [""], "non-empty strings"),
    ],
)
def test_sampling_settings_reject_bad_values_naming_field_and_value(field, value, expected):
    with pytest.raises(ConfigError) as info:
        SamplingSettings(**{field: value})
    assert f"'{field}' is {value!r}" in str(info.value), field
    assert expected in info.value.hint, field


def test_sampling_settings_record_round_trips_and_fingerprint_tracks_changes():
    settings = SamplingSettings(n=3, temperature=0.7, top_k=20, seed=5, stop="</a>", enable_thinking=False)
    assert settings.stop == ["</a>"]
    record = settings.as_record()
    assert SamplingSettings(**record) == settings
    assert SamplingSettings(**record).fingerprint() == settings.fingerprint()
    assert SamplingSettings(**{**record, "seed": 6}).fingerprint() != settings.fingerprint()
    assert [settings.sample_seed(j) for j in range(3)] == [5, 6, 7]
    assert SamplingSettings().sample_seed(2) is None


def test_backend_config_validation_and_no_secret_in_record(monkeypatch):
    with pytest.raises(ConfigError, match="'backend' is 'tgi'"):
        BackendConfig(backend="tgi", model="m")
    with pytest.raises(ConfigError, match="'base_url' is None") as info:
        BackendConfig(backend="openai", model="m")
    assert "http://127.0.0.1:8000/v1" in info.value.hint
    monkeypatch.setenv("MY_KEY", "sk-very-secret")
    cfg = BackendConfig(backend="openai", model="m", base_url="http://h/v1", api_key_env="MY_KEY")
    assert "sk-very-secret" not in repr(cfg.as_record()) and cfg.as_record()["api_key_env"] == "MY_KEY"


def test_completion_dict_round_trip_drops_absent_optionals():
    completion = Completion("hi", "stop", 3, 2)
    assert completion.as_dict() == {"text": "hi", "finish_reason": "stop", "prompt_tokens": 3, "completion_tokens": 2}
    with_logprobs = Completion("hi", "length", 3, 2, logprobs=[-0.1, -2.0], reasoning="hmm")
    assert Completion.from_dict(with_logprobs.as_dict()) == with_logprobs


def test_normalize_conversations_accepts_strings_and_names_the_bad_message():
    assert normalize_conversations(["hi"]) == [[{"role": "user", "content": "hi"}]]
    with pytest.raises(RecordValidationError, match=r"conversation 1, message 0 \('user'\) has content 5"):
        normalize_conversations(["ok", [{"role": "user", "content": 5}]])
    with pytest.raises(RecordValidationError, match="conversation 0 is \\[\\]"):
        normalize_conversations([[]])


def test_request_fingerprint_depends_on_messages_settings_and_model():
    messages = [{"role": "user", "content": "hi"}]
    base = request_fingerprint(messages, SamplingSettings(seed=0), "m", None)
    assert base == request_fingerprint([dict(messages[0])], SamplingSettings(seed=0), "m", None)
    assert base != request_fingerprint(messages, SamplingSettings(seed=1), "m", None)
    assert base != request_fingerprint(messages, SamplingSettings(seed=0), "m", "v1.0")
    assert base != request_fingerprint([{"role": "user", "content": "hi!"}], SamplingSettings(seed=0), "m", None)
