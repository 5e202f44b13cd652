"""The audit's chunks on a Ray cluster (`edgeq audit --ray [ADDRESS]`, extra `edgeq[scale]`).

Each chunk of each attack run is a Ray task of one CPU: the worker builds what the chunk is crafted on (the
white-box estimator, or the device estimator of a black-box target: fast path and emulator re-checks, which
run in the task) from the factories the driver hands it, crafts the chunk with audit.craft_chunk (seeded by
run and chunk, so where it runs changes nothing), re-checks what its fast path answered, and returns the
examples with its query counts. The driver takes the results in order, saves each through the same resumable
store, and adds the counts to its own estimators: the report is the one an in-process audit writes.

Without an address ("local") a cluster is started on this machine's loopback for the audit and stopped after
it; with one, the audit joins that cluster, whose nodes must see the project folders and data at the same paths
and have edgeq installed."""
from __future__ import annotations

import os
import socket
import sys

import numpy as np

from edgeq.errors import UsageError

from .audit import ChunkJob, craft_chunk

_BUILT: dict = {}                    # per worker process: estimators built from factories, by object id


def _built(key: str, factory):
    if key not in _BUILT:
        _BUILT[key] = factory()
    return _BUILT[key]


def _chunk(job: ChunkJob, factory_id: str, factory, x: np.ndarray, y: np.ndarray, start: int):
    """One chunk in a worker: (examples, query counts of the device estimator it queried, or None)."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)         # one CPU per task
    if job.target is None:
        return craft_chunk(job, _built(factory_id, factory), x, y, start), None
    device = _built(factory_id, factory)
    before = device.counts.as_dict()
    x_adv = craft_chunk(job, device, x, y, start)
    device.verify()
    after = device.counts.as_dict()
    return x_adv, {k: after[k] - before[k] for k in after}


def _check_reachable(address: str) -> None:
    """A cluster address (host:port, or ray://host:port) that nothing answers at is refused at once: Ray itself
    retries for minutes, printing warnings."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--ray {address}: give a cluster address as host:port (e.g. 10.0.0.5:6379), or --ray alone "
                         "for a local cluster")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise UsageError(f"--ray {address}: no Ray cluster answers there ({e.strerror or e}); start one with "
                         "`ray start --head`, or give --ray alone for a local cluster") from None


class Ray:
    """An audit engine (see audit.InProcess) whose chunks are Ray tasks. `crafters`: {crafter key: function
    building the white-box estimator}; `devices`: {variant: function building its DeviceEstimator};
    `estimators`: {variant: the driver's DeviceEstimator}, whose counts take the workers' queries."""

    def __init__(self, address: str, crafters: dict, devices: dict, estimators: dict, log=print):
        try:
            import ray
        except ImportError:
            raise UsageError("--ray needs Ray: pip install 'edgeq[scale]'") from None
        self.ray, self.estimators = ray, estimators
        self._started = not ray.is_initialized()
        if self._started:
            local = address in (None, "local")
            if not local and address != "auto":            # "auto": the cluster `ray start` left running here
                _check_reachable(address)
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            try:
                ray.init(address=None if local else address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False, **({"_node_ip_address": "127.0.0.1"} if local else {}))
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise UsageError(f"--ray {address}: cannot {'start' if local else 'join'} a Ray cluster: "
                                 f"{str(e).splitlines()[0]}") from e
        cpus = int(ray.cluster_resources().get("CPU", 0))
        how = ("started a local cluster" if address in (None, "local") else f"joined {address}") if self._started \
            else "the Ray cluster this process already runs on"
        log(f"Ray: {how}, {cpus} CPUs")
        self._task = ray.remote(num_cpus=1, max_retries=0)(_chunk)
        self._factories = {**{f"crafter:{k}": ray.put(f) for k, f in crafters.items()},
                           **{f"device:{k}": ray.put(f) for k, f in devices.items()}}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._started:
            self.ray.shutdown()

    def chunks(self, job: ChunkJob, x, y, slices):
        """Every chunk submitted at once; results yielded in sample order. Closing the generator (a budget spent,
        an error) cancels the tasks still pending."""
        key = f"device:{job.target}" if job.target is not None else f"crafter:{job.crafter}"
        factory = self._factories[key]
        pending = [(s, self._task.remote(job, factory.hex(), factory, x[s], y[s], s.start)) for s in slices]
        try:
            for s, ref in pending:
                try:
                    x_adv, counts = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as e:
                    raise e.as_instanceof_cause() from None
                if counts:
                    self.estimators[job.target].counts.add(counts)
                yield s, x_adv
        finally:
            for _, ref in pending:
                self.ray.cancel(ref, force=True)
