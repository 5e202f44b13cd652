"""User data coming in (files, arrays, labels, layouts), checked so that a mistake ends in one line naming the file
or option and what to do, never in a traceback or a silently wrong result.

The rules, in one place:
- a file the user names must exist and be a file; an output must not sit where a file or folder is in the way;
- uint8 arrays are 0..255 pixels and are read as floats in [0, 1] (the study's inputs); bool, complex and object
  arrays are refused; floats must be finite;
- an image batch may come NHWC (the device's layout: TFLite, Keras) or NCHW (PyTorch): it is turned into the
  layout its consumer takes when its shape says which one it is, and refused when it matches neither;
- labels are class indices (one-hot rows are taken as their index), one per sample, within the model's classes."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .errors import InputDataError, UsageError


def existing_file(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; give the file itself")
    if not path.is_file():
        raise UsageError(f"{what} {path} does not exist")
    return path


def output_path(path: str | os.PathLike, what: str, *, folder: bool) -> Path:
    """`path` may be written as a file (folder=False) or a folder: nothing of the other kind is in the way, and no
    parent of it is a file."""
    path = Path(path)
    for parent in path.absolute().parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{what} {path}: {parent} is a file, so nothing can be written under it")
    if folder and path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} is a file; give a folder")
    if not folder and path.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    return path


def write_whole(path: Path, write) -> None:
    """`write(file)` into a temporary binary file beside `path`, then renamed over it: a file at `path` is always
    whole, whatever the writer (np.save, torch.save, text)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        write(f)
    tmp.replace(path)


def load_arrays(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz ({name: array}) or an .npy ({"x": array}), without unpickling anything."""
    path = existing_file(path, what)
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):           # an .npy
            return {"x": loaded}
        with loaded as f:
            return {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        numpy_file = path.read_bytes()[:6] in (b"\x93NUMPY",) or path.read_bytes()[:2] == b"PK"
        kind = "holds Python objects, not plain arrays" if numpy_file and "pickle" in str(e) else \
            "is not a NumPy .npz/.npy file"
        raise InputDataError(f"{what} {path} {kind}; save arrays with numpy.savez / numpy.save") from e


def array(arrays: dict[str, np.ndarray], key: str, path, what: str) -> np.ndarray:
    if key not in arrays:
        raise InputDataError(f"{what} {path} has no array `{key}` (it has {', '.join(arrays) or 'none'})")
    return arrays[key]


def float_inputs(x: np.ndarray, where: str) -> np.ndarray:
    """Inputs as float32: uint8 pixels scaled to [0, 1], other numbers as they are; refuses non-numbers and NaN/inf."""
    x = np.asarray(x)
    if x.dtype.kind not in "uif":
        raise InputDataError(f"{where}: inputs are {x.dtype}; give numbers (floats, or uint8 pixels 0..255)")
    if x.size == 0:
        raise InputDataError(f"{where}: no inputs (shape {list(x.shape)})")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        samples = np.unique(np.nonzero(bad.reshape(len(x), -1))[0]) if x.ndim > 1 else np.flatnonzero(bad)
        raise InputDataError(f"{where}: {int(bad.sum())} values are NaN or infinite (in sample(s) "
                             f"{', '.join(map(str, samples[:5]))}{' ...' if len(samples) > 5 else ''}); remove them")
    return x


def unit_range(x: np.ndarray, where: str) -> np.ndarray:
    """Floats that must lie in [0, 1] (attacks and defenses work in that box) are refused otherwise."""
    if x.size and (x.min() < 0 or x.max() > 1):
        raise InputDataError(f"{where}: values range over [{x.min():g}, {x.max():g}]; give floats in [0, 1] "
                             "(pixels 0..255: divide by 255, or pass them as uint8)")
    return x


def distinct(out: Path, option: str, **inputs) -> None:
    """An output must not be one of the command's own input files (it would be overwritten)."""
    for name, path in inputs.items():
        if path is not None and Path(path).exists() and Path(out).exists() and Path(out).samefile(path):
            raise UsageError(f"{option} {out} is the {name} file itself; writing there would destroy it: "
                             "give another name")


def to_layout(x: np.ndarray, hwc: tuple[int, ...], layout: str, where: str, log=None) -> np.ndarray:
    """A batch `x` whose samples are `hwc` (height, width, channels) in NHWC or NCHW, in `layout` ("nhwc" or
    "nchw"); other ranks pass when their sample shape is `hwc` itself."""
    x = np.asarray(x)
    hwc = tuple(hwc)
    chw = (hwc[2], hwc[0], hwc[1]) if len(hwc) == 3 else None
    sample = tuple(x.shape[1:])
    if sample == hwc and (chw is None or sample != chw or layout == "nhwc"):
        got = "nhwc"
    elif chw is not None and sample == chw:
        got = "nchw"
    else:
        want = f"[N, {', '.join(map(str, hwc))}] (NHWC)" + (f" or [N, {', '.join(map(str, chw))}] (NCHW)" if chw else "")
        raise InputDataError(f"{where}: samples have shape {list(sample)}; the model takes {want}")
    if got == layout or chw is None:
        return x
    if log is not None:
        log(f"{where}: {got.upper()} inputs, turned into {layout.upper()} for the model")
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1) if layout == "nhwc" else x.transpose(0, 3, 1, 2))


def class_labels(y: np.ndarray, n: int, classes: int | None, where: str) -> np.ndarray:
    """Labels as int64 class indices [n]: from indices or one-hot rows, checked against the sample count and
    (given) the number of classes."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        if classes is not None and y.shape[1] != classes:
            raise InputDataError(f"{where}: one-hot labels have {y.shape[1]} columns but the model has {classes} "
                                 "classes")
        if not (np.isin(y, (0, 1)).all() and (y.sum(1) == 1).all()):
            raise InputDataError(f"{where}: labels are [{', '.join(map(str, y.shape))}] but not one-hot; "
                                 "give class indices [N]")
        y = y.argmax(1)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or y.dtype.kind not in "uif" or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise InputDataError(f"{where}: labels must be class indices [N] (or one-hot [N, classes]), "
                             f"got {y.dtype}{list(y.shape)}")
    if len(y) != n:
        raise InputDataError(f"{where}: {len(y)} labels for {n} inputs; give one label per input")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise InputDataError(f"{where}: labels range over [{y.min()}, {y.max()}]; class indices start at 0")
    if len(y) and classes is not None and y.max() >= classes:
        raise InputDataError(f"{where}: labels range over [{y.min()}, {y.max()}] but the model has "
                             f"{classes} classes (0..{classes - 1})")
    return y


def positive(value, option: str, *, integer: bool = False, allow_zero: bool = False):
    """`value` (None passes) as a finite number > 0 (>= 0 with allow_zero), else a UsageError naming `option`."""
    if value is None:
        return None
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0) and (not integer or float(value).is_integer())
    if not ok:
        kind = "a whole number" if integer else "a number"
        raise UsageError(f"{option} must be {kind} {'>= 0' if allow_zero else '> 0'}, not {value:g}")
    return int(value) if integer else value


def load_dataset(path: str | os.PathLike, samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An .npz with `x` (inputs: floats in [0, 1], or uint8 pixels read as [0, 1]) and `y` (class indices or
    one-hot rows), its first `samples` (all when None)."""
    arrays = load_arrays(path, "data set")
    x, y = (array(arrays, k, path, "data set") for k in ("x", "y"))
    where = f"data set {path}"
    positive(samples, "--samples", integer=True)
    if samples is not None and samples > len(x):
        raise UsageError(f"--samples {samples}: {where} holds {len(x)}; ask for at most that many (or leave "
                         "--samples out for all)")
    y = class_labels(y, len(x), None, where)
    x = float_inputs(x[:samples], where)
    return x, y[:samples]
