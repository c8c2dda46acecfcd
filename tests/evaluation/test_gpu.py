"""On a GPU: the whole suite on a random-initialised Qwen3-0.6B-sized model in bf16, with the time per benchmark."""

import pytest


@pytest.mark.gpu
@pytest.mark.slow
def test_qwen3_06b_sized_model_bf16_end_to_end(tmp_path):
    from nebula_hub.evaluation.benchmarks import BENCHMARKS
    from nebula_hub.evaluation.runner import EvalConfig, run_evaluation
    from nebula_hub.models import TinyModelConfig, build_tiny_model

    # Qwen3-0.6B's decoder (28 layers, width 1024, 16/8 heads of 128, MLP 3072) with the tiny tokenizer's vocabulary.
    config = TinyModelConfig(
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        max_position_embeddings=4096,
    )
    model = build_tiny_model(config, output_dir=tmp_path / "qwen3-0.6b-sized")
    report = run_evaluation(
        EvalConfig(
            model=str(model),
            suite="all",
            data="bundled",
            dtype="bfloat16",
            device="cuda",
            max_tokens=256,
            batch_size=64,
            output=str(tmp_path / "r.json"),
            progress=False,
        )
    )
    assert [b.name for b in report.benchmarks] == list(BENCHMARKS)
    for b in report.benchmarks:
        print(
            f"{b.name}: {b.n_items} items, generation {b.seconds['generation']:.1f}s, "
            f"scoring {b.seconds['scoring']:.1f}s"
        )
        assert b.n_items == b.n_samples > 0
    assert report.average is not None
