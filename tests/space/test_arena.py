"""The arena's generation: checkpoints fetched at their pinned commit, answers streamed concurrently, verdicts."""

import pytest

from nebula_hub.errors import NebulaError
from nebula_hub.space.arena import ArenaRequest, ModelPool, stream_arena


@pytest.fixture(scope="module")
def pool(space_hub):
    pool = ModelPool(space_hub.api(), device="cpu")
    yield pool
    pool.close()


def test_streams_two_checkpoints_matching_the_backend(space_hub, space_content, pool):
    from nebula_hub.generate import SamplingSettings

    ckpts = [space_content.checkpoint("base"), space_content.checkpoint("run-grpo")]
    request = ArenaRequest(
        prompt="What is 2 + 2?",
        max_new_tokens=12,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        seed=7,
        gold="4",
        constraints='{"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}',
    )
    updates = list(stream_arena(pool, ckpts, request))
    final = updates[-1]
    assert [p.status for p in final] == ["done", "done"], [p.error for p in final]
    assert len(updates) > 3  # streamed, not one final update
    # Seeded sampling: each answer is exactly what the shared backend generates for that checkpoint and seed.
    settings = SamplingSettings(temperature=1.0, max_tokens=12, seed=7)
    for pane, ckpt in zip(final, ckpts, strict=False):
        backend = pool.get(ckpt.ref.repo, ckpt.sha)
        expected = backend.generate([request.conversation()], settings, progress=False)[0][0]
        assert pane.raw.replace("<think>", "").replace("</think>", "") == expected.text
        assert pane.tokens == expected.completion_tokens
        assert [v.verifier for v in pane.verdicts] == ["math", "ifeval"]
    # Two checkpoints, two models (the seeded sampler shares its noise across models, so texts may coincide).
    assert pool.get(ckpts[0].ref.repo, ckpts[0].sha) is not pool.get(ckpts[1].ref.repo, ckpts[1].sha)
    # The pool fetched each checkpoint at its pinned commit.
    assert {key[1] for key in pool._models} >= {space_hub.shas["base"], space_hub.shas["run-grpo"]}


def test_pane_count_is_checked(space_content, pool):
    with pytest.raises(NebulaError, match="compares 2 to 4 checkpoints, got 1"):
        next(stream_arena(pool, space_content.checkpoints[:1], ArenaRequest(prompt="hi")))
