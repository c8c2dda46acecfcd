"""The tables and charts the Space builds from hub content (benchmarks, data, lineage) and the arena helpers."""

import pytest

from nebula_hub.space import data_view, lineage, scores
from nebula_hub.space.arena import ArenaRequest, Pane, chat_messages, pane_footer, split_thinking
from nebula_hub.space.hub_reader import Score, parse_model_index


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain answer", (None, "plain answer")),
        ("<think>sum them</think>\n\n4", ("sum them", "4")),
        ("reasoning only</think> 4", ("reasoning only", "4")),  # the template opened <think> in the prompt
        ("<think>still going", ("still going", "")),  # truncated inside thinking: no answer yet
    ],
    ids=["no-think", "closed", "opened-by-template", "unclosed"],
)
def test_split_thinking(text, expected):
    assert split_thinking(text) == expected


def test_model_index_parsing_areas_and_bad_values(caplog):
    md = {"model-index": [{"name": "m", "results": [
        {"task": {"type": "text-generation"}, "dataset": {"name": "MATH-500", "type": "HuggingFaceH4/MATH-500"},
         "metrics": [{"type": "accuracy", "value": 0.25}]},
        {"task": {"type": "text-generation"}, "dataset": {"name": "Custom", "type": "me/custom", "args": {"area": "code"}},
         "metrics": [{"type": "pass@1", "value": 0.5}, {"type": "pass@10", "value": "n/a"}]},
    ]}]}  # fmt: skip
    out = parse_model_index(md, where="x README.md")
    assert [(s.benchmark, s.area, s.primary) for s in out] == [("MATH-500", "math", True), ("Custom", "code", True)]
    assert "Custom metric pass@10 has no numeric value" in caplog.text


def test_score_table_deltas_and_html(space_content):
    table = scores.score_table({c.label: c.scores for c in space_content.checkpoints}, base="base")
    assert list(table.frame.columns) == ["IFEval", "GSM8K", "HumanEval", "MMLU", "Average"]  # paper order by area
    assert table.frame.loc["run-grpo", "GSM8K"] == 42.0
    assert table.deltas.loc["run-grpo", "GSM8K"] == 32.0
    assert table.frame.loc["run-sft", "Average"] == pytest.approx((45 + 30 + 15 + 35) / 4, abs=0.06)
    page = scores.table_html(table)
    assert "Instruction following" in page and "<sub class='nh-up'>+32.0</sub>" in page
    against_sft = scores.table_html(
        scores.score_table({c.label: c.scores for c in space_content.checkpoints}, base="run-sft")
    )
    assert "<sub class='nh-down'>-3.0</sub>" in against_sft  # HumanEval: GRPO 12 vs SFT 15
    fig = scores.area_chart(table)
    assert len(fig.axes) == 4
    assert "enable_thinking=False" in scores.settings_markdown(table)


def test_data_views(space_content):
    info = space_content.datasets[0]
    funnel = data_view.funnel_frame(info.stats)
    assert funnel["dropped"].tolist() == [0, 1, 3]
    assert funnel.loc[2, "drop reasons"] == "wrong_answer: 3"
    assert data_view.distributions(info)["task"] == {"math": 6, "code": 4}
    assert data_view.funnel_chart(info.stats) is not None and data_view.distribution_chart(info) is not None
    summary = data_view.summary_markdown(info)
    assert "v1.0.0" in summary and "**rejected**: 4" in summary


def test_lineage_table_and_graph(space_hub, space_content):
    frame = lineage.lineage_frame(space_content.checkpoints)
    grpo = frame.set_index("checkpoint").loc["run-grpo"]
    assert grpo["parent"].startswith(f"{space_hub.model_repo}@run-sft ({space_hub.shas['run-sft'][:8]})")
    assert f"[math]@v1.0.0 ({space_hub.dataset_sha[:8]})" in grpo["datasets"]
    assert "space-test" in grpo["recipe"]
    g = lineage.lineage_graph(space_content.checkpoints)
    assert (space_hub.shas["base"], space_hub.shas["run-sft"], "sft") in g.edges
    assert (space_hub.shas["run-sft"], space_hub.shas["run-grpo"], "grpo") in g.edges
    kinds = sorted(k for k, _ in g.nodes.values())
    assert kinds.count("dataset") == 1 and kinds.count("recipe") == 1 and kinds.count("checkpoint") == 3
    assert lineage.graph_figure(g) is not None


def test_pane_rendering_with_thinking_and_verdicts():
    from nebula_hub.verify import VerificationResult

    request = ArenaRequest(prompt="2+2?", gold="4")
    pane = Pane(
        label="a",
        sha="0" * 40,
        raw="<think>two and two</think>\n\n\\boxed{4}",
        status="done",
        tokens=9,
        seconds=0.5,
        finish_reason="stop",
        verdicts=[VerificationResult("math", "pass", 1.0, "extracted 4")],
    )
    msgs = chat_messages(pane, request)
    assert msgs[1]["metadata"]["status"] == "done" and msgs[1]["content"] == "two and two"
    assert msgs[2] == {"role": "assistant", "content": "\\boxed{4}"}
    foot = pane_footer(pane)
    assert "nh-pass" in foot and "math: pass" in foot and "9 tokens" in foot


def test_arena_request_validation():
    from nebula_hub.errors import NebulaError

    with pytest.raises(NebulaError, match="prompt is empty"):
        ArenaRequest(prompt="  ")
    with pytest.raises(NebulaError, match="IFEval constraints: ") as err:
        ArenaRequest(prompt="hi", constraints='[{"id": "no:such", "kwargs": {}}]')
    assert "no:such" in str(err.value)


def test_scores_without_results_render_a_hint():
    table = scores.score_table({"a": [], "b": []})
    assert table.empty and "nebula-hub eval" in scores.table_html(table) and scores.area_chart(table) is None
    assert scores.score_table({"a": [Score("X", "x", "other", "f1", 70.0, True)]}).percent == {"X/f1": False}


def _eval_card_metadata(values: dict[str, float]) -> dict:
    """A card's metadata as `nebula-hub eval` writes it (one EvalResult per metric, bundled sets, suite average)."""
    from huggingface_hub import EvalResult, ModelCardData

    def result(task, display, metric, value, config="math_boxed_v1,thinking=off", **args):
        return EvalResult(
            task_type="text-generation",
            task_name=task,
            dataset_type=f"nebula-hub/bundled-{task}",
            dataset_name=f"{display} (nebula-hub bundled sample)",
            dataset_config="bundled",
            metric_type=metric,
            metric_name=f"{display} {metric}",
            metric_value=value,
            metric_config=config,
            metric_args={"n": 50, "ci_low": 0.1, "ci_high": 0.6, "libraries": {"torch": "2.13"}, **args},
        )

    results = [
        result("ifeval", "IFEval", "prompt_level_strict_acc", values["ifeval"], "ifeval_v1,thinking=off"),
        result("ifeval", "IFEval", "inst_level_strict_acc", 0.9, "ifeval_v1,thinking=off"),
        result("gsm8k", "GSM8K", "accuracy", values["gsm8k"]),
        result("gsm8k", "GSM8K", "accuracy", 0.3, "math_boxed_v1,thinking=on"),
        EvalResult(
            task_type="text-generation",
            task_name="average",
            dataset_type="nebula-hub/suite-average",
            dataset_name="instruct suite average",
            metric_type="average",
            metric_value=0.5,
            metric_args={"members": {"ifeval": "prompt_level_strict_acc", "gsm8k": "accuracy"}},
        ),
    ]
    return ModelCardData(model_name="m", eval_results=results).to_dict()


def test_model_index_as_nebula_eval_writes_it():
    out = parse_model_index(_eval_card_metadata({"ifeval": 0.3, "gsm8k": 0.2}))
    primary = {s.benchmark: (s.area, s.metric, s.value) for s in out if s.primary}
    assert primary == {
        "IFEval†": ("instruction_following", "prompt_level_strict_acc", 0.3),
        "GSM8K†": ("math", "accuracy", 0.2),
        "GSM8K† (thinking)": ("math", "accuracy", 0.3),
    }
    gsm = next(s for s in out if s.benchmark == "GSM8K†")
    assert gsm.settings["n"] == 50 and "libraries" not in gsm.settings and gsm.settings["config"].endswith("=off")
    table = scores.score_table({"a": out}, base="a")
    assert list(table.frame.columns) == ["IFEval†", "GSM8K†", "GSM8K† (thinking)", "Average"]


def test_lineage_reads_the_cards_train_and_push_writes():
    """Alignment with `nebula_hub.train.card`: the Space reads the `nebula` block exactly as training writes it."""
    card_module = pytest.importorskip("nebula_hub.train.card", reason="the training stage is not installed")
    from nebula_hub.space import CheckpointRef
    from nebula_hub.space.hub_reader import CheckpointInfo

    lin = card_module.StageLineage(
        model_id="local/m", branch="q-grpo", stage="grpo", method="grpo", recipe_name="quickstart",
        recipe_path="pipelines/recipes/tiny/quickstart.yaml", recipe_sha256="c" * 64, recipe_yaml="name: quickstart",
        parent={"repo": "local/m", "revision": "q-ins_sft", "sha": "a" * 40, "stage": "ins_sft"},
        datasets=[{"phase": "grpo", "repo": "local/rl", "config": "default", "split": "train", "revision": "v0.1.0",
                   "sha": "b" * 40, "weight": 1.0, "where": {}, "rows_loaded": 8, "rows_used": 8}],
        teachers=[{"name": "math", "tasks": ["math"], "repo": "local/m", "revision": "q-teacher_math", "sha": "d" * 40}],
    )  # fmt: skip
    ckpt = CheckpointInfo(
        CheckpointRef("local/m", "q-grpo"), "e" * 40, card_module.render_model_card(lin).data.to_dict()
    )
    row = lineage.lineage_frame([ckpt]).iloc[0]
    assert row["parent"] == f"local/m@q-ins_sft ({'a' * 8})"
    assert row["datasets"] == f"local/rl[default]@v0.1.0 ({'b' * 8})"
    assert row["teachers"] == f"math: local/m@{'d' * 8}" and row["recipe"] == f"quickstart (sha256 {'c' * 12})"
    g = lineage.lineage_graph([ckpt])
    assert ("a" * 40, "e" * 40, "grpo") in g.edges and ("d" * 40, "e" * 40, "teacher math") in g.edges
