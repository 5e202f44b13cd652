"""The graph: named tensors and a topologically ordered list of ops."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .ops import OpKind
from .types import DType, QParams


@dataclass(eq=False)
class Tensor:
    """A value in the graph. `data` is set for constants (weights, biases); activations have none. A `variable`
    (SVDF's state, an LSTM's hidden and cell states) is an op's memory: no data, at its zero point (real 0) when the
    model starts, rewritten in place by the op that reads it and kept from one invocation to the next (TFLite's
    is_variable tensors)."""

    name: str
    shape: tuple[int, ...]
    dtype: DType
    qparams: QParams | None = None
    data: np.ndarray | None = None
    variable: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes on the device."""
        return self.dtype.nbytes(self.size)


def sample_shape(shape) -> tuple[int, ...]:
    """One sample of a model tensor where samples are stacked on a leading axis (the reference executor, `edgeq
    run`): a batch-1 tensor [1, *rest] is taken and given as rest, any other shape whole."""
    shape = tuple(shape)
    return shape[1:] if shape[:1] == (1,) else shape


@dataclass(eq=False)
class Op:
    """One operation. `inputs` may hold None for an absent optional input (a conv without bias)."""

    kind: OpKind
    inputs: list[str | None]
    outputs: list[str]
    attrs: object
    name: str = ""

    def where(self, index: int) -> str:
        """How error messages name this op: its position and kind."""
        return f"op {index} ({self.kind.value}{', ' + self.name if self.name else ''})"


@dataclass(eq=False)
class Graph:
    tensors: dict[str, Tensor]
    ops: list[Op]
    inputs: list[str]
    outputs: list[str]
    source: str = "<memory>"                   # the file it came from, for error messages
    metadata: dict = field(default_factory=dict)

    def t(self, name: str | None) -> Tensor | None:
        return None if name is None else self.tensors[name]

    def macs(self, op: Op) -> int:
        """Multiply-accumulates of a weighted op per inference: each output value sums its filter's taps, kh x kw
        x input depth for CONV_2D, kh x kw for DEPTHWISE_CONV_2D, the input depth for FULLY_CONNECTED; each input value
        of a TRANSPOSE_CONV reaches kh x kw x output depth."""
        w, out = self.tensors[op.inputs[1]], self.tensors[op.outputs[0]]
        if op.kind is OpKind.TRANSPOSE_CONV:
            return self.tensors[op.inputs[0]].size * int(np.prod(w.shape[:3]))
        taps = w.shape[1:3] if op.kind is OpKind.DEPTHWISE_CONV_2D else w.shape[1:]    # [1,H,W,C] vs [O,...]
        return out.size * int(np.prod(taps))

    def producers(self) -> dict[str, int]:
        return {o: i for i, op in enumerate(self.ops) for o in op.outputs}

    def consumers(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            for name in op.inputs:
                if name is not None:
                    out.setdefault(name, []).append(i)
        return out

    def activations(self) -> list[Tensor]:
        """Non-constant tensors, in order of first appearance."""
        seen: dict[str, Tensor] = {n: self.tensors[n] for n in self.inputs}
        for op in self.ops:
            for n in op.outputs:
                seen.setdefault(n, self.tensors[n])
        return list(seen.values())
