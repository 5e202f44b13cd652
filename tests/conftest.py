"""Session fixtures shared across test folders: the digits MLP, trained, quantized and compiled once per session (the
audit tests' and the CLI-mistake tests' deployed target)."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgeq import api
from edgeq.demo_model import load_digits_split
from edgeq.frontends.tflite import write_tflite
from edgeq.ir import Graph
from tests.digits_mlp import build_digits_mlp
from tests.models import upstream_cmsis_nn


@dataclass
class Deployed:
    project: Path
    tflite: bytes
    graph: Graph
    x: np.ndarray               # float NHWC test images in [0, 1]
    y: np.ndarray


@pytest.fixture(scope="session")
def digits(tmp_path_factory) -> Deployed:
    out = tmp_path_factory.mktemp("digits")
    data = load_digits_split()
    graph, _ = build_digits_mlp(data)
    model = out / "digits_int8.tflite"
    model.write_bytes(write_tflite(graph))
    api.compile_model(model, "cortex-m4", out / "m4")
    return Deployed(out / "m4", model.read_bytes(), graph, data.x_test, data.y_test)


@pytest.fixture
def upstream(monkeypatch):
    """Build against current upstream CMSIS-NN for this test (CMSIS_NN_PATH); skips without ../shared."""
    monkeypatch.setenv("CMSIS_NN_PATH", str(upstream_cmsis_nn()))
