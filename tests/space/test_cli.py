"""`nebula-hub space ...`: help texts and the errors a user sees."""

import pytest

from nebula_hub.cli import main


@pytest.mark.parametrize("argv", [["space", "--help"], ["space", "run", "--help"], ["space", "deploy", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "nebula-hub space" in out


def test_deploy_refuses_a_bad_repo_id(capsys):
    assert main(["space", "deploy", "--repo", "no-slash"]) == 1
    err = capsys.readouterr().err
    assert "error: --repo 'no-slash' is not a Space repo id" in err and "hint: write ORG/NAME" in err


def test_run_reports_a_bad_config(tmp_path, capsys):
    bad = tmp_path / "space.yaml"
    bad.write_text("checkpoints: [oops]\n")
    assert main(["space", "run", "--config", str(bad), "--hub", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert "checkpoints: 'oops' is not a model repo id" in err


def test_deploy_with_nothing_on_the_hub(local_hub, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", local_hub.token)
    cfg = local_hub.root / "empty-space.yaml"
    cfg.write_text("datasets: [local/does-not-exist-space]\n")
    assert main(["space", "deploy", "--repo", "local/space-x", "--config", str(cfg), "--hub", local_hub.endpoint]) == 1
    err = capsys.readouterr().err
    assert "dataset repo 'local/does-not-exist-space' not found" in err and local_hub.token not in err
