"""The tiny Qwen3: reloadable, chat template with thinking and generation markers, exact assistant mask."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from nebula_hub.models import SPECIAL_TOKENS, TinyModelConfig, build_tiny_model, build_tokenizer


CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": "<think>\n2+3=5\n</think>\n\nThe answer is 5."},
    {"role": "user", "content": "And 4+4?"},
    {"role": "assistant", "content": "8"},
]


def test_reload_and_generate_through_chat_template(tiny_model_path):
    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert all(t in tok.get_vocab() for t in SPECIAL_TOKENS)
    # As in Qwen3: only ChatML control tokens are special; <think> survives skip_special_tokens.
    assert set(tok.all_special_tokens) == {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
    ids = tok("<think>\nhm\n</think>\n\nok<|im_end|>")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "<think>\nhm\n</think>\n\nok"
    assert model.config.model_type == "qwen3" and model.config.vocab_size == len(tok)

    prompt = tok.apply_chat_template(CONVERSATION[1:2], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n"
    no_think = tok.apply_chat_template(CONVERSATION[1:2], tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert no_think.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")

    enc = tok.apply_chat_template(CONVERSATION[1:2], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    new = out[0, enc["input_ids"].shape[1] :]
    assert 1 <= new.numel() <= 12
    assert isinstance(tok.decode(new), str)


def test_assistant_mask_covers_exactly_the_assistant_replies(tiny_model_path):
    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    out = tok.apply_chat_template(CONVERSATION, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask)
    # Split the masked tokens into contiguous spans: one per assistant turn, nothing else.
    spans, current = [], []
    for token, m in zip(ids, mask):
        if m:
            current.append(token)
        elif current:
            spans.append(current)
            current = []
    if current:
        spans.append(current)
    texts = [tok.decode(s) for s in spans]
    assert texts == [
        "<think>\n2+3=5\n</think>\n\nThe answer is 5.<|im_end|>\n",
        "<think>\n\n</think>\n\n8<|im_end|>\n",
    ]
    unmasked = tok.decode([t for t, m in zip(ids, mask) if not m])
    assert "What is 2+3?" in unmasked and "Be brief." in unmasked and "The answer is 5" not in unmasked


def test_cache_is_reused_and_seeds_share_tokenizer(tmp_path, monkeypatch):
    monkeypatch.setenv("NEBULA_HUB_CACHE", str(tmp_path))
    a = build_tiny_model(TinyModelConfig(seed=1))
    mtime = (a / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(TinyModelConfig(seed=1)) == a
    assert (a / "model.safetensors").stat().st_mtime_ns == mtime
    b = build_tiny_model(TinyModelConfig(seed=2))
    assert a != b
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    wa = AutoModelForCausalLM.from_pretrained(a).model.embed_tokens.weight
    wb = AutoModelForCausalLM.from_pretrained(b).model.embed_tokens.weight
    assert not torch.equal(wa, wb)


def test_tokenizer_reaches_requested_vocab():
    tok = build_tokenizer(TinyModelConfig(vocab_size=1024))
    assert len(tok) == 1024
