"""Tiny Qwen3 causal LMs built from a config, for tests and the offline quickstart.

Real checkpoints cannot be downloaded here, so `build_tiny_model` makes a randomly initialised (seeded) Qwen3 with
a BPE tokenizer trained locally on `corpus.tokenizer_corpus`, the Qwen3 chat template with `{% generation %}` markers
(TRL's training variant, so assistant-only loss needs no patching) and ChatML special tokens. The result is saved
with `save_pretrained`, loads with `from_pretrained`, and is cached on disk under a hash of its config.

    from nebula_hub.models import build_tiny_model
    path = build_tiny_model()                       # ~/.cache/nebula-hub/tiny-models/qwen3-tiny-<hash>
    model = AutoModelForCausalLM.from_pretrained(path)
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nebula_hub.models.corpus import tokenizer_corpus
from nebula_hub.paths import cache_dir


# Qwen3's template references every one of these; the first is the pad token, `<|im_end|>` is eos.
# As in Qwen3's own tokenizer, only the first three are *special* (dropped by skip_special_tokens); the think and tool
# markers are added tokens that stay in decoded text, so `<think>` blocks survive decoding.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
]
# Bump when the build procedure changes so cached models are rebuilt.
_BUILD_VERSION = "v2"


@dataclass
class TinyModelConfig:
    """How to build a tiny Qwen3.

    Tokenizer:
        vocab_size, corpus_lines, corpus_seed: the BPE tokenizer; models built with the same three values share a
        byte-identical tokenizer (students and teachers must).
    Model:
        hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
        max_position_embeddings: the Qwen3 architecture.
        seed: the random initialisation; different seeds make different "teachers" with the same tokenizer.
    """

    vocab_size: int = field(default=1024, metadata={"help": "BPE vocabulary size (special tokens included)."})
    corpus_lines: int = field(default=6000, metadata={"help": "Lines of synthetic text to train the tokenizer on."})
    corpus_seed: int = field(default=0, metadata={"help": "Seed of the tokenizer corpus."})
    hidden_size: int = field(default=64, metadata={"help": "Model width."})
    intermediate_size: int = field(default=128, metadata={"help": "MLP width."})
    num_hidden_layers: int = field(default=2, metadata={"help": "Number of decoder layers."})
    num_attention_heads: int = field(default=4, metadata={"help": "Attention heads."})
    num_key_value_heads: int = field(default=2, metadata={"help": "Key/value heads (grouped-query attention)."})
    head_dim: int = field(default=16, metadata={"help": "Width of each attention head."})
    max_position_embeddings: int = field(default=2048, metadata={"help": "Longest sequence the model accepts."})
    seed: int = field(default=0, metadata={"help": "Seed of the random weight initialisation."})

    def fingerprint(self) -> str:
        """A short hash of everything that changes the saved files."""
        payload = json.dumps({**dataclasses.asdict(self), "build": _BUILD_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def chat_template() -> str:
    """Qwen3's chat template with `{% generation %}` markers, as TRL ships it for assistant-only loss."""
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / "qwen3_training.jinja").read_text()


def build_tokenizer(config: TinyModelConfig):
    """Train a byte-level BPE tokenizer on the seeded corpus and wrap it as a transformers fast tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(tokenizer_corpus(config.corpus_lines, config.corpus_seed), trainer)
    # The trainer registers every reserved token as special; demote the think/tool markers (same ids).
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in SPECIAL_TOKENS[3:]])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        chat_template=chat_template(),
        model_max_length=config.max_position_embeddings,
    )


def build_tiny_model(
    config: TinyModelConfig | None = None, output_dir: str | os.PathLike | None = None, overwrite: bool = False
) -> Path:
    """Build (or reuse from the cache) a tiny Qwen3 and its tokenizer; return the folder holding both.

    Args:
        config (`TinyModelConfig`, *optional*): defaults to `TinyModelConfig()`.
        output_dir (`str`, *optional*): where to save; defaults to `<cache>/tiny-models/qwen3-tiny-<fingerprint>`.
        overwrite (`bool`, *optional*, defaults to `False`): rebuild even if the folder is complete.

    Example:
        >>> from transformers import AutoModelForCausalLM, AutoTokenizer
        >>> path = build_tiny_model(TinyModelConfig(seed=1))
        >>> tok = AutoTokenizer.from_pretrained(path); model = AutoModelForCausalLM.from_pretrained(path)
    """
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    config = config or TinyModelConfig()
    target = Path(output_dir) if output_dir else cache_dir() / "tiny-models" / f"qwen3-tiny-{config.fingerprint()}"
    marker = target / "nebula_tiny.json"
    if marker.exists() and not overwrite:
        return target

    tokenizer = build_tokenizer(config)
    model_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        head_dim=config.head_dim,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = Qwen3ForCausalLM(model_config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=False
    )

    # Build in a sibling temp folder and rename, so a crash never leaves a half-written model in the cache.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "nebula_tiny.json").write_text(
            json.dumps({"config": dataclasses.asdict(config), "fingerprint": config.fingerprint()}, indent=2)
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
