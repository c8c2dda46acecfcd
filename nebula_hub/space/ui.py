"""The comparison Space's Gradio UI: Arena, Benchmarks, Data and Lineage tabs over what `hub_reader` reads.

`build_demo` reads the hub once and returns a `gr.Blocks`; `spaces/compare/app.py` binds it to a module-level `demo`
and launches it under `__main__`, with `launch_kwargs()` (theme and CSS go to `launch()` in gradio 6).

API (gradio_client): `/arena` streams answers; its inputs are `(prompt, checkpoints, thinking, temperature, top_p,
top_k, max_new_tokens, seed, gold, constraints)` and its outputs four chat panes then four verdict footers.

Example:
    >>> demo = build_demo(load_space_config("spaces/compare/config.yaml"))           # doctest: +SKIP
    >>> demo.queue().launch(prevent_thread_lock=True, **launch_kwargs())              # doctest: +SKIP
    >>> Client(demo.local_url).predict("2+2?", ["base", "sft"], False, 0.7, 0.95, 20, 32, 0, "4", "",
    ...                                api_name="/arena")                             # doctest: +SKIP
"""

import html
import logging
from typing import Any

from nebula_hub.errors import NebulaError
from nebula_hub.space.config import MAX_ARENA_PANES, SpaceConfig


logger = logging.getLogger(__name__)

CSS = """
.gradio-container {max-width: 1400px !important; margin: auto;}
#nh-header h1 {margin-bottom: 0; font-size: 1.7rem;}
#nh-header p {margin-top: 4px; color: var(--body-text-color-subdued);}
.nh-pane {border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 8px !important;
          background: var(--background-fill-secondary);}
.nh-pane-head p {margin: 0 !important; font-size: 0.92rem;}
.nh-foot {font-size: 0.82rem; color: var(--body-text-color-subdued); display: flex; flex-wrap: wrap; gap: 6px;
          align-items: center; min-height: 1.6em;}
.nh-badge {border-radius: 999px; padding: 2px 10px; font-weight: 600; font-size: 0.8rem;}
.nh-pass {background: #dcfce7; color: #166534;} .nh-fail {background: #fee2e2; color: #991b1b;}
.nh-warn {background: #fef9c3; color: #854d0e;} .nh-err {color: #b91c1c;}
.nh-detail {font-size: 0.75rem; opacity: 0.8; flex-basis: 100%;}
.nh-table-wrap {overflow-x: auto;}
.nh-table {border-collapse: collapse; width: 100%; font-size: 0.95rem; font-variant-numeric: tabular-nums;}
.nh-table th, .nh-table td {padding: 6px 10px; text-align: center; border-bottom: 1px solid var(--border-color-primary);}
.nh-table thead tr:first-child th {border-bottom: 2px solid var(--body-text-color);}
.nh-table th.nh-area {border-bottom: 1px solid var(--body-text-color-subdued) !important; font-variant: small-caps;}
.nh-table td.nh-ckpt, .nh-table th.nh-ckpt {text-align: left; font-family: var(--font-mono); font-size: 0.85rem;}
.nh-table tbody tr:last-child td {border-bottom: 2px solid var(--body-text-color);}
.nh-table sub {font-size: 0.72rem; margin-left: 3px;}
.nh-up {color: #15803d;} .nh-down {color: #b91c1c;} .nh-flat {color: #64748b;}
.nh-tag {font-size: 0.7rem; background: #e0e7ff; color: #3730a3; border-radius: 6px; padding: 1px 6px;}
.nh-note {font-size: 0.8rem; color: var(--body-text-color-subdued);}
.nh-empty {color: var(--body-text-color-subdued); font-style: italic;}
footer {display: none !important;}
"""

EXAMPLES = [
    ["What is 17 + 25? Put the final answer in \\boxed{}.", "42", ""],
    [
        "Describe a sunset over the sea in two sentences.",
        "",
        '{"instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"], "kwargs": [{}, {}]}',
    ],
]


def launch_kwargs() -> dict[str, Any]:
    """Theme and CSS for `demo.launch()` (gradio 6 takes them there, not in `gr.Blocks`)."""
    import gradio as gr

    return {"theme": gr.themes.Soft(primary_hue="indigo", secondary_hue="slate"), "css": CSS}


def _gr_error(err: NebulaError):
    import gradio as gr

    return gr.Error(err.message + (f" — {err.hint}" if err.hint else ""))


def build_demo(config: SpaceConfig | None = None, hub: str | None = None, content=None):
    """Read the hub and build the Space (`gr.Blocks`).

    Args:
        config (`SpaceConfig`, *optional*): what to show; defaults to discovering nebula-hub artifacts on the hub.
        hub (`str`, *optional*): hub URL; defaults to `config.hub`, then `HF_ENDPOINT`, then the local hub.
        content (`SpaceContent`, *optional*): already-read content (tests, deploy checks).

    Example:
        >>> demo = build_demo(hub="http://127.0.0.1:8090")  # doctest: +SKIP
    """
    import gradio as gr

    from nebula_hub.hub import get_api, hub_errors, redact, resolve_hub
    from nebula_hub.space import data_view, lineage, scores
    from nebula_hub.space.arena import ArenaRequest, ModelPool, chat_messages, pane_footer, stream_arena
    from nebula_hub.space.hub_reader import load_content, read_records

    config = config or SpaceConfig()
    target = resolve_hub(hub or config.hub)
    api = get_api(target)
    if content is None:
        with hub_errors(target):
            content = load_content(api, config)
    config = content.config
    pool = ModelPool(api, device=config.arena.device, capacity=config.arena.max_loaded_models)
    labels = [c.label for c in content.checkpoints]
    by_label = {c.label: c for c in content.checkpoints}
    default_pick = labels[:2]

    def header(label: str | None) -> str:
        if not label or label not in by_label:
            return ""
        c = by_label[label]
        nb = c.nebula
        stage = f" · {nb.get('stage')} ({nb.get('method')})" if nb.get("stage") else ""
        return f"**{label}**  \n`{c.ref.repo}` @ `{c.sha[:10]}`{stage}"

    # ---- benchmark data ----------------------------------------------------------------------------------------
    def bench(base_label: str | None):
        table = scores.score_table({c.label: c.scores for c in content.checkpoints}, base=base_label)
        return (
            scores.table_html(table),
            scores.area_chart(table),
            scores.display_frame(table),
            scores.settings_markdown(table),
        )

    base = content.base()
    base_label = base.label if base else None

    with gr.Blocks(title=config.title, analytics_enabled=False) as demo:
        gr.Markdown(
            f"# {html.escape(config.title)}\n"
            f"Every panel is read back from the hub: model cards (metadata, `model-index`, the `nebula` lineage block) "
            f"and dataset repos (`stats.json`, Parquet configs) on `{redact(target.endpoint)}`.",
            elem_id="nh-header",
        )
        if content.errors:
            gr.Markdown("**Some artifacts could not be read:**\n\n" + "\n".join(f"- {e}" for e in content.errors))
        with gr.Tabs():
            # ---- Arena -----------------------------------------------------------------------------------------
            with gr.Tab("Arena", id="arena"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        prompt = gr.Textbox(
                            label="Prompt",
                            lines=3,
                            placeholder="Ask every checked checkpoint…",
                            elem_id="nh-prompt",
                            autofocus=True,
                        )
                        with gr.Row():
                            send = gr.Button("Send to all", variant="primary", elem_id="nh-send", scale=3)
                            clear = gr.Button("Clear", scale=1)
                        with gr.Accordion("Verify answers (optional)", open=False):
                            gold = gr.Textbox(
                                label="Gold answer → math verifier",
                                placeholder="e.g. 42 or \\frac{1}{2}",
                                elem_id="nh-gold",
                            )
                            constraints = gr.Code(
                                label="IFEval constraints (JSON) → instruction checker",
                                language="json",
                                lines=3,
                                elem_id="nh-constraints",
                            )
                    with gr.Column(scale=2):
                        picked = gr.CheckboxGroup(
                            choices=labels,
                            value=default_pick,
                            label=f"Checkpoints (2 to {MAX_ARENA_PANES})",
                            elem_id="nh-picked",
                        )
                        with gr.Accordion("Sampling", open=False):
                            thinking = gr.Checkbox(
                                value=config.arena.thinking, label="Thinking (Qwen3 enable_thinking)"
                            )
                            with gr.Row():
                                temperature = gr.Slider(
                                    0.0, 2.0, value=config.arena.temperature, step=0.05, label="temperature"
                                )
                                top_p = gr.Slider(0.05, 1.0, value=config.arena.top_p, step=0.05, label="top_p")
                            with gr.Row():
                                top_k = gr.Slider(0, 200, value=config.arena.top_k, step=1, label="top_k (0 = off)")
                                max_new = gr.Slider(
                                    1, 4096, value=config.arena.max_new_tokens, step=1, label="max new tokens"
                                )
                            seed = gr.Number(value=-1, precision=0, label="seed (-1 = random)")
                panes, chats, foots, heads = [], [], [], []
                with gr.Row(equal_height=True):
                    for i in range(MAX_ARENA_PANES):
                        label = default_pick[i] if i < len(default_pick) else None
                        with gr.Column(visible=label is not None, elem_classes=["nh-pane"], min_width=260) as col:
                            heads.append(gr.Markdown(header(label), elem_classes=["nh-pane-head"]))
                            chats.append(
                                gr.Chatbot(
                                    label=f"pane {i + 1}",
                                    show_label=False,
                                    height=420,
                                    elem_id=f"nh-chat-{i}",
                                    buttons=["copy"],
                                    feedback_options=None,
                                    placeholder="waiting for a prompt",
                                )
                            )
                            foots.append(gr.HTML("", elem_id=f"nh-foot-{i}"))
                        panes.append(col)
                gr.Examples(EXAMPLES, inputs=[prompt, gold, constraints], label="Prompts with something to verify")

                def on_pick(selected: list[str]):
                    selected = [s for s in labels if s in (selected or [])]
                    cols = [gr.Column(visible=i < len(selected)) for i in range(MAX_ARENA_PANES)]
                    hs = [header(selected[i]) if i < len(selected) else "" for i in range(MAX_ARENA_PANES)]
                    return [*cols, *hs]

                picked.change(on_pick, picked, [*panes, *heads], api_visibility="private")

                def run_arena(prompt_text, selected, think, temp, p, k, max_tokens, seed_value, gold_text, cons_text):
                    selected = [s for s in labels if s in (selected or [])]
                    try:
                        request = ArenaRequest(
                            prompt=prompt_text or "",
                            max_new_tokens=int(max_tokens),
                            temperature=float(temp),
                            top_p=float(p),
                            top_k=int(k),
                            thinking=bool(think),
                            seed=None if seed_value is None or int(seed_value) < 0 else int(seed_value),
                            system_prompt=config.arena.system_prompt,
                            gold=gold_text or "",
                            constraints=cons_text or "",
                        )
                        ckpts = [by_label[s] for s in selected]
                        stream = stream_arena(pool, ckpts, request)
                        for state in stream:
                            out_chats = [
                                chat_messages(state[i], request) if i < len(state) else []
                                for i in range(MAX_ARENA_PANES)
                            ]
                            out_foots = [
                                pane_footer(state[i]) if i < len(state) else "" for i in range(MAX_ARENA_PANES)
                            ]
                            yield [*out_chats, *out_foots]
                    except NebulaError as err:
                        raise _gr_error(err) from None

                inputs = [prompt, picked, thinking, temperature, top_p, top_k, max_new, seed, gold, constraints]
                send.click(run_arena, inputs, [*chats, *foots], api_name="arena", concurrency_limit=2)
                prompt.submit(run_arena, inputs, [*chats, *foots], api_visibility="private", concurrency_limit=2)
                clear.click(
                    lambda: [[]] * MAX_ARENA_PANES + [""] * MAX_ARENA_PANES,
                    None,
                    [*chats, *foots],
                    api_visibility="private",
                )

            # ---- Benchmarks -----------------------------------------------------------------------------------
            with gr.Tab("Benchmarks", id="benchmarks"):
                first = bench(base_label)
                with gr.Row():
                    base_pick = gr.Dropdown(
                        choices=labels, value=base_label, label="Deltas against", scale=1, elem_id="nh-base"
                    )
                    gr.Markdown(
                        "Scores come from each checkpoint card's `model-index` (written by "
                        "`nebula-hub eval`); columns are grouped by capability area.",
                        elem_classes=["nh-note"],
                    )
                bench_table = gr.HTML(first[0], elem_id="nh-bench")
                bench_plot = gr.Plot(first[1], label="Scores per capability area", show_label=False)
                with gr.Accordion("Sortable table and evaluation settings", open=False):
                    bench_frame = gr.Dataframe(
                        first[2], interactive=False, wrap=True, elem_id="nh-bench-frame", label="scores"
                    )
                    bench_settings = gr.Markdown(first[3])
                base_pick.change(
                    bench, base_pick, [bench_table, bench_plot, bench_frame, bench_settings], api_name="benchmarks"
                )

            # ---- Data -------------------------------------------------------------------------------------------
            with gr.Tab("Data", id="data"):
                ds_labels = [d.label for d in content.datasets]
                ds_by_label = {d.label: d for d in content.datasets}

                def ds_parts(label: str | None):
                    info = ds_by_label.get(label)
                    if info is None:
                        return (
                            "_No curated dataset found on the hub. Publish one with `nebula-hub publish dataset`._",
                            None,
                            None,
                            None,
                            [],
                            None,
                        )
                    configs = list(info.configs)
                    first_cfg = "rejected" if "rejected" in configs else (configs[0] if configs else None)
                    return (
                        data_view.summary_markdown(info),
                        data_view.funnel_chart(info.stats),
                        data_view.funnel_frame(info.stats),
                        data_view.distribution_chart(info),
                        configs,
                        first_cfg,
                    )

                def ds_view(label: str | None):
                    *parts, configs, first_cfg = ds_parts(label)
                    return [*parts, gr.Radio(choices=configs, value=first_cfg)]

                def records(label: str | None, config_name: str | None, search: str):
                    info = ds_by_label.get(label)
                    if info is None or not config_name:
                        return None, [], data_view.record_markdown(None)
                    try:
                        rows = read_records(api, info, config_name, limit=config.max_records)
                    except NebulaError as err:
                        raise _gr_error(err) from None
                    if search:
                        rows = [r for r in rows if search.lower() in str(r).lower()]
                    frame = data_view.records_frame(rows, rejected=config_name == "rejected")
                    return frame, rows, data_view.record_markdown(rows[0] if rows else None)

                first_ds = ds_labels[0] if ds_labels else None
                ds_pick = gr.Dropdown(choices=ds_labels, value=first_ds, label="Curated dataset version")
                initial = ds_parts(first_ds)
                ds_summary = gr.Markdown(initial[0])
                with gr.Row():
                    funnel_plot = gr.Plot(initial[1], label="Stage funnel")
                    funnel_table = gr.Dataframe(initial[2], interactive=False, wrap=True, label="Stage funnel")
                dist_plot = gr.Plot(initial[3], label="Distributions")
                gr.Markdown("### Record browser")
                with gr.Row():
                    cfg_pick = gr.Radio(
                        choices=initial[4], value=initial[5], label="Config", scale=3, elem_id="nh-config"
                    )
                    search = gr.Textbox(label="Filter (substring)", scale=2)
                rows_state = gr.State([])
                with gr.Row():
                    rec_table = gr.Dataframe(interactive=False, wrap=True, label="Records", scale=3, max_height=480)
                    rec_detail = gr.Markdown(data_view.record_markdown(None))
                ds_pick.change(
                    ds_view,
                    ds_pick,
                    [ds_summary, funnel_plot, funnel_table, dist_plot, cfg_pick],
                    api_visibility="private",
                )
                cfg_pick.change(
                    records, [ds_pick, cfg_pick, search], [rec_table, rows_state, rec_detail], api_name="records"
                )
                search.submit(
                    records, [ds_pick, cfg_pick, search], [rec_table, rows_state, rec_detail], api_visibility="private"
                )

                def pick_row(rows: list[dict], evt: gr.SelectData):
                    index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
                    return data_view.record_markdown(rows[index] if rows and index < len(rows) else None)

                rec_table.select(pick_row, rows_state, rec_detail, api_visibility="private")
                if first_ds:
                    demo.load(
                        records,
                        [ds_pick, cfg_pick, search],
                        [rec_table, rows_state, rec_detail],
                        api_visibility="private",
                    )

            # ---- Lineage ----------------------------------------------------------------------------------------
            with gr.Tab("Lineage", id="lineage"):
                gr.Markdown(
                    "Checkpoint → parent checkpoint → dataset revisions → recipe, from each card's `nebula` "
                    "block; every edge is pinned to a commit sha."
                )
                gr.Plot(
                    lineage.graph_figure(lineage.lineage_graph(content.checkpoints)),
                    label="Lineage graph",
                    show_label=False,
                )
                gr.Dataframe(
                    lineage.lineage_frame(content.checkpoints),
                    interactive=False,
                    wrap=True,
                    label="Lineage",
                    elem_id="nh-lineage",
                )
    demo.nebula_content = content  # for tests and `space deploy`
    demo.nebula_pool = pool
    return demo
