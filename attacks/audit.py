"""The audit loop: run each attack of a preset (resumably, within its budget), score every model variant on the
adversarial examples, and return every number as a plain dict for the report.

White-box attacks are crafted once on a white-box model (the float model, or the exact quantized twin of a
device variant) and transferred to every variant; black-box attacks query each device variant directly. Device
variants answer through their DeviceEstimator, whose fast-path answers are re-checked on the emulator after
every attack."""
from __future__ import annotations

import contextlib
import random
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from tqdm import tqdm

from . import metrics
from edgeq.errors import EmulatorError, ToolchainError, UsageError

from .estimator import DeviceEstimator, FastPathMismatch
from .store import RunRecord, Store, digest
from .suite import SUITE


@dataclass
class Variant:
    """A model the audit scores: the float model (predict only) or a deployed one (its device estimator).
    `fingerprint` identifies the model itself (a digest of its weights or .tflite), so that saved attack runs
    are never re-scored against another model."""
    name: str
    predict: Callable[[np.ndarray], np.ndarray]
    estimator: DeviceEstimator | None = None
    fingerprint: str = ""
    base: str | None = None             # an input-defended variant: the variant behind the defense ...
    defense: str | None = None          # ... and the defense's name
    detector: object | None = None      # a detector with flags(x) -> bool per sample, and its threshold

    @property
    def on_device(self) -> bool:
        return self.estimator is not None


@dataclass
class Budget:
    seconds: float | None = None        # per attack run; checked between chunks of samples
    queries: int | None = None          # device-estimator queries per black-box run
    chunk: int = 32                     # samples attacked between budget checks and saves


def _runs(attacks: dict, variants: list[Variant], crafters: list[str]):
    """(key, attack, params, target variant or None, crafter) for every run: sweeps expand, white-box runs once per
    crafter ("" the white-box model; a defense's name: crafted through it, adaptively), black-box runs once per
    device."""
    for name, params in attacks.items():
        attack = SUITE[name]
        sweep = params["eps"] if isinstance(params.get("eps"), list) else [params.get("eps")]
        for eps in sweep:
            p = dict(params) if eps is None else {**params, "eps": eps}
            tag = "" if len(sweep) == 1 else f"@eps={eps:g}"
            if attack.box == "white":
                for crafter in crafters or [None]:
                    yield f"{name}{tag}" + (f"~{crafter}" if crafter else ""), attack, p, None, crafter
            else:
                for v in variants:
                    if v.on_device:
                        yield f"{name}{tag}[{v.name}]", attack, p, v, ""


def _seed(seed: int, key: str, start: int) -> None:
    """Seeds the generators attacks draw from (NumPy's, Python's: ART's Square L2 flips its tiles with it, and
    torch's once loaded) for one chunk of one run, so that a run gives the same examples however often it is
    interrupted and resumed."""
    s = int(digest(np.frombuffer(f"{seed}:{key}:{start}".encode(), np.uint8).astype(np.float32)), 16) % 2**32
    np.random.seed(s)
    random.seed(s)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(s)


@dataclass(frozen=True)
class ChunkJob:
    """One attack run as any process can craft a chunk of it: the attack and its parameters, the seed, and what
    it is crafted on (a white-box crafter's key, or the device variant a black-box attack queries)."""
    key: str
    attack: str
    params: dict
    seed: int
    crafter: str | None = None
    target: str | None = None


def craft_chunk(job: ChunkJob, estimator, x: np.ndarray, y: np.ndarray, start: int) -> np.ndarray:
    """The adversarial examples of one chunk (samples from `start`), the same in any process: the attack is built
    afresh and seeded by (seed, run, start), so chunks share no state. A black-box attack's estimator is the
    device's; for one that asks about the same images again, it remembers its answers for the chunk (remembering
    slowed Boundary, which never does: 9.4 -> 11.0 s an image on the D&G ResNet-8, int8)."""
    _seed(job.seed, job.key, start)
    attack = SUITE[job.attack]
    if not isinstance(estimator, DeviceEstimator):
        return attack.build(estimator, job.params)(x, y)
    with estimator.remembering() if attack.asks_again else contextlib.nullcontext():
        return attack.build(estimator.art(), job.params)(x, y)


class InProcess:
    """Chunks crafted in this process, one at a time, each when asked for (budgets are checked between them);
    device queries are counted by the variants' own estimators."""

    def __init__(self, crafters: dict, targets: dict[str, DeviceEstimator]):
        self.crafters, self.targets = crafters, targets

    def chunks(self, job: ChunkJob, x, y, slices):
        estimator = self.targets[job.target] if job.target is not None else self.crafters[job.crafter]
        for s in slices:
            yield s, craft_chunk(job, estimator, x[s], y[s], s.start)


def _attack(run: RunRecord, job: ChunkJob, engine, x: np.ndarray, y: np.ndarray, budget: Budget, counter,
            store: Store, log) -> RunRecord:
    """Attack the samples after the saved ones, chunk by chunk (crafted by `engine`: InProcess, or scale.Ray),
    until done or a budget is spent. A progress bar (samples, queries, ETA) shows on a terminal; every chunk is
    logged too."""
    start, q0 = time.monotonic() - run.elapsed_s, counter() - run.queries
    run.status, run.stopped_by = "running", None
    results = engine.chunks(job, x, y, [slice(i, min(i + budget.chunk, len(x)))
                                        for i in range(run.done, len(x), budget.chunk)])
    with contextlib.closing(results), tqdm(total=len(x), initial=run.done, desc=run.key, unit="img",
                                           disable=None, leave=False, dynamic_ncols=True) as bar:
        while run.done < len(x):
            if budget.seconds is not None and time.monotonic() - start >= budget.seconds:
                run.status, run.stopped_by = "partial", f"time budget {budget.seconds:g} s"
                break
            if budget.queries is not None and counter() - q0 >= budget.queries:
                run.status, run.stopped_by = "partial", f"query budget {budget.queries}"
                break
            try:
                _, x_adv = next(results)
            except (FastPathMismatch, EmulatorError, ToolchainError):
                raise                               # the device or its check failed: no attack result can stand
            except Exception as e:                  # a fault in the attack (ART): keep what was made, say why
                run.status, run.stopped_by = "partial", f"{type(e).__name__}: {e}"
                break
            run.x_adv = np.concatenate([run.x_adv, x_adv])
            run.elapsed_s, run.queries = time.monotonic() - start, counter() - q0
            store.save(run)
            bar.update(len(x_adv))
            bar.set_postfix(queries=run.queries, refresh=False)
            log(f"  {run.key}: {run.done}/{len(x)} samples, {run.elapsed_s:.1f} s, {run.queries} queries")
        else:
            run.status = "complete"
    run.elapsed_s, run.queries = time.monotonic() - start, counter() - q0
    store.save(run)
    return run


def _score(run: RunRecord, box: str, target: Variant | None, x, y, variants: list[Variant], clean: dict,
           input_scale: float | None, source: str) -> dict:
    """Scores of a run on the variants it concerns: a white-box run on every variant, a black-box run on its target
    and the input-defended variants over it (the study's non-adaptive defense runs)."""
    n = run.done
    x0, y0 = x[:n], y[:n]
    scored = variants if target is None else [target] + [v for v in variants if v.base == target.name]
    adv = {v.name: v.predict(run.x_adv).argmax(1) for v in scored} if n else {}
    per = metrics.norms(x0, run.x_adv) if n else {}
    out = {"scores": {v.name: metrics.scores(y0, clean[v.name][:n], adv[v.name]) for v in scored} if n else {},
           "perturbation": {k: metrics.spread(v) for k, v in per.items()},
           "perturbation_values": {k: v.tolist() for k, v in per.items()}}
    for v in scored:
        if v.detector is not None and n:
            out["scores"][v.name]["detection_rate"] = float(v.detector.flags(run.x_adv).mean())
    if input_scale and n:
        out["device_steps_linf"] = metrics.spread(metrics.device_steps(x0, run.x_adv, input_scale))
    if box == "white" and source in adv and n:           # the variant the white-box model stands for
        out["transfer_rate"] = {v.name: metrics.transfer_rate(y0, clean[source][:n], adv[source], clean[v.name][:n],
                                                              adv[v.name]) for v in variants if v.name != source}
    return out


def run_audit(x: np.ndarray, y: np.ndarray, variants: list[Variant], attacks: dict[str, dict], out_dir,
              *, white_box=None, crafted_on: str = "float", input_scale: float | None = None,
              budget: Budget | None = None, zero_density_samples: int = 16, adaptive: dict | None = None,
              seed: int = 0, engine=None, log: Callable[[str], None] = print) -> dict:
    """Audit `variants` on (x, y) with `attacks` ({name: params}, see presets.resolve); `white_box` makes the ART
    estimator white-box attacks are crafted on (a function of no arguments; None: they are skipped), `crafted_on`
    the variant it stands for (the float model, or the device variant whose quantized twin it is): transfer rates
    are from that variant.
    `adaptive` ({defense name: makes the white-box estimator with that input defense in front, BPDA}) adds the
    white-box attacks crafted through each defense (keys `~defense`); their transfer rates are from
    `crafted_on`+defense. Input-defended variants (Variant.base) are scored on every white-box run and on the
    black-box runs against their base. `engine` crafts the chunks (default InProcess; scale.Ray spreads them over a
    cluster, with the same results). Adversarial examples go under out_dir/adversarial/. Returns the report
    dict (every number; no arrays but the perturbation values)."""
    x, y = np.asarray(x, np.float32), np.asarray(y).astype(np.int64)
    budget = budget or Budget()
    data_id = digest(x)
    clean = {v.name: v.predict(x).argmax(1) for v in variants}
    report = {"samples": len(x), "input_scale": input_scale, "crafted_on": crafted_on if white_box else None,
              "seed": seed, "variants": {}, "runs": []}
    makers = {"": white_box, **(adaptive or {})} if white_box is not None else {}
    crafters = {k: make() for k, make in makers.items()}
    engine = engine or InProcess(crafters, {v.name: v.estimator for v in variants if v.on_device})
    runs = list(_runs(attacks, variants, list(crafters)))
    for key, attack, params, target, crafter in runs:       # refuse bad parameters before any attack runs
        if crafter is not None:
            try:
                attack.build(target.estimator.art() if target else crafters[crafter], params)
            except (ValueError, TypeError) as e:
                raise UsageError(f"attack {key}: parameters {params} are refused: {e}") from e
    store = Store(f"{out_dir}/adversarial")
    for i, (key, attack, params, target, crafter) in enumerate(runs, 1):
        log(f"[{i}/{len(runs)}] {key} ({attack.box}-box, {attack.norm})")
        source = f"{crafted_on}+{crafter}" if crafter else crafted_on
        entry = {"key": key, "attack": attack.name, "box": attack.box, "norm": attack.norm, "params": params,
                 "target": target.name if target else source, "eps": params.get("eps"),
                 "adaptive": crafter or None}
        if input_scale and params.get("eps") is not None and attack.norm == "linf":
            entry["eps_steps"] = params["eps"] / input_scale
        if crafter is None:
            report["runs"].append({**entry, "status": "skipped", "stopped_by": "no white-box model"})
            log(f"  {key}: skipped (no white-box model)")
            continue
        model = target or next((v for v in variants if v.name == crafted_on), None)
        made_on = f"{data_id}:{model.fingerprint if model else crafted_on}" + (f"~{crafter}" if crafter else "")
        run = store.load(key, made_on, params) or RunRecord(key, x[:0].copy(), made_on, params)
        if run.status != "complete":
            est = target.estimator if target else None
            job = ChunkJob(key, attack.name, params, seed, None if target else crafter,
                           target.name if target else None)
            counter = (lambda e=est: e.counts.device + e.counts.fast) if est else (lambda: 0)
            run = _attack(run, job, engine, x, y, budget, counter, store, log)
        else:
            log(f"  {key}: complete on disk, re-scoring")
        report["runs"].append({**entry, "status": run.status, "stopped_by": run.stopped_by,
                               "samples_done": run.done, "elapsed_s": run.elapsed_s,
                               "queries": run.queries if attack.box == "black" else None,
                               **_score(run, attack.box, target, x, y, variants, clean, input_scale, source)})
        for v in variants:
            if v.on_device:
                v.estimator.verify()
    for v in variants:
        k = min(zero_density_samples, len(x))
        entry = {"on_device": v.on_device, "clean_accuracy": float(np.mean(clean[v.name] == y)),
                 "zero_gradient_density": None if v.base else metrics.zero_gradient_density(v.predict, x[:k])}
        if v.base:
            entry.update(base=v.base, defense=v.defense)
        if v.detector is not None:
            entry["detector"] = {"threshold": float(v.detector.threshold), "fpr_target": v.detector.fpr,
                                 "false_positive_rate": float(v.detector.flags(x).mean())}
        if v.on_device:
            v.estimator.verify()
            entry["queries"] = v.estimator.counts.as_dict()
        report["variants"][v.name] = entry
    return report
