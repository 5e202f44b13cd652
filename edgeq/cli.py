"""Command line: argparse only; every command calls edgeq.api."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import traceback
from pathlib import Path

import numpy as np

from . import api
from .errors import EdgeqError, InputDataError, UsageError
from .float_models import model_file
from .inputs import array, distinct, existing_file, load_arrays, output_path, positive, write_whole
from .report.tables import format_figures, layer_table
from .attacks.defenses.recipes import TRAINING as TRAINING_DEFENSES
from .attacks.estimator import RECHECK_RATE
from .codegen.bindings import KERNELS
from .targets import TARGETS


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other edgeq error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _kib(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of KiB") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"a budget must be a number of KiB > 0, not {text}")
    return int(value * 1024)


def _compile(args) -> None:
    report = api.compile_model(args.model, args.target, args.out, ram_bytes=args.ram_kb, flash_bytes=args.flash_kb,
                               preprocess=args.preprocess, squeeze_bits=args.squeeze_bits,
                               detect_threshold=args.detect_threshold, detect_train=args.detect_train,
                               detect_fpr=args.detect_fpr, kernels=args.kernels)
    print(layer_table(report))
    print(f"wrote {args.out} ({api.REPORT}, {report['elf']}, {api.MODEL} and the C sources)")


def _inputs(path: Path, names: list[str]):
    """The inputs of `edgeq run`: for a model with one input an .npy, or an .npz holding `x`; else an .npz with one
    array per input name."""
    arrays = load_arrays(path, "inputs")
    if len(names) == 1:
        return arrays[names[0]] if names[0] in arrays else array(arrays, "x", path, "inputs")
    if Path(path).suffix == ".npy":
        raise InputDataError(f"inputs {path}: the model has {len(names)} inputs ({', '.join(names)}); give an .npz "
                             "with one array per input name (numpy.savez)")
    missing = [n for n in names if n not in arrays]
    if missing:
        raise InputDataError(f"inputs {path} has no array named {', '.join(map(repr, missing))} (it has "
                             f"{', '.join(map(repr, arrays)) or 'none'}); the model's inputs are {names}: save one "
                             "array per input name with numpy.savez")
    return {n: arrays[n] for n in names}


def _run(args) -> None:
    out = output_path(args.out, "--out", folder=False)
    distinct(out, "--out", inputs=args.inputs)
    report = api.load_report(args.project)
    if out.resolve().is_relative_to(Path(args.project).resolve()):
        raise UsageError(f"--out {out} is inside the project {args.project}, beside the files it runs from: give a "
                         "path outside it")
    if out.suffix not in (".npy", ".npz"):
        raise UsageError(f"--out {out}: give an .npy or .npz file (numpy's formats) for the outputs")
    names = [spec["name"] for spec in report["outputs"]]
    if len(names) > 1 and out.suffix != ".npz":
        raise UsageError(f"--out {out}: the model has {len(names)} outputs ({', '.join(names)}); give an .npz "
                         "(one array per output name)")
    outputs, metrics = api.run_project(args.project, _inputs(args.inputs, [s["name"] for s in report["inputs"]]),
                                       emulator=args.emulator, timeout_s=args.timeout)
    by_name = outputs if isinstance(outputs, dict) else {names[0]: outputs}
    out.parent.mkdir(parents=True, exist_ok=True)
    metrics_path = out.with_suffix(".metrics.json")
    write_whole(out, lambda f: np.savez(f, **by_name) if out.suffix == ".npz" else np.save(f, outputs))
    flags = ""
    if "detector" in metrics:                   # the feature-squeezing detector's flag per input
        flags_path = out.with_suffix(".flags.npy")
        write_whole(flags_path, lambda f: np.save(f, np.array(metrics["detector"]["flags"], dtype=bool)))
        flags = f", {flags_path} (the detector's flags)"
    write_whole(metrics_path, lambda f: f.write(json.dumps(metrics, indent=2).encode()))
    print(format_figures(metrics))
    shapes = ", ".join(f"{n} {y.dtype}{list(y.shape)}" if len(by_name) > 1 else f"{y.dtype}{list(y.shape)}"
                       for n, y in by_name.items())
    if report.get("state_bytes"):
        print(f"the model keeps {report['state_bytes']} B of state from one invocation to the next (SVDF, LSTM): the "
              f"{metrics['inputs']} inputs ran as that many invocations in order, from zero state")
    print(f"wrote {out} ({shapes}){flags} and {metrics_path}")


def _projects(specs: list[str]) -> dict[str, str]:
    """{variant name: project folder} from `name=folder` or `folder` (named after itself); names must differ."""
    projects = {}
    for spec in specs:
        name, folder = spec.split("=", 1) if "=" in spec else (Path(spec).name, spec)
        if not name:
            raise UsageError(f"{spec}: give the variant a name, e.g. int8={folder}")
        if name in projects:
            raise UsageError(f"two projects are named {name!r} ({projects[name]} and {folder}); name them: "
                             f"a={projects[name]} b={folder}")
        projects[name] = folder
    return projects


def _audit(args) -> None:
    if args.float_model is None:
        given = [o for o, v in (("--weights", args.weights), ("--channels-first", args.channels_first),
                                ("--float-outputs", args.float_outputs != "logits" or None)) if v]
        if given:
            raise UsageError(f"{', '.join(given)} describe(s) the float model: give --float-model too")
    if args.emulator_only and args.recheck is not None:
        raise UsageError("--recheck is the share of fast-path answers re-run in the emulator; with --emulator-only "
                         "every query runs there: give one or the other")
    projects = _projects(args.project)
    api.audited_projects(projects)                   # a project the audit refuses, before any data is read
    overrides = _json_option(args.params, "--params", '{"pgd_linf": {"eps": [0.01]}}')
    defense_params = _json_option(args.defense_params, "--defense-params", '{"feature_squeezing": {"bits": 5}}') or {}
    if args.pixelcnn is not None:
        defense_params["pixel_defend"] = {**defense_params.get("pixel_defend", {}), "pixelcnn": args.pixelcnn}
    x, y = api.load_dataset(args.data, args.samples)
    api.audit(projects, x, y, float_model=args.float_model, float_weights=args.weights,
              channels_first=args.channels_first, float_outputs=args.float_outputs, white_box=args.white_box,
              preset=args.preset, attacks=args.attacks, overrides=overrides, out_dir=args.out,
              budget_s=args.budget_s, budget_queries=args.budget_queries, chunk=args.chunk,
              fast_path=not args.emulator_only,
              recheck_rate=RECHECK_RATE if args.recheck is None else args.recheck,
              defenses=args.defenses.split(",") if args.defenses else None,
              defense_data=api.load_dataset(args.defense_data) if args.defense_data else None,
              defense_params=defense_params, seed=args.seed, ray=args.ray)


def _load_model(spec: str, weights: Path | None):
    """A Keras .h5 path as it is (the quantizer and the defenses read it), else the torch module `spec` names."""
    if spec.endswith(".h5"):
        if weights is not None:
            raise UsageError("--weights goes with a PyTorch model (file.py:ClassName); a Keras .h5 holds its own")
        return existing_file(spec, "Keras model")
    from .frontends.torch.user_model import load_module
    return load_module(spec, weights)


def _quantize(args) -> None:
    if args.kure and not args.qat_epochs:
        raise UsageError("--kure weighs a penalty during QAT: give --qat-epochs too")
    output_path(args.out, "--out", folder=False)
    distinct(args.out, "--out", weights=args.weights, calibration=args.calib, model=model_file(args.model))
    calib = load_arrays(args.calib, "calibration data")
    x = array(calib, "x", args.calib, "calibration data")
    _, report = api.quantize(_load_model(args.model, args.weights), x, calib.get("y"), policy=args.policy,
                             flash_bytes=args.flash_kb, ram_bytes=args.ram_kb, instructions=args.instructions,
                             weight_flash_bytes=args.weight_flash_kb, observer=args.observer,
                             qat_epochs=args.qat_epochs, kure=args.kure, target=args.target, out=args.out,
                             measure=args.measure, allow_a16=args.a16)
    for layer in report["layers"]:
        measured = layer.get("instructions_measured")
        print(f"{layer['name']:<24} {layer['op']:<18} {layer['params']:>8} params  {layer['precision']:<5}  "
              f"{layer['instructions']:>12,.0f} instr. predicted"
              + (f", {measured:>12,.0f} measured" if measured is not None else ""))


def _json_option(text: str | None, option: str, example: str) -> dict | None:
    try:
        value = json.loads(text) if text else None
    except ValueError as e:
        raise UsageError(f"{option} is not JSON ({e}); e.g. '{example}'") from None
    if value is not None and not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object, e.g. '{example}'")
    return value


def _defend(args) -> None:
    params = _json_option(args.params, "--params", '{"eps": 0.01}') or {}
    if args.epochs is not None:
        params["epochs"] = positive(args.epochs, "--epochs", integer=True)
    if (args.model is None) != (args.defense == "pixel_defend"):
        raise UsageError("pixel_defend trains a PixelCNN on the images alone: give no model" if args.model else
                         f"--defense {args.defense} fine-tunes a model: give it (file.py:Class --weights, or .h5)")
    distinct(args.out, "--out", weights=args.weights, training=args.train, model=model_file(args.model))
    data = load_arrays(args.train, "training data")
    x = array(data, "x", args.train, "training data")
    y = None if args.defense == "pixel_defend" else array(data, "y", args.train, "training data")
    model = None if args.model is None else _load_model(args.model, args.weights)
    api.defend(model, x, y, args.defense, out=args.out,
               recipe=args.recipe, params=params, seed=args.seed, device=args.device)


def _setup(args) -> None:
    from .install import setup
    setup()


def _demo(args) -> None:
    from .demo import run
    run(args.out, args.target)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="edgeq", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("compile", help="a .tflite model → CMSIS-NN C project + ELF + layer table")
    c.add_argument("model", type=Path)
    c.add_argument("--target", default="cortex-m4", choices=sorted(TARGETS))
    c.add_argument("--out", type=Path, required=True, help="project folder to write")
    c.add_argument("--ram-kb", type=_kib, default=None, help="RAM budget of the real board (default: the target's)")
    c.add_argument("--flash-kb", type=_kib, default=None, help="flash budget of the real board")
    c.add_argument("--kernels", default="edgeq", choices=KERNELS,
                   help="edgeq: edgeq's own kernels where they are faster at the same flash (default); edgeq-wide: "
                        "also int16-widened weights (faster still, those weights' flash doubles); cmsis-nn: the "
                        "CMSIS-NN kernels TFLite Micro calls, wherever CMSIS-NN has one that computes TFLite "
                        "Micro's integers for the op (the layer table names each layer's kernel)")
    c.add_argument("--preprocess", default=None, choices=["bit_depth", "median", "squeeze"],
                   help="feature squeezing on the int8 input before the first layer (squeeze: bit depth, then the "
                        "2x2 median)")
    c.add_argument("--squeeze-bits", type=int, default=4, help="bits the bit-depth squeezer keeps (default 4)")
    c.add_argument("--detect-threshold", type=float, default=None,
                   help="add the feature-squeezing detector: flag an input when the L1 distance between the outputs "
                        "on it and on its squeezed copies exceeds this (dequantized)")
    c.add_argument("--detect-train", type=Path, default=None,
                   help=".npz with training x, y: the detector with its threshold set from them (the study's rule)")
    c.add_argument("--detect-fpr", type=float, default=0.05,
                   help="false-positive rate per class for --detect-train (default 0.05)")
    c.set_defaults(func=_compile)

    r = sub.add_parser("run", help="run a compiled project's firmware in the emulator on N inputs")
    r.add_argument("project", type=Path)
    r.add_argument("--inputs", type=Path, required=True,
                   help=".npy [N, ...] (or an .npz with one array per input name): integers as-is, floats get "
                        "quantized")
    r.add_argument("--out", type=Path, required=True,
                   help=".npy for the output, or .npz (one array per output name); metrics go beside it")
    r.add_argument("--emulator", default="qemu", choices=["qemu", "renode"])
    r.add_argument("--timeout", type=float, default=None, help="seconds for the whole run")
    r.set_defaults(func=_run)

    a = sub.add_parser("audit", help="attack the deployed model in emulation; report.html/json + adversarial examples")
    a.add_argument("project", nargs="+", help="compiled project folder(s), optionally named: int8=build/m4")
    a.add_argument("--data", type=Path, required=True,
                   help=".npz with x (NHWC or NCHW; uint8 pixels or floats in [0, 1]) and y (class indices or one-hot)")
    a.add_argument("--float-model", default=None,
                   help="path/to/file.py:ClassName (with --weights) or a torch module saved whole: scored beside "
                        "the devices and, by default, the model white-box attacks are crafted on")
    a.add_argument("--weights", type=Path, default=None, help="state_dict (.pt) for the --float-model class")
    a.add_argument("--float-outputs", choices=["logits", "probabilities"], default="logits",
                   help="what the float model returns")
    a.add_argument("--channels-first", action="store_const", const=True, default=None,
                   help="the float model takes NCHW inputs (default: when it starts with a Conv2d)")
    a.add_argument("--white-box", choices=["float", "twin"], default=None,
                   help="craft white-box attacks on the float model or on the exact quantized twin of the first "
                        "project's deployed model (default: float when --float-model is given, else twin)")
    a.add_argument("--preset", default="quick", choices=["quick", "dg"])
    a.add_argument("--attacks", default="all", help="'all' or a comma list, e.g. pgd_linf,square_l2")
    a.add_argument("--params", default=None, help='JSON overrides per attack, e.g. \'{"pgd_linf": {"eps": [0.01]}}\'')
    a.add_argument("--samples", type=int, default=None, help="first N samples of --data")
    a.add_argument("--budget-s", type=float, default=None, help="seconds per attack run (partial results kept)")
    a.add_argument("--budget-queries", type=int, default=None, help="device queries per black-box run")
    a.add_argument("--chunk", type=int, default=32,
                   help="samples attacked between budget checks and saves (a run may overrun by one chunk)")
    a.add_argument("--emulator-only", action="store_true", help="no fast path: every query runs in the emulator")
    a.add_argument("--recheck", type=float, default=None,
                   help=f"share of fast-path answers re-run in the emulator (default {RECHECK_RATE})")
    a.add_argument("--defenses", default=None,
                   help="input defenses in front of every variant, a comma list: feature_squeezing, pixel_defend "
                        "(scored on the saved attacks, as the study did, and attacked through, BPDA)")
    a.add_argument("--defense-data", type=Path, default=None,
                   help=".npz with training x, y: sets the feature-squeezing detector's threshold (FPR 5 %%)")
    a.add_argument("--pixelcnn", type=Path, default=None,
                   help="the PixelCNN pixel_defend purifies with (edgeq defend --defense pixel_defend)")
    a.add_argument("--defense-params", default=None,
                   help='JSON per input defense, e.g. \'{"feature_squeezing": {"bits": 5}}\'')
    a.add_argument("--seed", type=int, default=0, help="seeds every attack (per run and chunk: resumes repeat it)")
    a.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="craft the attacks' chunks as Ray tasks: alone, on a local cluster started for the audit; "
                        "with an address, on that running cluster (pip install 'edgeq[scale]')")
    a.add_argument("--out", type=Path, default=Path("audit"))
    a.set_defaults(func=_audit)

    q = sub.add_parser("quantize", help="a float PyTorch/Keras model → mixed int4/int8 .tflite + policy report")
    q.add_argument("model", help="path/to/file.py:ClassName (PyTorch, NCHW) or a Keras .h5")
    q.add_argument("--weights", type=Path, default=None, help="state_dict (.pt) for the PyTorch class")
    q.add_argument("--calib", type=Path, required=True, help=".npz with x (calibration inputs) and optionally y")
    q.add_argument("--policy", default="hawq",
                   choices=["hawq", "ans", "te", "measured", "int8", "int4", "int16", "random"],
                   help="a sensitivity solved under the budgets, or one precision for every layer (int16: a16w8, "
                        "int16 activations and int8 weights)")
    q.add_argument("--observer", default="minmax", choices=["minmax", "percentile", "mse"])
    q.add_argument("--flash-kb", type=_kib, default=None, help="total firmware flash: code, kernels and weights")
    q.add_argument("--ram-kb", type=_kib, default=None)
    q.add_argument("--weight-flash-kb", type=_kib, default=None, help="the weighted layers' constants alone")
    q.add_argument("--instructions", type=float, default=None, help="instructions per inference (cost model)")
    q.add_argument("--qat-epochs", type=int, default=0)
    q.add_argument("--kure", type=float, default=0.0, help="KURE weight λ (target kurtosis 1.8)")
    q.add_argument("--target", default="cortex-m4", choices=sorted(TARGETS))
    q.add_argument("--out", type=Path, required=True, help=".tflite to write; the report goes beside it")
    q.add_argument("--a16", action="store_true",
                   help="a16w8 (int16 activations, int8 weights) as a third choice per layer, limited by the RAM "
                        "and instruction budgets (policies hawq, measured, random)")
    q.add_argument("--measure", action="store_true",
                   help="also compile and run the result: measured flash, RAM, instructions, accuracy in the report")
    q.set_defaults(func=_quantize)

    f = sub.add_parser("defend", help="fine-tune a float model with a training defense: pgd_at, ens_at, "
                                      "distillation, sat (resumes from its last epoch when rerun)")
    f.add_argument("model", nargs="?", help="path/to/file.py:ClassName (PyTorch, with --weights), a module saved "
                                            "whole, or a Keras .h5 (none for pixel_defend, which models the images)")
    f.add_argument("--weights", type=Path, default=None, help="pretrained state_dict (.pt) for the PyTorch class")
    f.add_argument("--train", type=Path, required=True,
                   help=".npz with x (NHWC or NCHW; uint8 pixels or floats in [0, 1]) and y (labels)")
    f.add_argument("--defense", required=True, choices=sorted(TRAINING_DEFENSES) + ["pixel_defend"])
    f.add_argument("--recipe", default="cpu", choices=["cpu", "study"],
                   help="study: the paper's settings (days on a CPU); cpu: fewer epochs on a training subset")
    f.add_argument("--epochs", type=int, default=None, help="overrides the recipe's epochs")
    f.add_argument("--params", default=None, help='JSON overrides of the recipe, e.g. \'{"eps": 0.01, "lr": 0.005}\'')
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", default="cpu", help="cpu, or cuda where torch sees a GPU")
    f.add_argument("--out", type=Path, required=True, help=".pt to write (a checkpoint .pt.ckpt goes beside it)")
    f.set_defaults(func=_defend)

    s = sub.add_parser("setup", help="fetch CMSIS-NN into edgeq's cache and build the QEMU instruction-count plugin "
                                     "(once after installing; needs the Debian Arm toolchain and QEMU)")
    s.set_defaults(func=_setup)

    d = sub.add_parser("demo", help="the embedded default: digits model → firmware → QEMU, checked against tflite-micro")
    d.add_argument("--out", type=Path, default=Path("out/demo"))
    d.add_argument("--target", default="cortex-m4", choices=sorted(TARGETS))
    d.set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 2 an error the user can act on (one line on stderr), 1 an internal error, 130
    interrupted. EDGEQ_DEBUG=1 adds the traceback."""
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except EdgeqError as e:
        return _fail(args.command, str(e), 2)
    except OSError as e:                       # the file system said no (permissions, a full disk, ...)
        where = f"{e.filename}: " if e.filename else ""
        return _fail(args.command, f"{where}{e.strerror or e}", 2)
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted", 130)
    except Exception as e:
        return _fail(args.command, f"internal error {type(e).__name__}: {e} (this is a bug in edgeq; rerun with "
                                   "EDGEQ_DEBUG=1 for the traceback and report it)", 1)
    return 0


def _fail(command: str, message: str, code: int) -> int:
    if os.environ.get("EDGEQ_DEBUG"):
        traceback.print_exc()
    print(f"edgeq {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
