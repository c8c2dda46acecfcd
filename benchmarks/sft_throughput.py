"""SFT throughput on the tiny Qwen3: real (non-pad) tokens per second with plain padding, padding-free batches and
BFD packing, in one process, same data, same steps.

    python benchmarks/sft_throughput.py            # 40 steps per mode
    python benchmarks/sft_throughput.py --quick    # 10 steps per mode

Tokens are what the trainer itself counts (`num_tokens`: attention-mask tokens when padded, packed positions when
padding-free), divided by the `train_runtime` of the run; the first step (graph warm-up) is part of every mode alike.
Conversation lengths are spread from ~20 to ~400 tokens so padding wastes a realistic share of each batch.
"""

import argparse
import random
import tempfile
import time


def conversations(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    words = "the of model data train token batch value loss step answer reason check layer".split()
    rows = []
    for _ in range(n):
        q = " ".join(rng.choice(words) for _ in range(rng.randint(4, 40)))
        a = " ".join(rng.choice(words) for _ in range(int(rng.paretovariate(1.2) * 12) % 300 + 5))
        rows.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    return rows


def run(mode: str, model_path, dataset, steps: int, batch: int, max_length: int) -> dict:
    from trl import SFTConfig, SFTTrainer

    from nebula_hub.train.common import load_tokenizer

    # padding_free without packing does not truncate, so it runs with max_length=None (rows here stay below 512).
    extra = {
        "padding": {"max_length": max_length},
        "padding_free": {"padding_free": True, "max_length": None},
        "packing_bfd": {"packing": True, "packing_strategy": "bfd", "max_length": max_length},
    }[mode]
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(
            output_dir=out, max_steps=steps, per_device_train_batch_size=batch,
            assistant_only_loss=True, use_cpu=True, bf16=False, gradient_checkpointing=False, report_to="none",
            save_strategy="no", logging_steps=steps, disable_tqdm=True, dataloader_num_workers=0, seed=0, **extra,
        )  # fmt: skip
        trainer = SFTTrainer(
            model=str(model_path), args=args, train_dataset=dataset, processing_class=load_tokenizer(model_path)
        )
        t0 = time.perf_counter()
        out = trainer.train()
        wall = time.perf_counter() - t0
        tokens = max(h.get("num_tokens", 0) for h in trainer.state.log_history)
    return {"mode": mode, "tokens": int(tokens), "seconds": out.metrics["train_runtime"], "wall": wall,
            "tokens_per_s": tokens / out.metrics["train_runtime"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 steps per mode instead of 40")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--hidden-size", type=int, default=64, help="tiny model width (64 = the tests' tiny model)")
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args()

    import torch
    from datasets import Dataset

    from nebula_hub.models import TinyModelConfig, build_tiny_model

    torch.set_num_threads(max(1, torch.get_num_threads()))
    steps = 10 if args.quick else 40
    cfg = TinyModelConfig(
        hidden_size=args.hidden_size, intermediate_size=2 * args.hidden_size, num_hidden_layers=args.layers
    )
    model_path = build_tiny_model(cfg)
    dataset = Dataset.from_list(conversations(steps * args.batch * 6))
    print(f"tiny Qwen3 hidden={args.hidden_size} layers={args.layers}, batch={args.batch}, max_length={args.max_length}, "
          f"steps={steps}, torch threads={torch.get_num_threads()}")  # fmt: skip
    results = [
        run(mode, model_path, dataset, steps, args.batch, args.max_length)
        for mode in ("padding", "padding_free", "packing_bfd")
    ]
    base = results[0]["tokens_per_s"]
    print(f"{'mode':<14}{'real tokens':>12}{'train s':>10}{'tokens/s':>12}{'vs padding':>12}")
    for r in results:
        print(
            f"{r['mode']:<14}{r['tokens']:>12}{r['seconds']:>10.2f}{r['tokens_per_s']:>12.0f}{r['tokens_per_s'] / base:>11.2f}x"
        )


if __name__ == "__main__":
    main()
