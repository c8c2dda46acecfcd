"""Arena latency on tiny Qwen3 checkpoints served from a temporary local hub: time to the first visible token and
time until every answer is done, for 2 and 4 checkpoints answering one prompt concurrently (interleaved streams,
`nebula_hub.space.arena.stream_arena`), against the baseline of generating the same answers one checkpoint after
the other without streaming (`TransformersBackend.generate`, what the Space would do without threads).

    python benchmarks/space_arena.py            # 64 new tokens, 5 rounds
    python benchmarks/space_arena.py --quick    # 24 new tokens, 2 rounds

Models are loaded once before timing (the pool keeps them), so the figures are generation and streaming only;
torch runs one intra-op thread in both arms.
"""

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="24 new tokens, 2 rounds")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    new_tokens, rounds = (24, 2) if args.quick else (64, 5)
    import torch

    # One intra-op thread for both arms: on a small shared CPU, torch's default thread pool made a 64-token tiny
    # generation ~25x slower (OpenMP spin contention), which would swamp what this script compares.
    torch.set_num_threads(1)

    from nebula_hub.envinfo import device_summary
    from nebula_hub.generate import SamplingSettings
    from nebula_hub.hub import ensure_local_hub, get_api
    from nebula_hub.models import TinyModelConfig, build_tiny_model
    from nebula_hub.space import CheckpointRef
    from nebula_hub.space.arena import ArenaRequest, ModelPool, stream_arena
    from nebula_hub.space.hub_reader import read_checkpoint

    with tempfile.TemporaryDirectory(prefix="space-bench-") as tmp:
        hub = ensure_local_hub(Path(tmp) / "hub", port=None)
        try:
            api = get_api(hub.target)
            repo = "local/arena-bench"
            api.create_repo(repo)
            ckpts = []
            for seed in range(4):
                branch = f"seed-{seed}"
                api.create_branch(repo, branch=branch)
                api.upload_folder(
                    folder_path=str(build_tiny_model(TinyModelConfig(seed=seed))), repo_id=repo, revision=branch
                )
                ckpts.append(read_checkpoint(api, CheckpointRef(repo, branch)))
            pool = ModelPool(api, device="cpu")
            for c in ckpts:
                pool.get(c.ref.repo, c.sha)
            request = ArenaRequest(
                prompt="Explain what a unit test is.",
                max_new_tokens=new_tokens,
                temperature=1.0,
                top_p=1.0,
                top_k=0,
                seed=0,
            )
            settings = SamplingSettings(temperature=1.0, max_tokens=new_tokens, seed=0)
            print(f"device: {device_summary()}; {new_tokens} new tokens, {rounds} rounds (median)")
            for n in (2, 4):
                chosen = ckpts[:n]
                first, total, tokens = [], [], 0
                for _ in range(rounds):
                    start = time.perf_counter()
                    seen_first = None
                    for panes in stream_arena(pool, chosen, request):
                        if seen_first is None and any(p.raw for p in panes):
                            seen_first = time.perf_counter() - start
                    total.append(time.perf_counter() - start)
                    first.append(seen_first or total[-1])
                    tokens = sum(p.tokens for p in panes)
                base_total = []
                for _ in range(rounds):
                    start = time.perf_counter()
                    for c in chosen:
                        pool.get(c.ref.repo, c.sha).generate([request.conversation()], settings, progress=False)
                    base_total.append(time.perf_counter() - start)
                t_first, t_all, t_base = (statistics.median(x) for x in (first, total, base_total))
                print(
                    f"{n} checkpoints: arena first visible token {t_first * 1000:.0f} ms, all done {t_all:.2f} s "
                    f"({tokens / t_all:.0f} tok/s over {tokens} tokens) | baseline sequential, no streaming: first "
                    f"answer visible after all {t_base:.2f} s | first-token ratio baseline/arena "
                    f"{t_base / t_first:.1f}x, total ratio baseline/arena {t_base / t_all:.2f}x"
                )
            pool.close()
        finally:
            hub.stop()


if __name__ == "__main__":
    main()
