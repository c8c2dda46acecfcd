"""`nebula-hub quickstart`: the whole recipe end to end on embedded defaults, resumable, measured per stage.

local Hub -> SFT corpus and RL pool curated from the bundled sources -> both published as versioned datasets with
cards -> Ins-SFT (three phases), GRPO, OPD and MOPD trained from the tiny Qwen3 and pushed with lineage cards -> each
evaluated on the bundled benchmark sets, scores in the cards -> the comparison Space -> a summary table.

Example:
    >>> from nebula_hub.quickstart import QuickstartOptions, run_quickstart
    >>> result = run_quickstart(QuickstartOptions(size="tiny", workdir="/tmp/qs", space=False))  # doctest: +SKIP
    >>> result.datasets["sft"]["repo"], result.checkpoints["mopd"]["branch"]                  # doctest: +SKIP
    ('local/nebula-sft-tiny', 'quickstart-mopd')
"""

from nebula_hub.quickstart.runner import QuickstartOptions, QuickstartResult, StageReport, run_quickstart
from nebula_hub.quickstart.sizes import DEFAULT_SIZE, SIZES, Size


__all__ = ["DEFAULT_SIZE", "SIZES", "QuickstartOptions", "QuickstartResult", "Size", "StageReport", "run_quickstart"]
