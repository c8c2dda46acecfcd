"""`nebula-hub curate` command line: help, and clear errors for bad configs."""

import pytest

from nebula_hub.cli import main


@pytest.mark.parametrize("argv", [["curate", "--help"], ["curate", "sft", "--help"], ["curate", "rl", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--config" in out or argv == ["curate", "--help"]


def test_missing_config_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["curate", "sft", "--config", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "does not exist" in err


def test_unknown_key_names_the_key(tmp_path, capsys):
    from nebula_hub.paths import resource_path

    code = main(
        [
            "curate",
            "sft",
            "--config",
            str(resource_path("pipelines", "sft_corpus.yaml")),
            "--output",
            str(tmp_path / "o"),
            "--set",
            "sample.target=5",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "'target'" in err and "target_size" in err
