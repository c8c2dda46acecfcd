"""The client layer: hub resolution, use_hub patching/restoring, redaction, error translation, CLI."""

import os
import subprocess
import sys

import pytest

from nebula_hub.cli import main as cli_main
from nebula_hub.errors import NebulaError
from nebula_hub.hub import HubTarget, get_api, hub_errors, redact, resolve_hub, use_hub


def test_resolve_hub_order(local_hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "https://huggingface.co")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "e" * 34)
    explicit = resolve_hub(local_hub.endpoint)
    assert explicit.endpoint == local_hub.endpoint and explicit.xet is False  # probed: a nebula-hub server
    assert explicit.token == "hf_" + "e" * 34
    from_env = resolve_hub(None)
    assert from_env.endpoint == "https://huggingface.co" and from_env.xet is True and not from_env.is_local
    monkeypatch.delenv("HF_ENDPOINT")
    local = resolve_hub("local", root=local_hub.root)
    assert local.is_local and local.endpoint == local_hub.endpoint and local.token == local_hub.token
    assert local_hub.token not in repr(local) and local_hub.token not in local.describe()
    assert local.describe().startswith(f"hub: {local_hub.endpoint} (local hub at {local_hub.root}")
    with pytest.raises(NebulaError, match="not an http"):
        resolve_hub("ftp://example.org")


def test_resolve_hub_starts_the_local_hub_on_demand(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("NEBULA_HUB_CACHE", str(tmp_path / "cache"))
    code = (
        "from nebula_hub.hub import resolve_hub, get_api\n"
        "t = resolve_hub(None)\n"
        "print(t.endpoint, t.is_local, get_api(t).whoami()['name'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    endpoint, is_local, user = out.stdout.split()
    assert is_local == "True" and user == "local"
    token_file = tmp_path / "cache" / "hub" / "token"
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    # started "for the duration of the command": gone once that process exited
    assert not (tmp_path / "cache" / "hub" / "server.json").exists()


def test_use_hub_patches_and_restores(local_hub):
    import datasets.config
    import huggingface_hub.hf_api as hf_api_module
    from huggingface_hub import constants

    before = (constants.ENDPOINT, hf_api_module.api.endpoint, datasets.config.HF_ENDPOINT, os.environ.get("HF_TOKEN"))
    with use_hub(local_hub.target):
        assert constants.ENDPOINT == local_hub.endpoint == hf_api_module.api.endpoint == datasets.config.HF_ENDPOINT
        assert os.environ["HF_TOKEN"] == local_hub.token and constants.HF_HUB_DISABLE_XET
        from huggingface_hub import whoami

        assert whoami()["name"] == "local"  # module-level function, no endpoint or token passed
    after = (constants.ENDPOINT, hf_api_module.api.endpoint, datasets.config.HF_ENDPOINT, os.environ.get("HF_TOKEN"))
    assert after == before


def test_use_hub_covers_transformers_cached_api(local_hub):
    """transformers caches one HfApi at first use; use_hub must not let it point at huggingface.co (order bug)."""
    import transformers.utils.hub as tf_hub

    stale = tf_hub.hf_api()  # created outside any use_hub block, as an earlier from_pretrained would
    assert stale.endpoint != local_hub.endpoint
    with use_hub(local_hub.target):
        assert tf_hub.hf_api().endpoint == local_hub.endpoint
    assert tf_hub.hf_api() is stale


def test_redact():
    token = "hf_" + "A1b2" * 9
    text = f"Authorization: Bearer {token} url=http://h/api/lfs/upload/x?size=3&sig=deadbeef HF_TOKEN={token}"
    out = redact(text)
    assert token not in out and "deadbeef" not in out
    assert "size=3" in out


def test_hub_errors_translate_with_hints(local_hub):
    api = get_api(local_hub.target)
    with pytest.raises(NebulaError, match="repository not found") as err:
        with hub_errors(local_hub.target):
            api.model_info("local/does-not-exist-xyz")
    assert "token" in err.value.hint
    repo = local_hub.repo_id("errs")
    api.create_repo(repo)
    with pytest.raises(NebulaError, match="revision not found"):
        with hub_errors(local_hub.target):
            api.model_info(repo, revision="nope")
    with pytest.raises(NebulaError, match="answered 403") as err:
        with hub_errors(local_hub.target):
            local_hub.api(local_hub.read_token).create_branch(repo, branch="x")
    assert "write token" in err.value.hint
    down = HubTarget("http://127.0.0.1:9", None, xet=False)
    with pytest.raises(NebulaError, match="cannot reach"):
        with hub_errors(down):
            get_api(down).model_info("a/b")


def test_cli_help_for_every_subcommand(capsys):
    for argv in (
        ["hub"],
        ["hub", "serve"],
        ["hub", "start"],
        ["hub", "stop"],
        ["hub", "status"],
        ["hub", "env"],
        ["hub", "whoami"],
        ["hub", "token"],
        ["hub", "token", "create"],
        ["hub", "token", "list"],
    ):
        with pytest.raises(SystemExit) as exit_:
            cli_main([*argv, "--help"])
        assert exit_.value.code == 0
        assert "examples:" in capsys.readouterr().out, argv


def test_cli_token_create_and_whoami(local_hub, capsys, monkeypatch):
    assert (
        cli_main(["hub", "token", "create", "carol", "--write", "--namespace", "team", "--root", str(local_hub.root)])
        == 0
    )
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("hf_")
    assert cli_main(["hub", "token", "list", "--root", str(local_hub.root)]) == 0
    listing = capsys.readouterr().out
    assert "carol" in listing and token not in listing
    monkeypatch.setenv("HF_TOKEN", token)
    assert cli_main(["hub", "whoami", "--hub", local_hub.endpoint]) == 0
    out = capsys.readouterr().out
    assert f"hub: {local_hub.endpoint}" in out and "user: carol (token role write; organisations: team)" in out
    assert token not in out
    api = local_hub.api(token)
    api.create_repo("team/shared")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "z" * 34)
    assert cli_main(["hub", "whoami", "--hub", local_hub.endpoint]) == 1
    err = capsys.readouterr().err
    assert "answered 401" in err and "z" * 34 not in err
