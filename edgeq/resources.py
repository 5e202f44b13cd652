"""Where the data folders (cmsis_templates/, firmware/, renode/) are: in an installed wheel they ship as
edgeq/_data/<name>; in a checkout they sit at the repository root. Nothing else should know this."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

DATA_FOLDERS = ("cmsis_templates", "firmware", "renode")


def data_dir(name: str) -> Path:
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r}; expected one of {DATA_FOLDERS}")
    try:
        installed = Path(str(resources.files("edgeq._data") / name))
        if installed.is_dir():
            return installed
    except ModuleNotFoundError:
        pass
    checkout = Path(__file__).resolve().parents[1] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"edgeq data folder {name!r} not found (looked in the installed package and {checkout})")


def repo_root() -> Path | None:
    """The checkout root when running from one (it holds the .cache of set-up artefacts), else None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> Path:
    """Set-up artefacts (CMSIS-NN sources, the QEMU plugin, built libraries): $EDGEQ_CACHE, else <checkout>/.cache,
    else ~/.cache/edgeq for an installed package."""
    import os
    if os.environ.get("EDGEQ_CACHE"):
        return Path(os.environ["EDGEQ_CACHE"])
    root = repo_root()
    return root / ".cache" if root else Path.home() / ".cache" / "edgeq"
