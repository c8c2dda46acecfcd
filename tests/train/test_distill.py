"""MOPD routing and fusion against TRL's own single-teacher loss, and the tokenizer check (issue 9)."""

import pytest
import torch


@pytest.fixture(scope="module")
def tiny_family():
    from nebula_hub.models import TinyModelConfig, build_tiny_model

    return {seed: build_tiny_model(TinyModelConfig(seed=seed)) for seed in (0, 1, 2)}


def _mopd_trainer(tmp_path, family, mode="route", teacher_weights=None):
    from datasets import Dataset

    from nebula_hub.train.common import load_tokenizer
    from nebula_hub.train.distill import MultiTeacherDistillationTrainer, load_teacher
    from nebula_hub.train.trl_configs import MOPDConfig

    args = MOPDConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False, report_to="none",
        per_device_train_batch_size=4, max_completion_length=6, max_steps=1, mopd_mode=mode,
        teacher_weights=teacher_weights or {},
    )  # fmt: skip
    rows = [
        {"prompt": [{"role": "user", "content": f"What is {i} plus {i}?"}], "task": task}
        for i, task in enumerate(["math", "code", "math", "code"])
    ]
    teachers = {"math": load_teacher(family[1]), "code": load_teacher(family[2])}
    for t in teachers.values():
        # Random tiny models are near-uniform; sharpen them so the two teachers disagree clearly.
        t.get_output_embeddings().weight.data.mul_(8.0)
    trainer = MultiTeacherDistillationTrainer(
        model=str(family[0]), teachers=teachers, routes={"math": "math", "code": "code"}, args=args,
        train_dataset=Dataset.from_list(rows), processing_class=load_tokenizer(family[0], padding_side="left"),
    )  # fmt: skip
    torch.manual_seed(0)
    batch = trainer._generate_and_score_completions(rows)
    return trainer, batch, rows


def _single_teacher_loss(trainer, batch, row, teacher, num_items):
    """TRL's own single-teacher loss on one row (the reference each routed row must match)."""
    from trl import DistillationTrainer

    from nebula_hub.train.distill import _take

    student = trainer.accelerator.unwrap_model(trainer.model)
    sub = {k: _take(v, torch.tensor([row]), batch["completion_ids"].size(0)) for k, v in batch.items()}
    trainer.teacher_model = trainer.teachers[teacher]
    loss, _, _ = DistillationTrainer._compute_loss(trainer, student, sub, num_items)
    return loss


def test_mopd_route_uses_each_rows_task_teacher(tmp_path, tiny_family):
    trainer, batch, rows = _mopd_trainer(tmp_path, tiny_family)
    student = trainer.accelerator.unwrap_model(trainer.model)
    n = batch["completion_mask"].sum()
    assert int(n) > 0
    assert batch["teacher_idx"].tolist() == [trainer.teacher_names.index(r["task"]) for r in rows]

    routed, _, valid = trainer._compute_loss(student, batch, n)
    right = sum(_single_teacher_loss(trainer, batch, i, r["task"], n) for i, r in enumerate(rows))
    swap = {"math": "code", "code": "math"}
    wrong = sum(_single_teacher_loss(trainer, batch, i, swap[r["task"]], n) for i, r in enumerate(rows))

    assert int(valid) == int(n)
    assert torch.allclose(routed, right, atol=1e-5), (routed, right)
    assert not torch.allclose(routed, wrong, atol=1e-3), "the two teachers should give different losses"
    assert trainer.routing_counts == {("math", "math"): 2, ("code", "code"): 2}
    logged = trainer._metrics["train" if trainer.model.training else "eval"]
    assert len(logged["loss/math"]) == 1 and len(logged["loss/code"]) == 1


def test_mopd_fuse_matches_log_linear_mixture(tmp_path, tiny_family):
    # One-hot weights reproduce routing exactly.
    onehot = {"math": {"math": 1.0}, "code": {"code": 1.0}}
    trainer, batch, rows = _mopd_trainer(tmp_path / "a", tiny_family, mode="fuse", teacher_weights=onehot)
    student = trainer.accelerator.unwrap_model(trainer.model)
    n = batch["completion_mask"].sum()
    fused, _, _ = trainer._compute_loss(student, batch, n)
    right = sum(_single_teacher_loss(trainer, batch, i, r["task"], n) for i, r in enumerate(rows))
    assert torch.allclose(fused, right, atol=1e-5)

    # Equal weights: reverse KL to softmax(0.5 z_math + 0.5 z_code), computed here with full logits.
    trainer, batch, rows = _mopd_trainer(tmp_path / "b", tiny_family, "fuse", {"*": {"math": 1.0, "code": 1.0}})
    student = trainer.accelerator.unwrap_model(trainer.model)
    n = batch["completion_mask"].sum()
    fused, _, _ = trainer._compute_loss(student, batch, n)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    c = batch["completion_ids"].size(1)
    with torch.no_grad():
        z_s = student(input_ids=ids, attention_mask=mask).logits[:, -c - 1 : -1]
        z_t = sum(
            0.5 * trainer.teachers[k](input_ids=ids, attention_mask=mask).logits[:, -c - 1 : -1]
            for k in ("math", "code")
        )
    logp_s, logp_t = z_s.log_softmax(-1), z_t.log_softmax(-1)
    per_token = (logp_s.exp() * (logp_s - logp_t)).sum(-1)
    expected = (per_token * batch["completion_mask"]).sum() / n
    assert torch.allclose(fused.detach(), expected, atol=1e-4), (fused, expected)


def test_mopd_unrouted_task_names_the_task(tmp_path, tiny_family):
    from nebula_hub.errors import NebulaError

    trainer, _, _ = _mopd_trainer(tmp_path, tiny_family)
    with pytest.raises(NebulaError, match="task='poetry'.*has no teacher"):
        trainer.teacher_for("poetry")


def test_teacher_with_other_tokenizer_is_refused(tiny_family):
    from transformers import AutoTokenizer

    from nebula_hub.errors import NebulaError
    from nebula_hub.models import TinyModelConfig, build_tiny_model
    from nebula_hub.train.distill import check_same_tokenizer

    student = AutoTokenizer.from_pretrained(tiny_family[0])
    check_same_tokenizer(student, AutoTokenizer.from_pretrained(tiny_family[1]), "seed1")  # same tokenizer: fine
    other = AutoTokenizer.from_pretrained(build_tiny_model(TinyModelConfig(corpus_seed=7)))
    assert len(other) == len(student)  # same vocab_size: TRL's own check would let it through
    with pytest.raises(NebulaError, match="teacher 'math' does not share the student's tokenizer: model"):
        check_same_tokenizer(student, other, "math")
