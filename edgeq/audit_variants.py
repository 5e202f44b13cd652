"""What an audit scores and where it writes: each compiled project as a device estimator (bit-exact fast
path, re-checked in the emulator), the float model (checked against the data), input-defended variants in
front of them, and the audit folder with its lock."""
from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np

from .attacks.estimator import RECHECK_RATE
from .errors import UsageError
from .frontends.tflite import read_tflite
from .inputs import existing_file, output_path, positive
from .project import dequantizer, load_report, project_file, quantize_inputs, run_project
from .squeezing import report_squeezer, squeeze_quantization


def device_estimator(project_dir: str | os.PathLike, *, fast_path: bool = True,
                     recheck_rate: float = RECHECK_RATE, emulator: str = "qemu", name: str | None = None):
    """The compiled project as an attack target: predict runs the firmware in the emulator; with `fast_path`
    the bit-exact reference executor answers instead (torch's convolution sums, a batch over torch's thread count;
    behind the host squeezer when the firmware has a preprocessor, report["preprocess"]) and the emulator
    re-checks `recheck_rate` of its answers."""
    import torch

    from edgeq.attacks.estimator import DeviceEstimator
    from .reference import Executor
    from .torch_sums import torch_sums
    project_dir = Path(project_dir).resolve()               # attacks may change the working directory
    report = load_report(project_dir)
    dequantize = dequantizer(report["output"])
    fast = None
    if fast_path:
        executor = Executor(read_tflite(project_file(project_dir, report, "model")), sums=torch_sums(),
                            threads=torch.get_num_threads())
        squeezer = report_squeezer(report)            # the firmware's preprocessor, when it has one
        fast = lambda x: dequantize(executor.run([squeezer(quantize_inputs(x, report["input"]))])[0])  # noqa: E731
    return DeviceEstimator(name or Path(project_dir).name,
                           lambda x: dequantize(run_project(project_dir, x, emulator=emulator, count=False)[0]),
                           tuple(report["input"]["shape"][1:]), int(np.prod(report["output"]["shape"][1:])),
                           fast_predict=fast, recheck_rate=recheck_rate)


def integer_twin(project_dir: str | os.PathLike):
    """The exact quantized twin (quantize.twin.Twin.of_integer) of a compiled project's deployed model."""
    from .quantize.twin import Twin
    return Twin.of_integer(read_tflite(project_file(project_dir, load_report(project_dir), "model")))


AUDIT_LOCK = ".edgeq-audit.lock"


def check_audit_folder(out: Path) -> None:
    """An audit writes into a folder that is absent, empty, or an earlier audit's (which it resumes)."""
    output_path(out, "--out", folder=True)
    entries = sorted(p.name for p in out.iterdir() if p.name != AUDIT_LOCK) if out.is_dir() else []
    if entries and "adversarial" not in entries:
        raise UsageError(f"--out {out} holds files that are not an edgeq audit's (e.g. {entries[0]}); choose a new "
                         "folder")


@contextlib.contextmanager
def audit_lock(out: Path):
    """One audit at a time writes a folder."""
    import fcntl
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with open(out / AUDIT_LOCK, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UsageError(f"--out {out}: another edgeq audit is writing this folder; wait for it or choose "
                                 "another") from None
            yield
    finally:
        if created and [p.name for p in out.iterdir()] == [AUDIT_LOCK]:     # refused before writing anything
            (out / AUDIT_LOCK).unlink()
            out.rmdir()


INPUT_DEFENSES = ("feature_squeezing", "pixel_defend")
THRESHOLD_SAMPLES = 2000    # training samples (a seeded subset) that set the squeezing detector's threshold


def input_defenses(names: list[str], reports: dict, first: str, params: dict) -> tuple[dict, dict]:
    """({defense: {variant name: transform}}, {defense: its size and cost where it runs on the host}): each input
    defense as it stands in front of each variant (feature squeezing works on a variant's own input levels; the
    float model's are the first device's; PixelDefend purifies with the PixelCNN `params["pixel_defend"]` names)."""
    from edgeq.attacks.defenses.inputs import feature_squeezing

    unknown = [n for n in names if n not in INPUT_DEFENSES]
    if unknown:
        raise UsageError(f"--defenses: unknown input defense(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(INPUT_DEFENSES)} (training defenses: `edgeq defend`, then audit the result)")
    out: dict[str, dict] = {}
    costs: dict[str, dict] = {}           # what a host-side defense would cost a device
    for name in names:
        p = params.get(name, {})
        if name == "feature_squeezing":
            squeezed = [v for v, r in reports.items() if "preprocess" in r]
            if squeezed:
                raise UsageError(f"--defenses feature_squeezing: {', '.join(squeezed)} already squeezes its inputs "
                                 "on the device (compiled with --preprocess); audit it without --defenses")
            bits = positive(p.get("bits", 4), "feature_squeezing.bits", integer=True)
            out[name] = {v: feature_squeezing(squeeze_quantization(r["input"]), bits) for v, r in reports.items()}
            out[name]["float"] = out[name][first]
        else:
            from edgeq.attacks.defenses.pixel_defend import STUDY_EPS, purifier
            from edgeq.attacks.defenses.pixelcnn import footprint, load_pixelcnn
            if "pixelcnn" not in p:
                raise UsageError("--defenses pixel_defend needs its PixelCNN: train one with `edgeq defend "
                                 "--defense pixel_defend --train train.npz --out pixelcnn.pt`, then give --pixelcnn")
            eps = positive(p.get("eps", STUDY_EPS), "pixel_defend.eps", integer=True)
            pixelcnn = load_pixelcnn(existing_file(p["pixelcnn"], "--pixelcnn"))
            purify = purifier(pixelcnn, eps)
            out[name] = {v: purify for v in [*reports, "float"]}
            shape = tuple(next(iter(reports.values()))["input"]["shape"][1:])
            costs[name] = {"eps": eps, "runs_on": "host", **footprint(pixelcnn, shape)}
    return out, costs


def defended_variants(variants: list, transforms: dict, reports: dict, data, log) -> list:
    """Each variant behind each input defense; the squeezing variants carry the study's detector when there is
    training data to set its threshold."""
    from edgeq.attacks.audit import Variant
    from edgeq.attacks.defenses.inputs import SqueezeDetector
    out = []
    for d, by_base in transforms.items():
        for v in variants:
            detector = None
            if d == "feature_squeezing" and data is not None:
                q = squeeze_quantization(reports.get(v.name, next(iter(reports.values())))["input"])
                detector = SqueezeDetector(v.predict, q, *data)
                log(f"{v.name}+{d}: detector threshold {detector.threshold:.4g} (L1, FPR 5 % on "
                    f"{len(data[0])} training samples)")
            out.append(Variant(f"{v.name}+{d}", lambda x, v=v, f=by_base[v.name]: v.predict(f(x)), None,
                               f"{v.fingerprint}+{d}", base=v.name, defense=d, detector=detector))
    return out


def checked_float_predict(predict, float_model, x: np.ndarray, nb_classes: int):
    """`predict`, once it has been seen to take the audit's inputs and give `nb_classes` scores."""
    try:
        out = predict(x)
    except Exception as e:
        raise UsageError(f"float model {float_model} does not take the audit's inputs, {list(x.shape[1:])} a sample "
                         "(NHWC, handed over as NCHW when the model starts with a Conv2d or --channels-first is given; "
                         f"they must be what the deployed models take): {type(e).__name__}: {e}") from e
    if out.shape != (len(x), nb_classes):
        raise UsageError(f"float model {float_model} gives {list(out.shape[1:])} scores per input; the deployed "
                         f"models give {nb_classes}")
    return predict


def check_float_outputs(module, channels_first: bool, float_outputs: str, x: np.ndarray, float_model, log) -> None:
    """--float-outputs probabilities on a model that returns logits would attack log(logits), a wrong model:
    refused. Logits that look like probabilities (a model ending in softmax, said to give logits) still work,
    with weaker gradients: said."""
    import torch
    from edgeq.attacks.torch_model import NHWC
    try:
        with torch.no_grad():
            out = (NHWC(module) if channels_first else module)(torch.as_tensor(x)).numpy()
    except Exception:
        return                                  # checked_float_predict says what is wrong with the inputs
    probabilities = out.ndim == 2 and out.min() >= 0 and np.allclose(out.sum(axis=1), 1, atol=1e-3)
    if float_outputs == "probabilities" and not probabilities:
        raise UsageError(f"--float-outputs probabilities: float model {float_model} returns scores in "
                         f"[{out.min():.3g}, {out.max():.3g}] that do not sum to 1 per input (logits?); "
                         "leave --float-outputs at logits")
    if float_outputs == "logits" and probabilities:
        log(f"note: float model {float_model} returns probabilities (each input's scores sum to 1); with "
            "--float-outputs probabilities the white-box attacks get stronger gradients")


def weights_digest(module) -> str:
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
