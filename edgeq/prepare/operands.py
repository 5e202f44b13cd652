"""Typed access to one op's tensors for the prepare functions, and the errors that name the op and tensor."""
from __future__ import annotations

from typing import NoReturn

import numpy as np

from ..errors import UnsupportedModelError
from ..ir import ACTIVATION_TYPES, DType, Graph, Op, QParams, Tensor


class Operands:
    """One op seen from its prepare function: its tensors, their quantization, and how to refuse it."""

    def __init__(self, graph: Graph, op: Op):
        self.graph, self.op = graph, op
        self.index = next(i for i, o in enumerate(graph.ops) if o is op)

    def fail(self, message: str, tensor: Tensor | None = None) -> NoReturn:
        where = f"{self.graph.source}: {self.op.where(self.index)}"
        raise UnsupportedModelError(f"{where}: {message}" + (f" (tensor {tensor.name!r})" if tensor else ""))

    def input(self, i: int) -> Tensor | None:
        """The i-th input, None when absent (an optional bias)."""
        return self.graph.t(self.op.inputs[i]) if i < len(self.op.inputs) else None

    @property
    def output(self) -> Tensor:
        return self.graph.tensors[self.op.outputs[0]]

    def qparams(self, t: Tensor) -> QParams:
        if t.qparams is None:
            self.fail("tensor has no quantization parameters", t)
        return t.qparams

    def per_tensor(self, t: Tensor) -> tuple[float, int]:
        """(scale, zero point) of a per-tensor quantized tensor; the scale stays the float32 value as a double."""
        q = self.qparams(t)
        if q.per_channel:
            self.fail("per-channel quantization is not supported here", t)
        return float(q.scale[0]), q.zp

    def require_dtype(self, t: Tensor, *allowed: DType):
        if t.dtype not in allowed:
            self.fail(f"{t.dtype.value} is not supported here (expected {'/'.join(d.value for d in allowed)})", t)

    def require_zero_point(self, t: Tensor, zp: int, why: str):
        q = self.qparams(t)
        if (q.zero_point != zp).any():
            self.fail(f"zero point must be {zp} ({why})", t)

    def require_same_quantization(self, a: Tensor, b: Tensor):
        """Pass-through ops (pooling, reshape) move integers unchanged, so in and out must mean the same."""
        if self.per_tensor(a) != self.per_tensor(b):
            self.fail(f"input and output quantization differ ({a.name!r} vs {b.name!r})", b)

    def activation_dtype(self) -> DType:
        """The op's integer activation type (int8 or int16); input and output must agree."""
        x, y = self.input(0), self.output
        self.require_dtype(x, *ACTIVATION_TYPES)
        if y.dtype is not x.dtype:
            self.fail(f"input is {x.dtype.value} but output is {y.dtype.value}", y)
        if x.dtype is DType.INT16:
            # TFLite's 16x8 scheme is symmetric; the int16 kernels (TFLM reference and CMSIS-NN alike) ignore
            # zero points, so a nonzero one would silently compute something else.
            for t in (x, y):
                self.require_zero_point(t, 0, "int16 activations are symmetric")
        return x.dtype

    def elementwise_pair(self) -> tuple[DType, tuple[float, int], tuple[float, int], tuple[float, int]]:
        """ADD, SUB, MUL, MAXIMUM, MINIMUM: two inputs of the op's type whose shapes broadcast to the output's (at
        most 4 axes, as TFLite Micro's broadcasting kernels take); their type and the (scale, zero point) of each
        input and of the output."""
        a, b, y = self.input(0), self.input(1), self.output
        dtype = self.activation_dtype()
        if b.dtype is not dtype:
            self.fail(f"inputs are {dtype.value} and {b.dtype.value}", b)
        if dtype is DType.INT16:
            self.require_zero_point(b, 0, "int16 activations are symmetric")
        try:
            shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        except ValueError:
            shape = None
        if shape != tuple(y.shape) or len(shape) > 4:
            self.fail(f"inputs {list(a.shape)} and {list(b.shape)} do not broadcast to the output's {list(y.shape)} "
                      "(at most 4 axes)", b)
        return dtype, self.per_tensor(a), self.per_tensor(b), self.per_tensor(y)
