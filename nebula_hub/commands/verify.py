"""`nebula-hub verify`: run a verifier (math, code, ifeval) on one response or a JSONL file of responses."""

import argparse
import json
import sys
from pathlib import Path

from nebula_hub.errors import NebulaError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check responses with the math, code or instruction-following verifier",
        description=(
            "Check one response, or every line of a JSONL file, with the same verifiers the curation filters, the "
            "GRPO rewards and the evaluation use. The label is the gold answer (math), the tests (code: assert code, "
            "or JSON stdin/stdout or function-call cases) or the IFEval constraints (JSON)."
        ),
        epilog=(
            "examples:\n"
            "  nebula-hub verify math --response 'so the answer is \\boxed{1/2}' --label 0.5\n"
            "  nebula-hub verify code --response-file sol.py --label 'assert add(1, 2) == 3'\n"
            "  nebula-hub verify ifeval --response 'hello world' \\\n"
            '      --label \'{"instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]}\'\n'
            "  nebula-hub verify math --input rollouts.jsonl --response-field completion --label-field answer "
            "--output verdicts.jsonl"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("verifier", choices=["math", "code", "ifeval"], help="which verifier to run")
    one = parser.add_argument_group("one response")
    one.add_argument("--response", help="the response text")
    one.add_argument("--response-file", type=Path, help="read the response from this file")
    one.add_argument("--label", help="gold answer, tests or constraints (JSON is parsed when it parses)")
    one.add_argument("--label-file", type=Path, help="read the label from this file")
    many = parser.add_argument_group("a JSONL file")
    many.add_argument("--input", type=Path, help="JSONL file, one response per line")
    many.add_argument("--response-field", default="response", help="field holding the response (default: response)")
    many.add_argument("--label-field", default="label", help="field holding the label (default: label)")
    many.add_argument("--output", type=Path, help="write one JSON result per input line here")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.set_defaults(func=run)


def _label(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _read(value: str | None, path: Path | None, what: str) -> str:
    if path is not None:
        if not path.is_file():
            raise NebulaError(f"{what} file {str(path)!r} does not exist")
        return path.read_text(encoding="utf-8")
    if value is None:
        raise NebulaError(f"no {what} given", hint=f"pass --{what} TEXT or --{what}-file FILE (or --input FILE.jsonl)")
    return value


def run(args: argparse.Namespace) -> int:
    from nebula_hub.verify.registry import get_verifier

    verifier = get_verifier(args.verifier)
    if args.input is None:
        response = _read(args.response, args.response_file, "response")
        label = _label(_read(args.label, args.label_file, "label"))
        result = verifier(response, label)
        if args.json:
            print(json.dumps({**result.as_record(), "extra": result.extra}, default=str))
        else:
            print(f"{result.verdict} (score {result.score:.3f}){': ' + result.detail if result.detail else ''}")
        return 0 if result.passed else 3
    return _run_file(args, verifier)


def _run_file(args: argparse.Namespace, verifier) -> int:
    from tqdm import tqdm

    if not args.input.is_file():
        raise NebulaError(f"input file {str(args.input)!r} does not exist")
    lines = args.input.read_text(encoding="utf-8").splitlines()
    out = open(args.output, "w", encoding="utf-8") if args.output else None
    counts: dict[str, int] = {}
    score = 0.0
    try:
        for number, line in enumerate(tqdm(lines, desc=f"verify {args.verifier}", unit="resp", file=sys.stderr), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise NebulaError(f"{args.input}:{number}: not valid JSON ({err})") from None
            for field in (args.response_field, args.label_field):
                if field not in row:
                    raise NebulaError(
                        f"{args.input}:{number}: field {field!r} is missing (fields: {', '.join(sorted(row))})",
                        hint="choose the fields with --response-field and --label-field",
                    )
            label = row[args.label_field]
            result = verifier(row[args.response_field], _label(label) if isinstance(label, str) else label)
            counts[result.verdict] = counts.get(result.verdict, 0) + 1
            score += result.score
            if out:
                out.write(json.dumps({"line": number, **result.as_record()}) + "\n")
    finally:
        if out:
            out.close()
    total = sum(counts.values())
    summary = {"total": total, "verdicts": counts, "mean_score": score / total if total else 0.0}
    print(
        json.dumps(summary)
        if args.json
        else f"{total} responses: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"; mean score {summary['mean_score']:.3f}"
    )
    return 0
