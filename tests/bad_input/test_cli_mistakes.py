"""A new user's mistakes at the command line: each ends in one line on stderr naming the file or option and what to
do, exit code 2, no traceback, and nothing written that looks valid; inputs that would have given a silently
wrong result are refused or, where the intent is clear (NCHW data, one-hot labels, uint8 pixels), taken as meant."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeq.cli import main
from edgeq.frontends.tflite import read_tflite, write_tflite
from tests.models import MODELS

pytestmark = pytest.mark.toolchain

DIGITS_CNN = Path(__file__).resolve().parents[1] / "digits_cnn.py"


def _fails(capsys, argv: list[str], *fragments: str) -> str:
    """main(argv) exits 2 with one line on stderr holding every fragment (and no traceback)."""
    try:
        rc = main(argv)
    except SystemExit as e:                     # argparse's usage errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2, f"exit {rc} for {argv}: {err}"
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in: {err}"
    return err


USAGE_MISTAKES = ("--flash-kb=0", "--flash-kb=-1", "--flash-kb=nan", "--ram-kb=abc")


@pytest.fixture(scope="module")
def model(tmp_path_factory, digits) -> Path:
    return Path(digits.project) / "model.tflite"


# ---- edgeq compile ----------------------------------------------------------------------------------------------

def test_compile_missing_model_or_folder(tmp_path, capsys):
    _fails(capsys, ["compile", str(tmp_path / "nope.tflite"), "--out", str(tmp_path / "p")], "nope.tflite",
           "does not exist")
    _fails(capsys, ["compile", str(tmp_path), "--out", str(tmp_path / "p")], "is a folder")
    assert not (tmp_path / "p").exists()


def test_compile_out_is_a_file_or_under_one(tmp_path, capsys, model):
    (tmp_path / "f").write_text("mine")
    _fails(capsys, ["compile", str(model), "--out", str(tmp_path / "f")], "--out", "is a file")
    _fails(capsys, ["compile", str(model), "--out", str(tmp_path / "f" / "p")], "is a file")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("keep")
    _fails(capsys, ["compile", str(model), "--out", str(tmp_path / "notes")], "not an edgeq project")
    assert (tmp_path / "f").read_text() == "mine" and (tmp_path / "notes" / "a.txt").read_text() == "keep"


@pytest.mark.parametrize("flag", USAGE_MISTAKES)
def test_compile_budget_must_be_positive(tmp_path, capsys, model, flag):
    _fails(capsys, ["compile", str(model), "--out", str(tmp_path / "p"), flag], flag.split("=")[0])


def test_compile_budgets_count_the_whole_firmware(tmp_path, capsys, model):
    """--flash-kb prices code as well as weights (the digits firmware is ~20 KB, its weights ~2 KB), --ram-kb the
    data, arena and stack; a budget that fits gets a firmware whose stack takes the RAM left."""
    err = _fails(capsys, ["compile", str(model), "--out", str(tmp_path / "p"), "--flash-kb", "5"],
                 "flash", "short", "code")
    assert not (tmp_path / "p").exists() and list(tmp_path.iterdir()) == [], err
    _fails(capsys, ["compile", str(model), "--out", str(tmp_path / "p"), "--ram-kb", "2"], "RAM", "stack", "short")
    assert main(["compile", str(model), "--out", str(tmp_path / "p"), "--ram-kb", "8", "--flash-kb", "64"]) == 0
    totals = json.loads((tmp_path / "p" / "report.json").read_text())["totals"]
    assert totals["static_ram_bytes"] <= 8 * 1024 and totals["stack_reserved_bytes"] >= 2048
    assert totals["flash_bytes"] <= 64 * 1024


# ---- edgeq run ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory, model) -> Path:
    out = tmp_path_factory.mktemp("proj") / "m4"
    assert main(["compile", str(model), "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("bad, fragments", [
    (np.full((2, 8, 8, 1), np.nan, np.float32), ("NaN",)),
    (np.array([[[[np.inf]]]] * 64, np.float32).reshape(1, 8, 8, 1), ("infinite",)),
    (np.ones((2, 8, 8, 1), bool), ("bool",)),
    (np.ones((2, 8, 8, 1), np.complex64), ("complex",)),
    (np.full((2, 8, 8, 1), 200.0, np.float32), ("divide by 255",)),          # 0..255 floats, [0, 1] model
    (np.zeros((2, 5, 5), np.float32), ("shape",)),
    (np.zeros((0, 8, 8, 1), np.float32), ("no inputs",)),
])
def test_run_refuses_inputs_it_would_get_wrong(tmp_path, capsys, project, bad, fragments):
    np.save(tmp_path / "x.npy", bad)
    _fails(capsys, ["run", str(project), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")],
           "inputs", *fragments)
    assert not (tmp_path / "y.npy").exists()


def test_run_file_mistakes(tmp_path, capsys, project):
    out = ["--out", str(tmp_path / "y.npy")]
    _fails(capsys, ["run", str(project), "--inputs", str(tmp_path / "x.npy")] + out, "x.npy", "does not exist")
    (tmp_path / "junk.npy").write_text("not numpy")
    _fails(capsys, ["run", str(project), "--inputs", str(tmp_path / "junk.npy")] + out, "junk.npy", "NumPy")
    np.savez(tmp_path / "w.npz", inputs=np.zeros((1, 8, 8, 1), np.float32))
    _fails(capsys, ["run", str(project), "--inputs", str(tmp_path / "w.npz")] + out, "w.npz", "`x`")
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8, 1), np.float32))
    _fails(capsys, ["run", str(project), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path)], "folder")
    _fails(capsys, ["run", str(tmp_path / "x.npy"), "--inputs", str(tmp_path / "x.npy")] + out, "is a file")


def test_run_writes_numpy_files_outside_the_project(tmp_path, capsys, project):
    """edgeq run's --out is an .npy or .npz outside the project it runs (where it would overwrite report.json or the
    ELF, and every later run would fail)."""
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8, 1), np.float32))
    copy = tmp_path / "proj"
    shutil.copytree(project, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    for out, fragment in ((copy / "report.json", "inside the project"), (copy / "y.npy", "inside the project"),
                          (tmp_path / "y.txt", ".npy or .npz")):
        _fails(capsys, ["run", str(copy), "--inputs", str(tmp_path / "x.npy"), "--out", str(out)], "--out", fragment)
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()} == before


def test_a_pytorch_model_runs_from_an_npy(quantize_files, tmp_path):
    """A model quantized from PyTorch names its input `x` (forward(self, x)), the name an .npy's array takes:
    edgeq run takes the .npy (it was refused as if the model had several inputs)."""
    d, data = quantize_files
    assert main(_quantize(d, **{"--out": tmp_path / "net.tflite"})) == 0
    assert read_tflite(tmp_path / "net.tflite").inputs == ["x"]
    assert main(["compile", str(tmp_path / "net.tflite"), "--out", str(tmp_path / "m4")]) == 0
    np.save(tmp_path / "x.npy", data.x_train[:3].transpose(0, 3, 1, 2))
    assert main(["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (3, 10)


def test_a_two_input_model_wants_an_npz_and_is_no_classifier(tmp_path, capsys):
    """edgeq run refuses an .npy naming the inputs; edgeq audit refuses the project before reading any data."""
    model = tmp_path / "two.tflite"
    model.write_bytes(write_tflite(MODELS["int8_two_io"]()))
    assert main(["compile", str(model), "--out", str(tmp_path / "m4")]) == 0
    np.save(tmp_path / "x.npy", np.zeros((2, 6, 6, 4), np.int8))
    _fails(capsys, ["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "x.npy"), "--out",
                    str(tmp_path / "y.npz")], "x.npy", "2 inputs (input1, input2)", "give an .npz")
    _fails(capsys, ["audit", str(tmp_path / "m4"), "--data", str(tmp_path / "absent.npz"), "--out",
                    str(tmp_path / "audit")], "m4 has 2 inputs and 2 outputs", "classifiers")


def test_copied_and_moved_projects_run_their_own_files(tmp_path, project, digits):
    """A copy runs its own ELF and model: the original is rebuilt for another model, then removed."""
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(project, copy)
    x = digits.x[:4]
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(copy), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 0
    expected = np.load(tmp_path / "y.npy")
    moved = tmp_path / "moved"
    shutil.move(copy, moved)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path / "elsewhere")
        assert main(["run", str(moved), "--inputs", str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.npy")]) == 0
    finally:
        os.chdir(cwd)
    assert np.array_equal(np.load(tmp_path / "z.npy"), expected)
    report = json.loads((moved / "report.json").read_text())
    assert report["model"] == "model.tflite" and report["elf"] == "edgeq.elf"
    assert (moved / "model.tflite").read_bytes() == digits.tflite


# ---- edgeq quantize -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quantize_files(tmp_path_factory):
    from tests.digits_cnn import trained_digits_cnn
    d = tmp_path_factory.mktemp("q")
    net, data = trained_digits_cnn()
    torch.save(net.state_dict(), d / "net.pt")
    torch.save(net, d / "whole.pt")
    np.savez(d / "calib.npz", x=data.x_train[:64].transpose(0, 3, 1, 2), y=data.y_train[:64])
    return d, data


def _quantize(d: Path, **changes) -> list[str]:
    args = {"model": f"{DIGITS_CNN}:DigitsCNN", "--weights": str(d / "net.pt"), "--calib": str(d / "calib.npz"),
            "--policy": "int8", "--out": str(d / "out" / "net.tflite")} | changes
    model = args.pop("model")
    return ["quantize", model] + [str(v) for kv in args.items() if kv[1] is not None for v in kv]


def test_quantize_file_mistakes(capsys, quantize_files, tmp_path):
    d, _ = quantize_files
    _fails(capsys, _quantize(d, model=f"{tmp_path}/none.py:Net"), "none.py", "does not exist")
    _fails(capsys, _quantize(d, model=f"{DIGITS_CNN}:Nope"), "Nope", "DigitsCNN")
    (tmp_path / "needs.py").write_text("import torch\nclass Net(torch.nn.Module):\n"
                                       "    def __init__(self, width):\n        super().__init__()\n")
    _fails(capsys, _quantize(d, model=f"{tmp_path / 'needs.py'}:Net"), "without arguments")
    _fails(capsys, _quantize(d, **{"--weights": tmp_path / "w.pt"}), "w.pt", "does not exist")
    (tmp_path / "junk.pt").write_text("junk")
    _fails(capsys, _quantize(d, **{"--weights": tmp_path / "junk.pt"}), "junk.pt", "torch.save")
    _fails(capsys, _quantize(d, **{"--calib": tmp_path}), "is a folder")
    _fails(capsys, _quantize(d, **{"--calib": tmp_path / "none.npz"}), "none.npz", "does not exist")
    np.savez(tmp_path / "nox.npz", images=np.zeros((4, 1, 8, 8), np.float32))
    _fails(capsys, _quantize(d, **{"--calib": tmp_path / "nox.npz"}), "nox.npz", "`x`")
    _fails(capsys, _quantize(d, **{"--qat-epochs": -2}), "--qat-epochs")
    _fails(capsys, _quantize(d, **{"--out": d / "calib.npz" / "net.tflite"}), "is a file")
    assert not (d / "out").exists()


def test_a_whole_module_whose_class_cannot_be_imported(capsys, quantize_files, tmp_path, monkeypatch):
    """torch.save(model) stores the class by import path: where it cannot be imported the error says how to fix it
    (it said the file was not saved with torch.save)."""
    d, _ = quantize_files
    (tmp_path / "netmod.py").write_text("import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
                                        "        super().__init__()\n        self.fc = torch.nn.Linear(64, 10)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import netmod
    torch.save(netmod.Net(), tmp_path / "whole.pt")
    monkeypatch.delitem(sys.modules, "netmod")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    _fails(capsys, _quantize(d, model=str(tmp_path / "whole.pt"), **{"--weights": None}), "whole.pt",
           "No module named 'netmod'", "PYTHONPATH", "file.py:Class")


def test_quantize_refuses_constant_calibration(capsys, quantize_files, tmp_path):
    d, _ = quantize_files
    np.savez(tmp_path / "zeros.npz", x=np.zeros((16, 1, 8, 8), np.float32))
    _fails(capsys, _quantize(d, **{"--calib": tmp_path / "zeros.npz", "--out": tmp_path / "z.tflite"}),
           "calibration data", "every value is 0")
    assert not (tmp_path / "z.tflite").exists()


@pytest.mark.parametrize("poison, fragment", [(np.nan, "NaN"), (np.inf, "infinite")])
def test_quantize_refuses_non_finite_calibration(capsys, quantize_files, tmp_path, poison, fragment):
    d, data = quantize_files
    x = data.x_train[:64].transpose(0, 3, 1, 2).copy()
    x[3, 0, 2, 2] = poison
    np.savez(tmp_path / "calib.npz", x=x)
    _fails(capsys, _quantize(d, **{"--calib": tmp_path / "calib.npz", "--out": tmp_path / "n.tflite"}),
           "calibration data", fragment, "sample(s) 3")
    assert not (tmp_path / "n.tflite").exists()


def test_quantize_takes_uint8_pixels_and_nhwc_as_meant(quantize_files, tmp_path):
    """uint8 calibration pixels are read as [0, 1] (input scale 1/255, not 1.0), NHWC data for an NCHW model is
    turned, and the result is the model quantized from the same data as float NCHW."""
    d, data = quantize_files
    pixels = np.round(data.x_train[:64] * 255).astype(np.uint8)                  # NHWC uint8
    np.savez(tmp_path / "u8.npz", x=pixels)
    np.savez(tmp_path / "f.npz", x=(pixels / np.float32(255)).transpose(0, 3, 1, 2))
    for name in ("u8", "f"):
        assert main(_quantize(d, **{"--calib": tmp_path / f"{name}.npz", "--out": tmp_path / f"{name}.tflite"})) == 0
    u8, f = (read_tflite(tmp_path / f"{name}.tflite") for name in ("u8", "f"))
    assert abs(float(u8.tensors[u8.inputs[0]].qparams.scale[0]) - 1 / 255) < 1e-6
    for name, t in u8.tensors.items():       # the same model, up to float summation order in torch's threads
        if t.qparams is not None:
            np.testing.assert_allclose(t.qparams.scale, f.tensors[name].qparams.scale, rtol=1e-5)


# ---- edgeq audit --------------------------------------------------------------------------------------------------

def _audit(project: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["audit", f"int8={project}", "--data", str(data), "--attacks", "pgd_linf", "--params",
            '{"pgd_linf": {"eps": [0.1]}}', "--samples", "8", "--out", str(out), *extra]


@pytest.fixture(scope="module")
def audit_data(tmp_path_factory, digits) -> Path:
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    np.savez(path, x=digits.x[:16], y=digits.y[:16])
    return path


@pytest.mark.parametrize("extra, fragments", [
    (("--samples", "-3"), ("--samples",)),
    (("--samples", "100000"), ("--samples 100000", "digits.npz", "holds 16")),
    (("--chunk", "0"), ("--chunk",)),
    (("--budget-s", "0"), ("--budget-s",)),
    (("--recheck", "0"), ("--recheck",)),
    (("--ray", "127.0.0.1:1"), ("--ray 127.0.0.1:1", "no Ray cluster")),
    (("--ray", "nonsense"), ("--ray nonsense", "host:port")),
    (("--params", '{"pgd_linf": {"epss": 1}}'), ("epss", "eps_step")),
    (("--params", "{pgd_linf: 1}"), ("--params", "JSON")),
    (("--params", '{"pgd_linf": {"eps": -1}}'), ("pgd_linf.eps",)),
    (("--attacks", "geoda", "--params", '{"geoda": {"max_iter": 100}}'), ("geoda.max_iter 100", "455")),
    (("--attacks", "geoda", "--params", '{"geoda": {"max_iter": 280}}'), ("geoda.max_iter 280",)),  # ART: recursion
])
def test_audit_option_mistakes(capsys, project, audit_data, tmp_path, extra, fragments):
    _fails(capsys, _audit(project, audit_data, tmp_path / "a", *extra), *fragments)
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("x, y, fragments", [
    (np.zeros((16, 8, 8, 1), np.float32), np.full(16, 10), ("labels", "10 classes")),
    (np.zeros((16, 8, 8, 1), np.float32), np.zeros(15, int), ("15 labels for 16 inputs",)),
    (np.zeros((16, 8, 8, 1), np.float32), np.full((16, 10), 0.5), ("not one-hot",)),
    (np.zeros((16, 8, 8, 3), np.float32), np.zeros(16, int), ("[8, 8, 3]", "NHWC")),
    (np.full((16, 8, 8, 1), 255.0, np.float32), np.zeros(16, int), ("[0, 1]",)),
])
def test_audit_data_checked_before_any_attack(capsys, project, tmp_path, x, y, fragments):
    np.savez(tmp_path / "d.npz", x=x, y=y)
    _fails(capsys, _audit(project, tmp_path / "d.npz", tmp_path / "a"), *fragments)
    assert not (tmp_path / "a").exists()


def test_audit_project_and_float_model_mistakes(capsys, project, audit_data, quantize_files, tmp_path):
    other = tmp_path / "x" / project.name
    shutil.copytree(project, other)
    _fails(capsys, ["audit", str(project), str(other), "--data", str(audit_data), "--out", str(tmp_path / "a")],
           "two projects are named", "a=")
    d, _ = quantize_files
    _fails(capsys, _audit(project, audit_data, tmp_path / "a", "--float-model", str(d / "net.pt")),
           "state_dict", "--weights")
    (tmp_path / "junk.pt").write_text("junk")
    _fails(capsys, _audit(project, audit_data, tmp_path / "a", "--float-model", str(tmp_path / "junk.pt")),
           "junk.pt", "torch.save")
    _fails(capsys, _audit(project, audit_data, tmp_path / "a", "--float-model", str(tmp_path / "none.pt")),
           "none.pt", "does not exist")
    _fails(capsys, _audit(project, audit_data, tmp_path / "a", "--float-model", str(d / "whole.pt"),
                          "--float-outputs", "probabilities"), "whole.pt", "--float-outputs", "logits")
    assert not (tmp_path / "a").exists()


def test_audit_takes_nchw_one_hot_data_and_a_moved_project(project, digits, tmp_path):
    """NCHW data and one-hot labels are taken as meant; a project moved elsewhere audits with its own model,
    from another working directory, with the float model given as file.py:Class --weights."""
    moved = tmp_path / "moved" / "m4"
    shutil.copytree(project, moved)
    np.savez(tmp_path / "d.npz", x=digits.x[:16].transpose(0, 3, 1, 2), y=np.eye(10)[digits.y[:16]])
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path / "moved")
        assert main(_audit(Path("m4"), tmp_path / "d.npz", tmp_path / "a")) == 0
    finally:
        os.chdir(cwd)
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["samples"] == 8 and report["runs"][0]["status"] == "complete"


def test_debug_shows_the_traceback(tmp_path):
    """EDGEQ_DEBUG=1: the same one-line error, after the traceback."""
    env = {**os.environ, "EDGEQ_DEBUG": "1"}
    proc = subprocess.run([sys.executable, "-m", "edgeq.cli", "compile", str(tmp_path / "no.tflite"), "--out",
                           str(tmp_path / "p")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("edgeq compile: error:")


# ---- mistakes that would have destroyed files or given silent wrong results --------------------------------------

def test_outputs_never_overwrite_inputs_or_projects(tmp_path, capsys, project, digits, quantize_files, audit_data):
    x = tmp_path / "x.npy"
    np.save(x, digits.x[:2])
    _fails(capsys, ["run", str(project), "--inputs", str(x), "--out", str(x)], "--out", "inputs file itself")
    assert np.load(x).dtype == np.float32
    d, _ = quantize_files
    _fails(capsys, _quantize(d, **{"--out": d / "net.pt"}), "--out", "weights file itself")
    source = tmp_path / "net.py"
    shutil.copy(DIGITS_CNN, source)
    _fails(capsys, _quantize(d, model=f"{source}:DigitsCNN", **{"--out": source}), "--out", "model file itself")
    assert source.read_bytes() == DIGITS_CNN.read_bytes()
    copy = tmp_path / "proj"
    shutil.copytree(project, copy)
    _fails(capsys, _audit(copy, audit_data, copy), "--out", "not an edgeq audit")
    assert json.loads((copy / "report.json").read_text())["model"] == "model.tflite"


def test_a_class_needs_its_weights_and_a_swapped_model_is_caught(tmp_path, capsys, project, audit_data,
                                                                  quantize_files):
    d, _ = quantize_files
    _fails(capsys, _quantize(d, **{"--weights": None}), "--weights", "random weights")
    moved = tmp_path / "p"
    shutil.copytree(project, moved)
    (moved / "model.tflite").write_bytes((moved / "model.tflite").read_bytes()[:-4] + b"\0\0\0\0")
    _fails(capsys, _audit(moved, audit_data, tmp_path / "a"), "model.tflite", "changed since")
    assert not (tmp_path / "a").exists()
    shutil.rmtree(moved)
    shutil.copytree(project, moved)
    (moved / "edgeq.elf").write_text("junk")
    _fails(capsys, _audit(moved, audit_data, tmp_path / "a"), "firmware cannot be read", "edgeq compile")
    assert not (tmp_path / "a").exists()


def test_params_for_an_attack_not_run_are_named(capsys, project, audit_data, tmp_path):
    """--params for an attack --attacks leaves out is said to be unused (it was silent)."""
    argv = _audit(project, audit_data, tmp_path / "a")
    argv[argv.index("--params") + 1] = '{"pgd_linf": {"eps": [0.1]}, "boundary": {"max_iter": 5}}'
    assert main(argv) == 0
    assert "--params sets boundary, which --attacks leaves out" in capsys.readouterr().out


def test_attack_counts_must_be_whole_numbers(capsys, project, audit_data, tmp_path):
    _fails(capsys, _audit(project, audit_data, tmp_path / "a", "--params", '{"pgd_linf": {"max_iter": 0}}'),
           "pgd_linf.max_iter", "whole number")
    assert not (tmp_path / "a").exists()


def test_raw_pixel_models_take_uint8_as_they_are(tmp_path, capsys):
    """MLPerf Tiny's int8 ResNet takes 0..255 pixels (scale 1.0): uint8 pixels go in as they are, and floats in
    [0, 1] are refused rather than run at chance."""
    from tests.models import cifar, oracle, shared_model
    model = shared_model("mlperf_tiny/ic_resnet8_int8.tflite")
    assert main(["compile", str(model), "--out", str(tmp_path / "m4")]) == 0
    pixels = cifar(2)[0].astype(np.uint8)
    np.save(tmp_path / "u8.npy", pixels)
    assert main(["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "u8.npy"), "--out", str(tmp_path / "y.npy")]) == 0
    expected = oracle(model.read_bytes(), [(pixels.astype(np.int16) - 128).astype(np.int8)])[0]
    assert np.array_equal(np.load(tmp_path / "y.npy"), expected)
    np.save(tmp_path / "f.npy", pixels / np.float32(255))
    capsys.readouterr()
    _fails(capsys, ["run", str(tmp_path / "m4"), "--inputs", str(tmp_path / "f.npy"), "--out", str(tmp_path / "z.npy")],
           "0..255")
