"""Adversarial examples on disk, one .npz per attack run, rewritten after every chunk of samples: a run stopped
by a budget or a fault keeps what it made, a rerun continues after the last saved sample, and a finished audit
can be re-scored without re-attacking."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeq.errors import EdgeqError


def digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()[:16]


@dataclass
class RunRecord:
    key: str
    x_adv: np.ndarray                   # [done, ...] adversarial examples of the first `done` samples
    made_on: str                        # digests of the clean samples and of the model attacked (black-box) or
                                        # crafted on (white-box): a rerun on other data or another model is refused
    params: dict
    status: str = "running"             # "complete" | "partial"
    elapsed_s: float = 0.0
    queries: int = 0
    stopped_by: str | None = None       # why a partial run stopped: a budget or an error message
    meta: dict = field(default_factory=dict)

    @property
    def done(self) -> int:
        return len(self.x_adv)


class Store:
    TMP = ".tmp.npz"                    # a save writes <key>.tmp.npz, then renames it over <key>.npz

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(f"*{self.TMP}"):      # left by a process that died mid-save
            stale.unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in key)
        return self.folder / f"{safe}.npz"

    def load(self, key: str, made_on: str, params: dict) -> RunRecord | None:
        """The saved run, if any; refuses one made on other data, on another model or with other parameters."""
        path = self.path(key)
        if not path.is_file():
            return None
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            x_adv = f["x_adv"]
        if meta.get("made_on") != made_on or meta["params"] != json.loads(json.dumps(params)):
            raise EdgeqError(f"{path} holds attack run {key} made on other samples, another model or other "
                             "parameters; delete it or choose another --out to start that attack afresh")
        return RunRecord(key, x_adv, meta["made_on"], meta["params"], meta["status"], meta["elapsed_s"],
                         meta["queries"], meta["stopped_by"], meta.get("extra", {}))

    def save(self, run: RunRecord) -> None:
        meta = {"key": run.key, "made_on": run.made_on, "params": run.params, "status": run.status,
                "elapsed_s": run.elapsed_s, "queries": run.queries, "stopped_by": run.stopped_by,
                "extra": run.meta}
        tmp = self.path(run.key).with_suffix(self.TMP)
        np.savez_compressed(tmp, x_adv=run.x_adv, meta=np.array(json.dumps(meta)))
        tmp.replace(self.path(run.key))
