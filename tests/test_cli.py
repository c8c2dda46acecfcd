"""The CLI: every command's --help works, errors are one line plus a hint, no traceback without --debug."""

import argparse
import subprocess
import sys

import pytest

from nebula_hub import cli
from nebula_hub.errors import NebulaError


def _all_command_paths():
    parser = cli.build_parser()
    paths = []

    def walk(p, prefix):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append(prefix + [name])
                    walk(sub, prefix + [name])

    walk(parser, [])
    return paths


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for path in _all_command_paths():
        if len(path) == 1:
            assert path[0] in out


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p))
def test_every_command_has_help(path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: nebula-hub" in out and len(out.splitlines()) > 3


def test_errors_are_one_line_with_hint(monkeypatch, capsys):
    def boom(args):
        raise NebulaError("recipe 'x.yaml': unknown key 'lr'", hint="did you mean 'learning_rate'?")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=boom)
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err == "error: recipe 'x.yaml': unknown key 'lr'\nhint: did you mean 'learning_rate'?\n"
    with pytest.raises(NebulaError):
        cli.main(["--debug"])


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "nebula_hub", "env", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '"transformers"' in out.stdout
