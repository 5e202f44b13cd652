"""The audit on a real local Ray cluster (2 CPUs, loopback): the same report, number for number, as the
in-process audit with the same seed (white-box and black-box runs, chunked, re-checks included); only the
wall-clock fields differ."""
import json

import numpy as np
import pytest

from edgeq import api

pytest.importorskip("ray")
pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]

TIMING = {"elapsed_s", "total_s", "emulator_wall_s", "emulator_inferences_per_s"}


def _audit(digits, out, ray):
    x = (np.floor(digits.x[:12] * 255 + 0.5) / 255).astype(np.float32)
    api.audit({"int8": digits.project}, x, digits.y[:12], preset="quick", attacks="pgd_linf,square_linf",
              overrides={"pgd_linf": {"eps": [0.05, 0.2]}}, out_dir=out, chunk=4, recheck_rate=0.25, ray=ray,
              log=lambda s: None)
    return json.loads((out / "report.json").read_text())


def _numbers(report):
    """The report without its wall-clock figures."""
    if isinstance(report, dict):
        return {k: _numbers(v) for k, v in report.items() if k not in TIMING}
    if isinstance(report, list):
        return [_numbers(v) for v in report]
    return report


def test_ray_report_equals_in_process(digits, tmp_path):
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1")
    try:
        assert int(ray.cluster_resources()["CPU"]) == 2
        distributed = _audit(digits, tmp_path / "ray", "local")
    finally:
        ray.shutdown()
    here = _audit(digits, tmp_path / "here", None)
    assert _numbers(distributed) == _numbers(here)
    assert here["variants"]["int8"]["queries"]["rechecked"] > 0          # the workers' re-checks were counted
    runs = {r["key"]: r for r in here["runs"]}
    assert runs["square_linf[int8]"]["queries"] > 0 and runs["square_linf[int8]"]["samples_done"] == 12
