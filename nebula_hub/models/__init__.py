"""Model factories: the tiny Qwen3 used by tests and the offline quickstart."""

from nebula_hub.models.tiny import SPECIAL_TOKENS, TinyModelConfig, build_tiny_model, build_tokenizer


__all__ = ["SPECIAL_TOKENS", "TinyModelConfig", "build_tiny_model", "build_tokenizer"]
