"""Where CMSIS-NN is and which version: $CMSIS_NN_PATH, else the copy `edgeq setup` fetched into the cache.
Both the code generator (its host probe) and the build read CMSIS-NN from here."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ToolchainError
from .resources import cache_dir


@dataclass(frozen=True)
class CmsisNN:
    path: Path
    tree_hash: str           # sha256 over Include/ and Source/: identifies a checkout without a version file
    version: str             # the cache's VERSION line (upstream commit), or "unknown (<path>)"


@lru_cache(maxsize=None)
def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for sub in ("Include", "Source") for p in (root / sub).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def find_cmsis_nn() -> CmsisNN:
    path = Path(os.environ.get("CMSIS_NN_PATH") or cache_dir() / "cmsis-nn").resolve()
    if not (path / "Include" / "arm_nnfunctions.h").is_file() or not (path / "Source").is_dir():
        raise ToolchainError(f"CMSIS-NN not found at {path} (expected Include/arm_nnfunctions.h and Source/); "
                             f"run `edgeq setup` (or `make setup` in a checkout), or set CMSIS_NN_PATH")
    version_file = path / "VERSION"
    version = version_file.read_text().strip() if version_file.is_file() else f"unknown ({path})"
    return CmsisNN(path, _tree_hash(path), version)
