"""Child-process entry of one quickstart stage: `python -m nebula_hub.quickstart.child STAGE CONTEXT RESULT`.

Reads the run context (JSON written by the parent), runs the stage (`nebula_hub.quickstart.stages.run_stage`) and
writes `{"ok": true, "output": ...}` or `{"ok": false, "error": ..., "hint": ...}` to RESULT. Running each stage in
its own process gives it a clean interpreter (no state leaks between TRL trainers, datatrove executors and hub
clients) and lets the parent read the stage's own peak memory from `os.wait4`.
"""

import json
import logging
import sys
import traceback
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    stage, context_path, result_path = (argv if argv is not None else sys.argv[1:])[:3]
    result = Path(result_path)
    from nebula_hub.quickstart.measure import own_peak_rss_mb

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    try:
        from nebula_hub.quickstart.stages import run_stage

        ctx = json.loads(Path(context_path).read_text())
        output = run_stage(stage, ctx)
        result.write_text(
            json.dumps({"ok": True, "output": output, "peak_rss_mb": own_peak_rss_mb()}, indent=2, default=str)
        )
        return 0
    except BaseException as err:  # noqa: BLE001 - every failure must reach the parent as a message
        from nebula_hub.errors import NebulaError
        from nebula_hub.hub import redact

        hint = err.hint if isinstance(err, NebulaError) else None
        if not isinstance(err, NebulaError):
            try:
                from nebula_hub.hub import translate_hub_error

                translated = translate_hub_error(err)
            except Exception:  # noqa: BLE001 - translation is best effort
                translated = None
            if translated is not None:
                err, hint = translated, translated.hint
        message = str(err) if isinstance(err, NebulaError) else f"{type(err).__name__}: {err}"
        print(redact(traceback.format_exc()), file=sys.stderr)
        result.write_text(
            json.dumps(
                {"ok": False, "error": redact(message), "hint": redact(hint) if hint else None,
                 "peak_rss_mb": own_peak_rss_mb()},
                indent=2,
            )
        )  # fmt: skip
        return 130 if isinstance(err, KeyboardInterrupt) else 1


if __name__ == "__main__":
    sys.exit(main())
