"""The deployed network as an estimator: queries go to the emulated firmware (the ground truth) or to a bit-exact
fast path, and a random sample of fast-path answers is re-checked on the emulator, so a fast path that drifts from
the device stops the audit instead of silently scoring the wrong network."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from edgeq.errors import EdgeqError

Predict = Callable[[np.ndarray], np.ndarray]
# The share of fast-path answers re-run on the emulator unless told otherwise. QEMU answers a D&G ResNet-8 about 70
# times slower than the fast path (30 vs ~2,000 queries/s, uncounted), so 0.2 % adds ~13 % to an audit's time (2 %
# more than doubled it) and still re-checks ~28 answers per image of a Boundary run (14,000 queries per image).
RECHECK_RATE = 0.002


class FastPathMismatch(EdgeqError):
    """The fast path answered differently from the emulated device on the same input."""


class NonFiniteQuery(EdgeqError):
    """A query held NaN or infinite values: an attack went numerically wrong; the device is never asked."""


@dataclass
class QueryCounts:
    device: int = 0             # inputs the emulator answered for an attack or a score
    fast: int = 0               # inputs the fast path answered
    rechecked: int = 0          # fast-path answers re-run on the emulator and found equal

    def as_dict(self) -> dict:
        return {"device": self.device, "fast": self.fast, "rechecked": self.rechecked}

    def add(self, counts: dict) -> None:
        """Adds counts made elsewhere (as_dict's keys): a Ray worker's queries to the driver's estimator."""
        for key, n in counts.items():
            setattr(self, key, getattr(self, key) + n)


@dataclass
class DeviceEstimator:
    """`predict(x)` for float inputs [N, *input_shape] in [0, 1] (clipped to it) returns the device's class scores.

    device_predict runs the firmware (one emulator boot per call, so calls are batched); fast_predict, when given,
    answers instead and `recheck_rate` of its answers are queued and re-run on the device `recheck_batch` at a
    time (and on `verify()`). Both callables quantize inputs the same way, as the model's input spec says.
    Which answers are re-checked depends on the query alone (a keyed hash of its bytes), not on the order of
    the calls, so an audit split over processes re-checks the same queries as one run in a single process."""
    name: str
    device_predict: Predict
    input_shape: tuple[int, ...]
    nb_classes: int
    fast_predict: Predict | None = None
    recheck_rate: float = RECHECK_RATE
    recheck_batch: int = 256
    seed: int = 0
    counts: QueryCounts = field(default_factory=QueryCounts)

    def __post_init__(self):
        self._pending_x: list[np.ndarray] = []
        self._pending_y: list[np.ndarray] = []
        self._memo: dict[bytes, np.ndarray] | None = None

    @contextlib.contextmanager
    def remembering(self):
        """Within: a query asked again is answered from memory, and counted as asked. ART's Square asks about
        every sample's current example at each of its steps, changed or not (Square L2 on the D&G ResNet-8: 8.4 ->
        1.4 s an image), ZOO about its current example at each (3.1 -> 1.5)."""
        self._memo = {}
        try:
            yield self
        finally:
            self._memo = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32).reshape((-1,) + tuple(self.input_shape))
        if not np.isfinite(x).all():
            raise NonFiniteQuery(f"{self.name}: asked to classify {int((~np.isfinite(x)).sum())} NaN or infinite "
                                 "input values; no device takes those (the attack that made them failed)")
        x = np.clip(x, 0.0, 1.0)            # the box ART attacks work in; some (ZOO) query past it
        keys = self._keys(x)
        if self._memo is None:
            return self._answer(x, keys)
        first = {}
        for i, k in enumerate(keys):
            if k not in self._memo:
                first.setdefault(k, i)
        if first:
            new = np.fromiter(first.values(), np.int64, len(first))
            self._memo.update(zip(first, self._answer(x[new], [keys[i] for i in new])))
        self._count(len(x) - len(first))
        return np.stack([self._memo[k] for k in keys])

    def _count(self, n: int) -> None:
        """n queries asked, answered by the fast path when there is one, else by the device."""
        if self.fast_predict is None:
            self.counts.device += n
        else:
            self.counts.fast += n

    def _answer(self, x: np.ndarray, keys: list[bytes]) -> np.ndarray:
        self._count(len(x))
        if self.fast_predict is None:
            return np.asarray(self.device_predict(x), dtype=np.float32)
        y = np.asarray(self.fast_predict(x), dtype=np.float32)
        picked = np.array([int.from_bytes(k[:8], "little") for k in keys], np.float64) / 2.0**64 < self.recheck_rate
        if picked.any():
            self._pending_x.append(x[picked])
            self._pending_y.append(y[picked])
            if sum(len(p) for p in self._pending_x) >= self.recheck_batch:
                self.verify()
        return y

    def _keys(self, x: np.ndarray) -> list[bytes]:
        """A seeded 16-byte hash of each query's bytes: its memory key, and (its first 8 bytes, with the seed) the
        draw that picks it for a re-check, so that the pick depends on the query alone."""
        import xxhash                       # xxh3: 15x blake2b's speed on 12 KB images (1 ms per 1,024 CIFAR images)
        return [xxhash.xxh3_128_digest(row, seed=self.seed % 2**64) for row in x.reshape(len(x), -1)]

    def verify(self) -> int:
        """Run every queued fast-path answer on the device; raise FastPathMismatch on the first difference.
        Returns how many were checked."""
        if not self._pending_x:
            return 0
        x, y_fast = np.concatenate(self._pending_x), np.concatenate(self._pending_y)
        self._pending_x, self._pending_y = [], []
        y_dev = np.asarray(self.device_predict(x), dtype=np.float32)
        differ = np.flatnonzero(np.any(y_dev.reshape(len(x), -1) != y_fast.reshape(len(x), -1), axis=1))
        if differ.size:
            i = int(differ[0])
            raise FastPathMismatch(
                f"{self.name}: the fast path disagrees with the emulated device on {differ.size} of {len(x)} "
                f"re-checked inputs (first: device {y_dev[i].tolist()} vs fast path {y_fast[i].tolist()}); "
                "its answers cannot stand in for the device")
        self.counts.rechecked += len(x)
        return len(x)

    def art(self):
        """This estimator as an ART black-box classifier over NHWC inputs in [0, 1]."""
        return art_classifier(self.predict, tuple(self.input_shape), self.nb_classes)


def predicted_labels(estimator, x: np.ndarray) -> np.ndarray:
    """An ART estimator's labels of x, asked in one call (the batched attacks' query)."""
    return estimator.predict(np.asarray(x, dtype=np.float32), batch_size=max(len(x), 1)).argmax(axis=1)


def art_classifier(predict: Predict, input_shape: tuple[int, ...], nb_classes: int):
    """An ART black-box classifier over NHWC inputs in [0, 1] that hands `predict` each query array whole. ART's
    own splits it by the attack's batch_size, and ZOO's is 1: 257 one-image calls per step instead of one."""
    from art.estimators.classification import BlackBoxClassifierNeuralNetwork

    class WholeBatch(BlackBoxClassifierNeuralNetwork):
        def predict(self, x, batch_size: int = 128, **kwargs):
            return super().predict(x, batch_size=max(len(x), 1), **kwargs)

    return WholeBatch(predict, input_shape, nb_classes, channels_first=False, clip_values=(0.0, 1.0))
