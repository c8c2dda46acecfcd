"""Facts about the running environment that results are stamped with: library versions, device, git commit."""

import importlib.metadata
import platform
import subprocess
from pathlib import Path


STACK = (
    "nebula-hub",
    "torch",
    "transformers",
    "tokenizers",
    "trl",
    "datasets",
    "huggingface-hub",
    "accelerate",
    "datatrove",
    "math-verify",
    "evaluate",
    "gradio",
    "vllm",
)


def library_versions(names: tuple[str, ...] = STACK) -> dict[str, str | None]:
    """Installed versions of the stack (None for a package that is not installed).

    Example:
        >>> library_versions(("torch",))["torch"] is not None
        True
    """
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_summary() -> dict[str, object]:
    """CPU/GPU facts: device name and count, CUDA version, CPU count, Python and OS."""
    import os

    import torch

    info: dict[str, object] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
        info["cuda"] = torch.version.cuda
    return info


def git_commit(path: str | Path | None = None) -> str | None:
    """The git commit of the nebula-hub checkout (None when installed from a wheel)."""
    root = Path(path) if path else Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
