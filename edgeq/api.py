"""The public entry points, one per command, wiring the stages: model → IR → C project (deploy) → ELF →
emulator (project) → audit (audit_variants, edgeq.attacks) → report; quantize prices the target (pricing).
Each function checks its user inputs, calls the stages, and writes its outputs whole."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from pathlib import Path

import numpy as np

from .attacks.estimator import RECHECK_RATE
from .audit_variants import (THRESHOLD_SAMPLES, audit_lock, check_audit_folder, check_float_outputs,
                             checked_float_predict, defended_variants, device_estimator, file_digest,
                             input_defenses, integer_twin, weights_digest)
from .deploy import compile_graph, compile_model
from .emulate.elf import read_firmware
from .errors import EmulatorError, InputDataError, UsageError
from .float_models import float_graph, float_module, is_keras, trainable
from .inputs import (class_labels, float_inputs, load_dataset, output_path, positive, to_layout,
                     unit_range, write_whole)
from .pricing import add_target_predictions, as_nhwc, measure_quantized, target_budget
from .project import MODEL, REPORT, input_range, load_report, project_file, quantize_inputs, run_project
from .squeezing import squeeze_threshold

__all__ = ["MODEL", "REPORT", "audit", "compile_graph", "compile_model", "defend", "device_estimator",
           "integer_twin", "load_dataset", "load_report", "quantize", "quantize_inputs", "run_project",
           "squeeze_threshold"]


def defend(model, x: np.ndarray, y: np.ndarray, defense: str, *, out: str | os.PathLike, weights=None,
           recipe: str = "cpu", params: dict | None = None, seed: int = 0, device: str = "cpu",
           progress: bool = True, log=print) -> dict:
    """`edgeq defend`: fine-tune a pretrained float model with a training defense (edgeq.attacks.defenses) and
    write it to `out`: a state_dict for a PyTorch class (file.py:Class, `weights` its pretrained state_dict; or
    a module), the whole model for a Keras .h5 (`edgeq quantize` takes either; it trains through its twin with
    its BatchNorms restored, frontends.torch.keras.BatchNormTwin, and is saved with them folded back). Data: x in [0, 1] (or uint8
    pixels), NHWC or NCHW; y class indices or one-hot. A checkpoint beside `out` (out + ".ckpt") is written after
    every epoch and resumed from by a rerun with the same settings. Returns a summary (recipe, parameters,
    epochs, time, clean accuracy on the training samples)."""
    import torch

    from edgeq.attacks.defenses.recipes import resolve
    from edgeq.attacks.defenses.train import trained_seconds, train_defense

    params = resolve(defense, recipe, params)
    out = output_path(out, "--out", folder=False)
    if device != "cpu" and not (device.startswith("cuda") and torch.cuda.is_available()):
        raise UsageError(f"--device {device}: no such device here (torch sees "
                         f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}); use --device cpu")
    positive(seed, "--seed", integer=True, allow_zero=True)
    x = unit_range(float_inputs(x, "training data"), "training data")
    if defense == "pixel_defend":
        return _train_pixelcnn(x, recipe, params, out, seed, device, progress, log)
    net, channels_first, x, classes = trainable(model, weights, x, seed, log)
    y = class_labels(y, len(x), classes, "training labels")
    started = time.monotonic()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    checkpoint = out.with_name(out.name + ".ckpt")
    trained = train_defense(net, x, y, defense, params, checkpoint=checkpoint, channels_first=channels_first,
                            seed=seed, device=device, progress=progress, log=log)
    write_whole(out, lambda f: torch.save(trained.twin if is_keras(model) else trained.state_dict(), f))
    with torch.no_grad():
        probe = torch.as_tensor(x[:1024])
        logits = trained(probe.permute(0, 3, 1, 2) if channels_first else probe)
    summary = {"defense": defense, "recipe": recipe, "params": params, "seed": seed, "device": device,
               "wall_s": time.monotonic() - started, "train_s": trained_seconds(checkpoint),
               "train_samples": min(len(x), params["train_samples"] or len(x)),
               "classes": classes,
               "clean_accuracy_train": float((logits.argmax(1).numpy() == y[:1024]).mean()), "out": str(out)}
    _write_text(out.with_name(out.name + ".json"), json.dumps(summary, indent=2))
    log(f"{defense}: {params['epochs']} epochs on {summary['train_samples']} samples in {summary['wall_s']:.0f} s; "
        f"clean accuracy on the training samples {summary['clean_accuracy_train']:.3f}; wrote {out}")
    return summary


def _train_pixelcnn(x, recipe: str, params: dict, out: Path, seed: int, device: str, progress: bool, log) -> dict:
    """PixelDefend's PixelCNN, trained on the images x (floats in [0, 1]; no model, no labels): `out` then serves
    `edgeq audit --defenses pixel_defend --pixelcnn OUT`."""
    from edgeq.attacks.defenses.pixelcnn import footprint, save_pixelcnn, train_pixelcnn
    if x.ndim != 4:
        raise InputDataError(f"training data: PixelDefend models images [N, H, W, C]; got {list(x.shape)}")
    x = to_layout(x, x.shape[1:] if x.shape[3] <= 4 else (x.shape[2], x.shape[3], x.shape[1]), "nhwc",
                  "training data", log)
    started = time.monotonic()
    model = train_pixelcnn(x, params, checkpoint=out.with_name(out.name + ".ckpt"), seed=seed, device=device,
                           progress=progress, log=log)
    write_whole(out, lambda f: save_pixelcnn(model, f))
    summary = {"defense": "pixel_defend", "recipe": recipe, "params": params, "seed": seed, "device": device,
               "wall_s": time.monotonic() - started, "image_shape": list(x.shape[1:]),
               "footprint": footprint(model, tuple(x.shape[1:])), "out": str(out)}
    _write_text(out.with_name(out.name + ".json"), json.dumps(summary, indent=2))
    log(f"pixel_defend: PixelCNN ({summary['footprint']['params']:,} parameters, "
        f"{summary['footprint']['macs'] / 1e6:.1f} M MACs per image) trained in {summary['wall_s']:.0f} s; wrote {out}")
    return summary


def audited_projects(projects) -> tuple[dict, dict]:
    """({name: project folder}, {name: report}) of what an audit scores, each checked to be a classifier it can
    attack (its files present; one input in [0, 1], one output; no state kept between invocations), all of one
    task: `edgeq audit` asks before it reads any data, so that a refusal comes first."""
    projects = projects if isinstance(projects, dict) else {Path(projects).name: projects}
    reports = {name: load_report(d) for name, d in projects.items()}
    for name, d in projects.items():                   # every file the audit needs, before anything is written
        elf = project_file(d, reports[name], "elf")
        project_file(d, reports[name], "model")
        try:
            read_firmware(elf)
        except EmulatorError as e:
            raise UsageError(f"{d}: its firmware cannot be read ({e}); recompile the project with `edgeq compile`") \
                from e
        if len(reports[name]["inputs"]) != 1 or len(reports[name]["outputs"]) != 1:
            raise UsageError(f"{d} has {len(reports[name]['inputs'])} inputs and {len(reports[name]['outputs'])} "
                             "outputs; the audit attacks classifiers (one input, one output of class scores)")
        if reports[name].get("state_bytes"):
            raise UsageError(f"{d} keeps {reports[name]['state_bytes']} B of state from one invocation to the next "
                             "(SVDF, LSTM); the audit scores each input on its own: audit a stateless classifier")
        lo, hi = input_range(reports[name]["input"]) if reports[name]["input"]["scale"] else (0.0, 1.0)
        if hi > 1.5:
            raise UsageError(f"{d} takes inputs in [{lo:g}, {hi:g}] (raw pixels?); the attacks work on inputs in "
                             "[0, 1]: audit a model quantized for [0, 1] inputs")
    first_name, first_dir = next(iter(projects.items()))
    task = lambda r: (tuple(r["input"]["shape"][1:]), int(np.prod(r["output"]["shape"][1:])))  # noqa: E731
    for name, r in reports.items():
        if task(r) != task(reports[first_name]):
            raise UsageError(f"{projects[name]} takes {r['input']['shape'][1:]} and gives "
                             f"{r['output']['shape'][1:]}, unlike {first_dir}; audit models of one task together")
    return projects, reports


def audit(projects, x: np.ndarray, y: np.ndarray, *, float_model=None, float_weights=None,
          channels_first: bool | None = None, float_outputs: str = "logits", white_box: str | None = None,
          preset: str = "quick", attacks="all", overrides: dict | None = None, out_dir="audit",
          budget_s: float | None = None, budget_queries: int | None = None, chunk: int = 32,
          fast_path: bool = True, recheck_rate: float = RECHECK_RATE, defenses: list[str] | None = None,
          defense_data: tuple[np.ndarray, np.ndarray] | None = None, defense_params: dict | None = None,
          seed: int = 0, ray: str | None = None, log=print) -> dict:
    """`edgeq audit`: attack the deployed model(s) in emulation and write out_dir/report.{json,html} and
    out_dir/adversarial/*.npz. `projects` is a compiled project folder or {variant name: folder}; inputs are
    floats in [0, 1], NHWC or NCHW (inputs.to_layout), labels class indices or one-hot: both are checked against
    the models before any attack starts. The float model is a torch module, file.py:Class (with `float_weights`,
    a state_dict), or a module saved whole; `channels_first` says whether it takes NCHW (None: it does when it
    starts with a Conv2d); `float_outputs` whether it returns logits or probabilities.
    White-box attacks are crafted on `white_box`: "float" (the float model) or "twin" (the exact quantized twin
    of the first project's deployed model: the device's values, fake-quant gradients); by default the float
    model when one is given, else the twin. The float model, when given, is scored as a variant either way.
    Budgets are checked, and progress saved, every `chunk` samples, so a run may overrun its budget by one chunk.
    `defenses` (feature_squeezing, pixel_defend) put input defenses in front of every variant: each defended
    variant is scored on the white-box runs and on the black-box runs against its base (as the study did), and
    the white-box attacks are crafted through each defense too (BPDA, adaptive); `defense_data` (training x, y)
    sets the squeezing detector's threshold; `defense_params` ({defense: {param: value}}) tunes them.
    `ray` spreads the attacks' chunks over a Ray cluster (edgeq.attacks.scale; "local" starts one on this machine,
    else the address of a running cluster whose nodes see the same project and data paths): the report is the
    same as without. A rerun with the same out_dir continues unfinished attacks and re-scores the rest."""
    import torch
    from edgeq.attacks.audit import Budget, Variant, run_audit
    from edgeq.attacks.defenses.inputs import bpda
    from edgeq.attacks.presets import resolve
    from edgeq.attacks.torch_model import art_classifier, as_logits, float_predict
    from .frontends.torch.forward import Logits
    from .report.html import render
    from .report.summary import summarize

    torch.set_num_threads(min(2, torch.get_num_threads()))
    white_box = white_box or ("float" if float_model is not None else "twin")
    if white_box not in ("float", "twin"):
        raise UsageError(f"white-box attacks are crafted on 'float' or 'twin', not {white_box!r}")
    if white_box == "float" and float_model is None:
        raise UsageError("white-box attacks crafted on the float model need one (--float-model); "
                         "or craft them on the quantized twin (--white-box twin)")
    budget = Budget(positive(budget_s, "--budget-s"), positive(budget_queries, "--budget-queries", integer=True),
                    positive(chunk, "--chunk", integer=True))
    if not (fast_path is False or 0 < recheck_rate <= 1):
        raise UsageError(f"--recheck must be in (0, 1], not {recheck_rate:g}: the share of fast-path answers "
                         "re-run in the emulator (--emulator-only runs every query there)")
    chosen = resolve(preset, attacks, overrides)
    unused = sorted(set(overrides or {}) - set(chosen))
    if unused:
        log(f"note: --params sets {', '.join(unused)}, which --attacks leaves out: those parameters are not used")
    positive(seed, "--seed", integer=True, allow_zero=True)
    check_audit_folder(Path(out_dir))
    projects, reports = audited_projects(projects)
    first_name, first_dir = next(iter(projects.items()))
    first = reports[first_name]
    shape = tuple(first["input"]["shape"][1:])
    nb_classes = int(np.prod(first["output"]["shape"][1:]))
    x = to_layout(float_inputs(x, "audit data"), shape, "nhwc", "audit data", log) if len(shape) == 3 \
        else float_inputs(x, "audit data")
    if x.min() < 0 or x.max() > 1:
        raise InputDataError(f"audit data ranges over [{x.min():g}, {x.max():g}]; the attacks work on inputs in "
                             "[0, 1] (pixels 0..255: divide by 255, or pass them as uint8)")
    y = class_labels(y, len(x), nb_classes, "audit labels")
    if defense_data is not None:
        dx = float_inputs(defense_data[0], "defense data")
        dx = to_layout(dx, shape, "nhwc", "defense data", log) if len(shape) == 3 else dx
        dy = class_labels(defense_data[1], len(dx), nb_classes, "defense data labels")
        keep = np.sort(np.random.default_rng(0).permutation(len(dx))[:THRESHOLD_SAMPLES])
        defense_data = dx[keep], dy[keep]
    module = None if float_model is None else float_module(float_model, float_weights)
    if module is not None and channels_first is None:
        from .frontends.torch.user_model import first_channels
        channels_first = first_channels(module) is not None
    if module is not None:
        check_float_outputs(module, channels_first, float_outputs, x[:8], float_model, log)
    net = None if module is None else as_logits(module, float_outputs)
    variants = [] if net is None else [Variant("float", checked_float_predict(
        float_predict(net, channels_first), float_model, x[:2], nb_classes), None, weights_digest(net))]
    devices = {name: functools.partial(device_estimator, d, fast_path=fast_path, recheck_rate=recheck_rate,
                                       name=name) for name, d in projects.items()}   # built here and in Ray workers
    variants += [Variant(name, est.predict, est, file_digest(project_file(d, reports[name], "model")))
                 for name, d in projects.items() for est in [devices[name]()]]
    transforms, host_costs = input_defenses(defenses or [], reports, first_name, defense_params or {})
    variants += defended_variants(variants, transforms, reports, defense_data, log)
    if white_box == "float":
        crafted_on, described = "float", "the float model"
        crafting, crafting_nchw = net, channels_first
    else:
        crafted_on = first_name
        described = (f"the exact quantized twin of {first_name} ({Path(first['source']).name}): "
                     "the deployed integer model's values, fake-quant straight-through gradients")
        crafting, crafting_nchw = Logits(integer_twin(first_dir)), False

    def crafter(defense=None):          # builds the white-box estimator, here or in a Ray worker
        defences = None if defense is None else [bpda(transforms[defense][crafted_on])]
        return lambda: art_classifier(crafting, shape, nb_classes, crafting_nchw, defences)

    adaptive = {d: crafter(d) for d in transforms}
    crafters = {"": crafter(), **adaptive}
    with audit_lock(Path(out_dir)), _engine(ray, crafters, devices, variants, log) as engine:
        result = run_audit(x, y, variants, chosen, out_dir, white_box=crafters[""], crafted_on=crafted_on,
                           input_scale=first["input"]["scale"], budget=budget, adaptive=adaptive, seed=seed,
                           engine=engine, log=log)
    result["preset"] = preset
    result["white_box"] = {"model": white_box, "variant": crafted_on, "description": described}
    result["host_defenses"] = host_costs
    result["summary"] = summarize(result)
    figures = {name: run_project(d, x[:1])[1] for name, d in projects.items()}
    result["devices"] = {name: {"target": reports[name]["target"], "flash_bytes": r["totals"]["flash_bytes"],
                                "static_ram_bytes": r["totals"]["static_ram_bytes"],
                                "instructions_per_inference": figures[name]["instructions_per_inference"],
                                "instructions_exact": figures[name]["instructions_exact"]}
                         for name, r in reports.items()}
    model = {**first, "run": figures[first_name]}
    out = Path(out_dir)
    _write_text(out / "report.html", render(result, model))
    _write_text(out / "report.json", json.dumps({**result, "model": model}, indent=1))
    log(f"wrote {out / 'report.html'}, {out / 'report.json'} and {out / 'adversarial'}/")
    return result


@contextlib.contextmanager
def _engine(ray: str | None, crafters: dict, devices: dict, variants: list, log):
    """None (the audit crafts in this process) without `ray`; else edgeq.attacks.scale.Ray on that cluster
    ("local": a local one started for the audit and stopped after it)."""
    if ray is None:
        yield None
        return
    from edgeq.attacks.scale import Ray
    with Ray(ray, crafters, devices, {v.name: v.estimator for v in variants if v.on_device}, log) as engine:
        yield engine


def _write_text(path: Path, text: str) -> None:
    write_whole(path, lambda f: f.write(text.encode()))


def quantize(model, calib, labels=None, *, policy: str = "hawq", flash_bytes: float | None = None,
             ram_bytes: float | None = None, instructions: float | None = None,
             weight_flash_bytes: float | None = None, observer: str = "minmax", qat_epochs: int = 0,
             kure: float = 0.0, target: str = "cortex-m4", out: str | os.PathLike | None = None,
             measure: bool = False, allow_a16: bool = False, log=print):
    """`edgeq quantize`: a float model (nn.Module taking NCHW `calib`, Keras .h5 path, or float Graph) → mixed
    int4/int8 integer graph under budgets on total flash, weight flash, RAM and instructions per inference; with
    `allow_a16`, a16w8 (int16 activations, int8 weights) is a third choice per layer, which the RAM and
    instruction budgets limit. With a flash, RAM or instruction budget, the int8 model is compiled for `target`
    (and, for instructions, run once in the emulator, the all-a16w8 model too with `allow_a16`) to measure the
    budgets' fixed part, and each layer is priced by the CMSIS-NN kernel the code generator picks for it at each
    precision: its instructions and the code it links. With `measure`, the result is compiled and run too, and
    the report gets measured flash, RAM, per-layer instructions and accuracy beside the predicted ones. With
    `out`, writes out (.tflite) and the policy report beside it (.policy.json, .policy.png). Returns
    (pipeline.Quantized, report dict)."""
    from .frontends.tflite import write_tflite
    from .quantize.pipeline import quantize as run_pipeline
    from .quantize.report import policy_report, write_report
    from .quantize.solver import Budget

    budget = Budget(*(positive(v, o) for v, o in ((flash_bytes, "--flash-kb"), (ram_bytes, "--ram-kb"),
                                                   (instructions, "--instructions"))),
                    weight_flash_bytes=positive(weight_flash_bytes, "--weight-flash-kb"))
    positive(qat_epochs, "--qat-epochs", integer=True, allow_zero=True)
    positive(kure, "--kure", allow_zero=True)
    graph, x, layout = float_graph(model, calib, log)
    classes = int(np.prod(graph.tensors[graph.outputs[0]].shape[1:]))
    labels = None if labels is None else class_labels(labels, len(x), classes, "calibration labels")
    kernels = ram_of = None
    if any(b is not None for b in (flash_bytes, ram_bytes, instructions)):
        budget, kernels, ram_of = target_budget(graph, as_nhwc(x, layout), target, budget, log, allow_a16)
    result = run_pipeline(graph, x, labels, policy=policy, budget=budget, observer=observer, qat_epochs=qat_epochs,
                          kure=kure, input_layout=layout, kernels=kernels, allow_a16=allow_a16, ram_of=ram_of,
                          log=log)
    measured = measure_quantized(graph, result.graph, x, labels, layout, target, log) if measure else None
    report = policy_report(result, policy, measured)
    add_target_predictions(report["predicted"], graph, result.bits, budget, kernels, ram_of)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(write_tflite(result.graph))
        paths = write_report(report, out.with_suffix(".policy"))
        log(f"wrote {out}, {paths[0]} and {paths[1]}")
    return result, report
