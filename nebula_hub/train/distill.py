"""On-policy distillation: one teacher (OPD, TRL's `DistillationTrainer` as is) or several (MOPD, a small subclass).

In both, the student samples completions for the prompts, the teacher scores the student's tokens with a local
forward pass, and the loss is TRL's generalised JSD over the full vocabulary (`beta=1.0`: reverse KL).

MOPD (`MultiTeacherDistillationTrainer`) adds teachers keyed by name and a per-row task label (`route_column`):
- `route` (default): each row's loss uses the teacher its task is routed to. `_generate_and_score_completions`
  tags each row with its teacher index (a `(B,)` tensor TRL's shuffle/split helpers carry along); `_compute_loss`
  runs TRL's own loss once per teacher group on that group's rows (so each teacher scores only its rows) with the
  global token count as denominator, and sums. With every task routed to one teacher it is exactly OPD.
- `fuse`: the per-token target is a log-linear mixture of the teachers, weights per task:
  `log q ∝ Σ_i w_i log p_i`. Since `log_softmax` is shift-invariant this equals `softmax(Σ_i w_i z_i)`, and
  `Σ_i w_i z_i = [w_1 h_1, ..., w_n h_n] · [W_1, ..., W_n]ᵀ`, so TRL's chunked loss computes it exactly by
  concatenating the weighted teacher hidden states and `lm_head` weights along the hidden dimension (never
  materialising `(B, T, V)` logits).

Teachers must share the student's tokenizer exactly: TRL only compares `vocab_size`, which lets two different
tokenizers of the same size through; `check_same_tokenizer` compares vocabularies, merges and special tokens.

    trainer = MultiTeacherDistillationTrainer(model=student_path, teachers={"math": m1, "code": m2},
                                              routes={"math": "math", "code": "code"}, args=mopd_config,
                                              train_dataset=ds_with_prompt_and_task, processing_class=tok)
"""

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from trl import DistillationTrainer
from trl.trainer.distillation_trainer import _chunked_divergence_loss

from nebula_hub.errors import NebulaError
from nebula_hub.train.common import TrainResult, load_tokenizer, run_trainer


logger = logging.getLogger(__name__)
FALLBACK = "*"


# ---- tokenizer compatibility -----------------------------------------------------------------------------------
_TOKENIZER_PARTS = ("model", "added_tokens", "normalizer", "pre_tokenizer", "decoder")


def _tokenizer_parts(tokenizer) -> dict[str, Any]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return {"vocab": tokenizer.get_vocab()}
    data = json.loads(backend.to_str())
    return {key: data.get(key) for key in _TOKENIZER_PARTS}


def check_same_tokenizer(student_tok, teacher_tok, teacher_name: str = "teacher", student_name: str = "student"):
    """Raise `NebulaError` unless the teacher tokenizes exactly like the student (vocab, merges, special tokens).

    Example:
        >>> from transformers import AutoTokenizer
        >>> from nebula_hub.models import TinyModelConfig, build_tiny_model
        >>> a = AutoTokenizer.from_pretrained(build_tiny_model(TinyModelConfig(seed=0)))
        >>> b = AutoTokenizer.from_pretrained(build_tiny_model(TinyModelConfig(seed=1)))
        >>> check_same_tokenizer(a, b, "math")   # same tokenizer settings, different weights: passes
    """
    s, t = _tokenizer_parts(student_tok), _tokenizer_parts(teacher_tok)
    differing = [key for key in s if s[key] != t.get(key)]
    if not differing:
        return
    sv, tv = student_tok.get_vocab(), teacher_tok.get_vocab()
    only_s = sorted(set(sv) - set(tv))[:5]
    moved = sorted(k for k in set(sv) & set(tv) if sv[k] != tv[k])[:5]
    raise NebulaError(
        f"teacher {teacher_name!r} does not share the {student_name}'s tokenizer: {', '.join(differing)} differ "
        f"(vocab {len(sv)} vs {len(tv)} tokens; e.g. only in the student: {only_s}, different ids: {moved})",
        hint="on-policy distillation compares next-token distributions id by id, so teacher and student need the "
        "same tokenizer; pick a teacher from the same model family (TRL's GOLD trainer handles different tokenizers)",
    )


def load_teacher(path: str | Path, init_kwargs: dict | None = None):
    """Load a teacher model for scoring (eval mode, no grad)."""
    from transformers import AutoModelForCausalLM

    kwargs = dict(init_kwargs or {})
    dtype = kwargs.get("dtype")
    if isinstance(dtype, str) and dtype != "auto":
        kwargs["dtype"] = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    model.eval().requires_grad_(False)
    return model


# ---- MOPD ------------------------------------------------------------------------------------------------------
class MultiTeacherDistillationTrainer(DistillationTrainer):
    """`DistillationTrainer` with one teacher per domain: `route` each row to its task's teacher, or `fuse` them.

    Args:
        teachers (`dict[str, PreTrainedModel]`): teacher name -> model; the same model object may appear under
            several names (it is prepared once).
        routes (`dict[str, str]`): task label -> teacher name; the key `"*"` catches every other task.
        args (`MOPDConfig`): `DistillationConfig` plus `mopd_mode`, `route_column`, `teacher_weights`.

    After training, `routing_counts` holds how many rows each (task, teacher) pair scored, and the logs carry
    `loss/<teacher>` (mean per-token divergence of that teacher's rows).
    """

    def __init__(self, model, teachers: dict, routes: dict[str, str], args, **kwargs):
        if not teachers:
            raise NebulaError("MOPD needs at least one teacher", hint="list the teachers in the stage's 'teachers'")
        unknown = sorted({t for t in routes.values() if t not in teachers})
        if unknown:
            raise NebulaError(f"MOPD routes name unknown teachers {unknown}", hint=f"teachers are {sorted(teachers)}")
        self.teacher_names = list(teachers)
        self.routes = dict(routes)
        self.mode = args.mopd_mode
        self.route_column = args.route_column
        self.teacher_weights = (
            _normalised_weights(args.teacher_weights, self.teacher_names) if self.mode == "fuse" else {}
        )
        first = teachers[self.teacher_names[0]]
        super().__init__(model=model, teacher_model=first, args=args, **kwargs)
        prepared = {id(first): self.teacher_model}
        self.teachers = {}
        for name, teacher in teachers.items():
            if id(teacher) not in prepared:
                # Same preparation TRL gives its single teacher (DeepSpeed engine or accelerator eval wrapper).
                if self.is_deepspeed_enabled:
                    from trl.models import prepare_deepspeed

                    prepared[id(teacher)] = prepare_deepspeed(teacher, self.accelerator)
                else:
                    prepared[id(teacher)] = self.accelerator.prepare_model(teacher, evaluation_mode=True)
            self.teachers[name] = prepared[id(teacher)]
        vocab = self.model.config.get_text_config().vocab_size
        for name, teacher in self.teachers.items():
            tv = self.accelerator.unwrap_model(teacher).config.get_text_config().vocab_size
            if tv != vocab:
                raise NebulaError(
                    f"teacher {name!r} has vocab_size {tv}, the student {vocab}",
                    hint="use teachers of the student's family",
                )
        self.routing_counts: Counter = Counter()

    def teacher_for(self, task: str | None) -> str:
        """The teacher name a task label routes to (raises naming the task and the routes if none)."""
        if task in self.routes:
            return self.routes[task]
        if FALLBACK in self.routes:
            return self.routes[FALLBACK]
        raise NebulaError(
            f"MOPD: row with {self.route_column}={task!r} has no teacher (routes: {self.routes})",
            hint=f"add {task!r} to a teacher's 'tasks' in the recipe, or give one teacher tasks: ['*']",
        )

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        tasks = [row.get(self.route_column) for row in inputs]
        device = output["completion_ids"].device
        output["teacher_idx"] = torch.tensor(
            [self.teacher_names.index(self.teacher_for(t)) for t in tasks], dtype=torch.long, device=device
        )
        output["route_task"] = tasks  # a list, carried along by TRL's shuffle/split helpers like the tensors
        if self.mode == "fuse":
            output["teacher_weight"] = torch.tensor(
                [[self._fuse_weight(t, name) for name in self.teacher_names] for t in tasks], device=device
            )
        return output

    def _fuse_weight(self, task: str | None, teacher: str) -> float:
        table = self.teacher_weights.get(task) or self.teacher_weights.get(FALLBACK)
        if table is None:
            # No weights for this task: fall back to its routed teacher alone.
            return 1.0 if teacher == self.teacher_for(task) else 0.0
        return table.get(teacher, 0.0)

    def _compute_loss(self, unwrapped_student, inputs, num_items_in_batch):
        loss_mask = (
            inputs["completion_mask"] * inputs["tool_mask"] if "tool_mask" in inputs else inputs["completion_mask"]
        )
        if num_items_in_batch is None:  # evaluation: normalise by this micro-batch's tokens, as TRL does
            num_items_in_batch = loss_mask.sum().clamp(min=1)
        if self.mode == "fuse":
            return self._fused_loss(unwrapped_student, inputs, num_items_in_batch)
        mode = "train" if self.model.training else "eval"
        idx = inputs["teacher_idx"]
        batch = idx.size(0)
        total_loss, total_entropy, total_valid = 0.0, 0.0, 0
        original = self.teacher_model
        try:
            for k in torch.unique(idx).tolist():
                rows = (idx == k).nonzero(as_tuple=True)[0]
                sub = {key: _take(value, rows, batch) for key, value in inputs.items()}
                name = self.teacher_names[k]
                self.teacher_model = self.teachers[name]
                loss, entropy, valid = super()._compute_loss(unwrapped_student, sub, num_items_in_batch)
                total_loss = total_loss + loss
                total_entropy = total_entropy + entropy
                total_valid = total_valid + valid
                tokens = max(int(valid), 1)
                self._metrics[mode][f"loss/{name}"].append(float(loss.detach()) * float(num_items_in_batch) / tokens)
                for r in rows.tolist():
                    self.routing_counts[(inputs["route_task"][r], name)] += 1
        finally:
            self.teacher_model = original
        return total_loss, total_entropy, total_valid

    def _fused_loss(self, unwrapped_student, inputs, num_items_in_batch):
        input_ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
        attention_mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
        loss_mask = inputs["completion_mask"]
        keep = inputs["completion_ids"].size(1)
        student_hidden = self._get_last_hidden_state(unwrapped_student, input_ids, attention_mask, keep)
        weights = inputs["teacher_weight"]  # (B, n_teachers), rows sum to 1
        hidden, heads = [], []
        for k, name in enumerate(self.teacher_names):
            if not bool((weights[:, k] > 0).any()):
                continue
            teacher = self.teachers[name]
            unwrapped = self.accelerator.unwrap_model(teacher)
            _check_plain_head(unwrapped, name)
            with torch.no_grad():
                h = self._forward_redirection(
                    teacher, unwrapped, self._get_last_hidden_state, unwrapped, input_ids, attention_mask, keep
                )
            hidden.append(h * weights[:, k, None, None].to(h.dtype))
            heads.append(unwrapped.get_output_embeddings().weight)
            for r in (weights[:, k] > 0).nonzero(as_tuple=True)[0].tolist():
                self.routing_counts[(inputs["route_task"][r], name)] += 1
        head = unwrapped_student.get_output_embeddings()
        loss, entropy, valid = _chunked_divergence_loss(
            student_hidden,
            torch.cat(hidden, dim=-1),
            head.weight,
            torch.cat([w.to(head.weight.device) for w in heads], dim=-1),
            loss_mask.to(head.weight.device),
            self.beta,
            num_items_in_batch=num_items_in_batch,
            student_lm_head_bias=head.bias,
            temperature=self.temperature,
        )
        return loss, entropy.detach(), valid


def _take(value, rows, batch):
    if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.size(0) == batch:
        return value[rows.to(value.device)]
    if isinstance(value, list) and len(value) == batch:
        return [value[r] for r in rows.tolist()]
    return value


def _check_plain_head(model, name: str) -> None:
    cfg = model.config.get_text_config()
    head = model.get_output_embeddings()
    if head.bias is not None or getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None):
        raise NebulaError(
            f"MOPD fuse: teacher {name!r} has an lm_head bias, logit scale or softcapping, which the fused target "
            "does not support",
            hint="use mopd_mode: route for these teachers",
        )


def _normalised_weights(table: dict[str, dict[str, float]], names: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for task, weights in table.items():
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise NebulaError(
                f"MOPD teacher_weights[{task!r}] names unknown teachers {unknown}", hint=f"teachers: {names}"
            )
        total = sum(weights.values())
        if total <= 0 or any(w < 0 for w in weights.values()):
            raise NebulaError(f"MOPD teacher_weights[{task!r}] = {weights}: weights must be >= 0 and not all 0")
        out[task] = {k: v / total for k, v in weights.items()}
    return out


# ---- entry points ----------------------------------------------------------------------------------------------
def train_opd(model_path, teacher_path, train_dataset, args, resume: bool = False, callbacks=None) -> TrainResult:
    """Single-teacher on-policy distillation with TRL's `DistillationTrainer`.

    Example:
        >>> from trl import DistillationConfig
        >>> args = DistillationConfig(output_dir="/tmp/opd-doc", max_steps=1, use_cpu=True, bf16=False,
        ...                           max_completion_length=8, per_device_train_batch_size=2)     # doctest: +SKIP
        >>> train_opd(student_path, teacher_path, prompts, args).metrics["final_loss"]       # doctest: +SKIP
    """
    tokenizer = load_tokenizer(model_path, padding_side="left")
    check_same_tokenizer(tokenizer, load_tokenizer(teacher_path), str(teacher_path))
    teacher = load_teacher(teacher_path, args.teacher_model_init_kwargs)
    args.teacher_model_init_kwargs = None  # used above; TRL refuses them next to an instantiated teacher
    trainer = DistillationTrainer(
        model=str(model_path),
        teacher_model=teacher,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    return run_trainer(trainer, args.output_dir, resume=resume)


def build_routes(teachers: list) -> dict[str, str]:
    """task label -> teacher name from the recipe's `TeacherSpec.tasks` (a task named twice is an error)."""
    routes: dict[str, str] = {}
    for t in teachers:
        for task in t.tasks or [t.name]:
            if task in routes:
                raise NebulaError(
                    f"MOPD: task {task!r} is routed to both {routes[task]!r} and {t.name!r}",
                    hint="name each task once",
                )
            routes[task] = t.name
    return routes


def train_mopd(model_path, teacher_paths: dict[str, Path], routes, train_dataset, args, resume=False, callbacks=None):
    """Multi-teacher on-policy distillation; returns the `TrainResult` with routing counts in its metrics.

    Args:
        teacher_paths (`dict[str, Path]`): teacher name -> local model folder; equal folders are loaded once.
        routes (`dict[str, str]`): task label -> teacher name (`"*"` for the rest); see `build_routes`.
    """
    tokenizer = load_tokenizer(model_path, padding_side="left")
    loaded: dict[str, Any] = {}
    teachers = {}
    for name, path in teacher_paths.items():
        key = str(Path(path).resolve())
        if key not in loaded:
            check_same_tokenizer(tokenizer, load_tokenizer(path), name)
            loaded[key] = load_teacher(path, args.teacher_model_init_kwargs)
        teachers[name] = loaded[key]
    args.teacher_model_init_kwargs = None
    if args.route_column not in train_dataset.column_names:
        raise NebulaError(
            f"MOPD: the dataset has no {args.route_column!r} column to route rows by (columns: {train_dataset.column_names})",
            hint="train MOPD on a published pool whose rows carry the task label, or set args.route_column",
        )
    trainer = MultiTeacherDistillationTrainer(
        model=str(model_path),
        teachers=teachers,
        routes=routes,
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    result = run_trainer(trainer, args.output_dir, resume=resume)
    result.metrics["routing"] = {f"{task}->{name}": n for (task, name), n in sorted(trainer.routing_counts.items())}
    return result
