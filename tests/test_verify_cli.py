"""`nebula-hub verify` on one response and on a JSONL file."""

import json

from nebula_hub import cli


def test_verify_one_math_response(capsys):
    assert cli.main(["verify", "math", "--response", "<think>maybe 3</think>So \\boxed{1/2}", "--label", "0.5"]) == 0
    assert capsys.readouterr().out.startswith("pass (score 1.000)")
    assert cli.main(["verify", "math", "--response", "\\boxed{3}", "--label", "4"]) == 3


def test_verify_ifeval_json_label(capsys):
    label = json.dumps({"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]})
    assert cli.main(["verify", "ifeval", "--response", "all lowercase here", "--label", label, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "pass"


def test_verify_file_and_missing_field(tmp_path, capsys):
    src = tmp_path / "r.jsonl"
    src.write_text(
        json.dumps({"response": "\\boxed{2}", "label": "2"})
        + "\n"
        + json.dumps({"response": "\\boxed{5}", "label": "2"})
        + "\n"
    )
    out = tmp_path / "v.jsonl"
    assert cli.main(["verify", "math", "--input", str(src), "--output", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verdicts"] == {"pass": 1, "fail": 1}
    assert [json.loads(line)["verdict"] for line in out.read_text().splitlines()] == ["pass", "fail"]
    assert cli.main(["verify", "math", "--input", str(src), "--label-field", "gold"]) == 1
    assert "field 'gold' is missing" in capsys.readouterr().err
