"""Fixtures the PyTorch-to-device tests share."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """64 one-channel 8x8 images in [0, 1] (NCHW): calibration and device inputs for the small traced nets."""
    return np.random.default_rng(0).uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
