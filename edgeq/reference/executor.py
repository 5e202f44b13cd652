"""The bit-exact numpy oracle: runs a Graph on N samples at once, op by op, lowered as the code generator lowers
it (passes.lower) and with the parameters prepare_op derives (the same the code generator emits), so it agrees with
TFLite Micro and with the firmware.

Arrays carry a leading sample axis. A tensor of shape (1, *rest) (a batch-1 model tensor) is fed and returned
as (N, *rest); any other shape S as (N, *S).

A graph with state (SVDF's and LSTM's variables) takes the N samples as N invocations in order, from zero state
(each variable at its zero point) at every run: what the firmware computes from reset, and tflite-micro from a new
interpreter.
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

from ..ir import Graph, OpKind, Tensor, sample_shape, verify
from ..passes import lower
from ..prepare import prepare_graph
from .add import add, sub
from .batch_matmul import batch_matmul
from .concatenation import concatenation
from .conv import NUMPY_SUMS, Sums, conv2d, depthwise_conv2d
from .fully_connected import fully_connected
from .leaky_relu import leaky_relu
from .logistic_tanh import logistic, lookup, tanh
from .mean import mean
from .mul import mul
from .pad import pad
from .relu import relu
from .pooling import average_pool, max_pool
from .quantize import dequantize, quantize
from .softmax import softmax
from .lstm import sequence_lstm
from .svdf import svdf
from .transpose_conv import transpose_conv2d
from .view import strided_view

KERNELS = {
    OpKind.CONV_2D: conv2d,
    OpKind.DEPTHWISE_CONV_2D: depthwise_conv2d,
    OpKind.TRANSPOSE_CONV: transpose_conv2d,
    OpKind.FULLY_CONNECTED: fully_connected,
    OpKind.AVERAGE_POOL_2D: average_pool,
    OpKind.MAX_POOL_2D: max_pool,
    OpKind.ADD: add,
    OpKind.SUB: sub,
    OpKind.MUL: mul,
    OpKind.MEAN: mean,
    OpKind.MAXIMUM: lambda args, p, out: np.maximum(args[0], args[1]),     # the integers as they are
    OpKind.MINIMUM: lambda args, p, out: np.minimum(args[0], args[1]),
    OpKind.LEAKY_RELU: leaky_relu,
    OpKind.PAD: pad,
    OpKind.RELU: relu,
    OpKind.RELU6: lambda args, p, out: np.clip(args[0], p.lower, p.upper),     # in the input's quantization
    OpKind.LOGISTIC: logistic,
    OpKind.TANH: tanh,
    OpKind.HARD_SWISH: lookup,
    OpKind.STRIDED_SLICE: strided_view,
    OpKind.TRANSPOSE: strided_view,
    OpKind.DEPTH_TO_SPACE: strided_view,
    OpKind.SPACE_TO_DEPTH: strided_view,
    OpKind.CONCATENATION: concatenation,
    OpKind.RESIZE_NEAREST_NEIGHBOR: lambda args, p, out: args[0].take(p.rows, axis=-3).take(p.cols, axis=-2),
    OpKind.BATCH_MATMUL: batch_matmul,
    OpKind.SVDF: svdf,
    OpKind.SEQUENCE_LSTM: sequence_lstm,
    OpKind.SOFTMAX: softmax,
    OpKind.RESHAPE: lambda args, p, out: args[0],          # same bytes; the executor reshapes every output
    OpKind.QUANTIZE: quantize,
    OpKind.DEQUANTIZE: dequantize,
}


def _batched(t: Tensor, array) -> np.ndarray:
    """Accept (N, *shape) or, for a batch-1 tensor, (N, *shape[1:]); the dtype must already be right."""
    a = np.asarray(array)
    shape = tuple(t.shape)
    if a.shape[1:] != shape:
        if shape[:1] != (1,) or a.shape[1:] != shape[1:]:
            raise ValueError(f"input {t.name!r}: expected (N, *{shape}) or (N, *{shape[1:]}), got {a.shape}")
        a = a[:, None]
    if a.dtype != t.dtype.numpy:
        raise ValueError(f"input {t.name!r}: expected {t.dtype.numpy}, got {a.dtype}")
    return a


def _unbatched(t: Tensor, a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), *sample_shape(t.shape))


MIN_PIECE = 16       # samples a thread gets at least: below, handing a piece to a thread costs more than it saves


class Executor:
    """A graph lowered and prepared once, then run on any number of samples, `chunk` at a time to bound memory.
    run_all's tensors are the lowered graph's: the original ones and those lowering added.

    `sums` is how the convolutions take their exact sums (conv.Sums; numpy by default). With `threads` > 1 a batch
    of at least 2 x MIN_PIECE samples is cut into pieces run on that many threads (numpy and torch release the
    GIL in their loops); the pieces' outputs are concatenated in order, so the result does not depend on it."""

    def __init__(self, graph: Graph, chunk: int = 64, sums: Sums = NUMPY_SUMS, threads: int = 1):
        self.graph = lower(verify(graph))
        self.params = prepare_graph(self.graph)
        self.chunk, self.threads = chunk, threads
        self.variables = [t for t in self.graph.tensors.values() if t.variable]
        if self.variables:                     # invocations in order: one thread, the state carried chunk to chunk
            self.threads = 1
        self.kernels = {**KERNELS, OpKind.CONV_2D: functools.partial(conv2d, sums=sums),
                        OpKind.DEPTHWISE_CONV_2D: functools.partial(depthwise_conv2d, sums=sums)}

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The graph's outputs for a batch of inputs, each (N, ...) as described in the module docstring."""
        values = self._run(inputs, keep=set(self.graph.outputs))
        return [_unbatched(self.graph.tensors[n], values[n]) for n in self.graph.outputs]

    def run_all(self, inputs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Every activation tensor by name, each (N, *shape): for comparing intermediates."""
        return self._run(inputs, keep=None)

    def _run(self, inputs, keep: set[str] | None) -> dict[str, np.ndarray]:
        if len(inputs) != len(self.graph.inputs):
            raise ValueError(f"{self.graph.source}: {len(self.graph.inputs)} inputs expected, got {len(inputs)}")
        batch = [_batched(self.graph.tensors[n], a) for n, a in zip(self.graph.inputs, inputs)]
        counts = {a.shape[0] for a in batch}
        if len(counts) != 1 or 0 in counts:
            raise ValueError(f"inputs need the same, nonzero number of samples, got {sorted(counts)}")
        n = counts.pop()
        state = {t.name: np.full(t.shape, t.qparams.zp if t.qparams else 0, t.dtype.numpy) for t in self.variables}
        piece = self.chunk if self.threads < 2 or n < 2 * MIN_PIECE else \
            min(self.chunk, max(MIN_PIECE, -(-n // self.threads)))
        run = lambda s: self._run_chunk([a[s:s + piece] for a in batch], keep, state)  # noqa: E731
        if self.threads < 2 or piece >= n:
            chunks = [run(s) for s in range(0, n, piece)]
        else:
            with ThreadPoolExecutor(self.threads) as pool:
                chunks = list(pool.map(run, range(0, n, piece)))
        return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}

    def _run_chunk(self, inputs: list[np.ndarray], keep: set[str] | None, state: dict[str, np.ndarray]) \
            -> dict[str, np.ndarray]:
        """One chunk of samples through every op; `state` holds the variables, which stateful kernels update."""
        values = dict(zip(self.graph.inputs, inputs))
        for op, params in zip(self.graph.ops, self.params):
            args = [None if name is None else values[name] if name in values else
                    state[name] if name in state else self.graph.tensors[name].data for name in op.inputs]
            out = self.graph.tensors[op.outputs[0]]
            values[out.name] = self.kernels[op.kind](args, params, out).reshape(len(inputs[0]), *out.shape)
        return values if keep is None else {name: values[name] for name in keep}


def run(graph: Graph, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run `graph` on a batch: each input (N, ...) with N >= 1; returns the outputs likewise."""
    return Executor(graph).run(inputs)
