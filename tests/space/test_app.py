"""The Space end to end: its API through gradio_client, its pages in a real browser, and `space deploy`."""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def app(space_hub):
    """The app from spaces/compare/app.py, configured by a YAML file, served on a free port."""
    from nebula_hub.space import launch_kwargs

    config_path = SCREENSHOTS.parent.parent / "spaces" / "compare" / "config.yaml"
    assert config_path.is_file()
    os.environ["NEBULA_SPACE_CONFIG"] = str(_write_config(space_hub))
    os.environ["NEBULA_SPACE_HUB"] = space_hub.endpoint
    try:
        module = _import_app(config_path.parent / "app.py", "nebula_compare_app")
    finally:
        os.environ.pop("NEBULA_SPACE_CONFIG")
        os.environ.pop("NEBULA_SPACE_HUB")
    demo = module.demo
    demo.queue().launch(
        prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, ssr_mode=False, **launch_kwargs()
    )
    yield demo
    demo.close()
    demo.nebula_pool.close()


def _write_config(space_hub) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="space-cfg-")) / "space.yaml"
    path.write_text(space_hub.config(title="Space test: tiny checkpoints").to_yaml(), encoding="utf-8")
    return path


def _import_app(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _text(message: dict) -> str:
    """A Chatbot message's text (gradio 6 returns content as a list of parts)."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def _ask_two(url: str, labels: list[str]):
    from gradio_client import Client

    client = Client(url, verbose=False)
    job = client.submit("What is 2 + 2?", labels, False, 1.0, 1.0, 0, 10, 3, "4", "", api_name="/arena")
    partials = list(job)
    return partials, job.result()


@pytest.mark.slow
def test_api_answers_from_two_checkpoints(app, space_content):
    partials, final = _ask_two(app.local_url, ["base", "run-sft"])
    chats, footers = final[:4], final[4:]
    assert len(partials) >= 2  # streamed
    for chat, footer in zip(chats[:2], footers[:2], strict=False):
        assert chat[0]["role"] == "user" and _text(chat[0]) == "What is 2 + 2?"
        assert chat[-1]["role"] == "assistant" and _text(chat[-1])
        assert "10 tokens" in footer or " tokens" in footer
        assert "math: " in footer  # a verdict, since a gold answer was given
    assert chats[2] == [] and chats[3] == []
    assert _text(chats[0][-1]) != _text(chats[1][-1])


@pytest.mark.slow
def test_api_refuses_one_checkpoint(app):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="compares 2 to 4 checkpoints, got 1"):
        Client(app.local_url, verbose=False).predict(
            "hi", ["base"], False, 0.7, 0.95, 20, 8, -1, "", "", api_name="/arena"
        )


@pytest.mark.slow
def test_browser_arena_and_benchmarks(app):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app.local_url)
            page.get_by_label("Prompt").fill("What is 17 + 25? Put the final answer in \\boxed{}.")
            page.get_by_text("Verify answers (optional)").click()
            page.locator("#nh-gold textarea").fill("42")
            page.locator("#nh-send").click()
            for i in (0, 1):  # two answers, side by side
                sync_api.expect(page.locator(f"#nh-foot-{i}")).to_contain_text("math: ", timeout=120_000)
            boxes = [page.locator(f"#nh-chat-{i}").bounding_box() for i in (0, 1)]
            assert abs(boxes[0]["y"] - boxes[1]["y"]) < 5 and boxes[1]["x"] > boxes[0]["x"] + boxes[0]["width"] - 5
            assert page.locator("#nh-chat-0 .message").count() >= 2
            page.screenshot(path=str(SCREENSHOTS / "arena.png"), full_page=True)

            page.get_by_role("tab", name="Benchmarks").click()
            table = page.locator("#nh-bench-table")
            sync_api.expect(table).to_be_visible()
            sync_api.expect(table).to_contain_text("GSM8K")
            sync_api.expect(table.locator("tbody tr")).to_have_count(3)
            page.wait_for_timeout(500)
            page.screenshot(path=str(SCREENSHOTS / "benchmarks.png"), full_page=True)

            page.get_by_role("tab", name="Data").click()
            sync_api.expect(page.get_by_text("wrong_answer").first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(SCREENSHOTS / "data.png"), full_page=True)

            page.get_by_role("tab", name="Lineage").click()
            sync_api.expect(page.locator("#nh-lineage")).to_contain_text("run-sft")
            page.wait_for_timeout(500)
            page.screenshot(path=str(SCREENSHOTS / "lineage.png"), full_page=True)
        finally:
            browser.close()
    for name in ("arena", "benchmarks", "data", "lineage"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_deploy_creates_a_space_that_runs_the_same_app(space_hub, tmp_path, monkeypatch):
    import yaml
    from gradio_client import Client
    from huggingface_hub.repocard import metadata_load

    from nebula_hub.space import deploy_space, launch_kwargs

    monkeypatch.setenv("HF_ENDPOINT", space_hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", space_hub.token)
    lines = []
    result = deploy_space("local/compare-test", hub=space_hub.endpoint, print_fn=lines.append)  # no config: discover
    assert lines[0].startswith(f"hub: {space_hub.endpoint}") and space_hub.token not in "".join(lines)
    api = space_hub.api()
    folder = Path(api.snapshot_download("local/compare-test", repo_type="space", local_dir=tmp_path / "space"))
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "README.md",
        "app.py",
        "config.yaml",
        "requirements.txt",
    ]
    meta = metadata_load(folder / "README.md")
    import gradio

    assert (meta["sdk"], meta["sdk_version"], meta["app_file"]) == ("gradio", gradio.__version__, "app.py")
    assert meta["models"] == [space_hub.model_repo] and meta["datasets"] == [space_hub.dataset_repo]
    assert result.models == meta["models"] and result.commit == api.space_info("local/compare-test").sha
    shipped = yaml.safe_load((folder / "config.yaml").read_text())
    assert [c["revision"] for c in shipped["checkpoints"]] == ["base", "run-sft", "run-grpo"]
    assert shipped["hub"] == space_hub.endpoint  # an explicit --hub is where the deployed Space reads from
    assert (folder / "app.py").read_text() == (SCREENSHOTS.parents[1] / "spaces" / "compare" / "app.py").read_text()
    assert "nebula-hub==" in (folder / "requirements.txt").read_text()

    module = _import_app(folder / "app.py", "deployed_compare_app")
    demo = module.demo
    demo.queue().launch(
        prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, ssr_mode=False, **launch_kwargs()
    )
    try:
        final = Client(demo.local_url, verbose=False).predict(
            "Name a colour.", ["base", "run-grpo"], False, 1.0, 1.0, 0, 6, 1, "", "", api_name="/arena"
        )
        assert all(chat and chat[-1]["role"] == "assistant" for chat in final[:2])
        assert final[2] == [] and "tokens" in final[4]
    finally:
        demo.close()
        demo.nebula_pool.close()


@pytest.mark.slow
def test_run_space_serves_the_configured_app(space_hub):
    import urllib.request

    from nebula_hub.space import run_space

    lines = []
    demo = run_space(space_hub.config(), hub=space_hub.endpoint, block=False, print_fn=lines.append)
    try:
        assert lines[0].startswith(f"hub: {space_hub.endpoint}")
        assert lines[1] == "showing 3 checkpoint(s) and 1 dataset(s) (config)"
        assert lines[2].startswith("Space running on http://127.0.0.1:")
        with urllib.request.urlopen(demo.local_url, timeout=30) as resp:  # noqa: S310 (loopback)
            assert resp.status == 200 and b"gradio" in resp.read().lower()
    finally:
        demo.close()
        demo.nebula_pool.close()
