"""The quantized twin: the float forward of a graph (frontends.torch.forward.GraphModule) that, given a QuantSpec,
also runs a quantized forward whose values ARE the integer reference executor's.

The quantized forward runs two paths at once. The value path quantizes the twin's current weights exactly as
PTQ writes them (ptq.quantize_graph) and runs the reference kernels on them op by op (TFLite's fixed-point
requantization, ADD rescaling, average-pool and softmax rounding), so every activation equals the executor's
bit for bit: nothing is re-implemented in torch that could drift from the kernels. The gradient path is the
float fake-quant surrogate (round and clamp with straight-through gradients; weights on their per-channel
int8/int4 grid, biases at s_in x s_w, activations on the grid of their type, int8 or int16 (a16w8 layers and
what follows them; an input PTQ requantizes for a reader of the other type is snapped to that type's grid too),
fused ReLU/ReLU6 as its clamp); each activation is the surrogate's value plus the detached difference to the
exact one, so gradients are the surrogate's and values the kernels'. Each op's surrogate reads the exact values
of its inputs, so its error never accumulates.

`Twin.of_integer(graph)` is the twin of an already-integer graph (a deployed .tflite): its weights are the
dequantized integer ones and its value path runs the executor on that very graph, frozen (nothing is
re-quantized, so no scale can move by an ulp), taking float inputs as the device does (api.quantize_inputs).
It is for crafting attacks (input gradients), not for training: its parameters do not require gradients.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import EdgeqError
from ..frontends.torch.forward import GraphModule, to_ir, to_torch
from ..ir import DType, Graph, OpKind
from ..reference import Executor
from ..torch_sums import torch_sums
from .ptq import dequantize_graph, quantize_graph
from .scheme import (PER_CHANNEL, QuantSpec, bias_scale, converted, first_activation, quantize_constant, weight_qmax,
                     weight_scale)


def ste_round(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def fake_quant(x: torch.Tensor, scale, zero_point, qmin: int, qmax: int) -> torch.Tensor:
    """Snap x to the grid scale * (q - zero_point), q in [qmin, qmax]; gradients pass straight through."""
    q = torch.clamp(ste_round(x / scale) + zero_point, qmin, qmax)
    return (q - zero_point) * scale


def quantize_weight(w: torch.Tensor, kind: OpKind, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fake-quantized weights of a `kind` layer (torch layout, channels first) and their float32 scales:
    scheme.weight_scale's, so that PTQ writes the very grid the twin trains on."""
    per_channel, qmax = kind in PER_CHANNEL, weight_qmax(bits)
    scale = torch.from_numpy(weight_scale(w.detach().float().numpy(), bits, 0 if per_channel else None))
    s = scale.reshape(-1, *([1] * (w.ndim - 1))) if per_channel else scale[0]
    return fake_quant(w, s.to(w.dtype), 0, -qmax, qmax), scale


class Twin(GraphModule):
    """The float forward of `graph`; with `spec`, its quantized forward (see the module docstring)."""

    def __init__(self, graph: Graph, spec: QuantSpec | None = None, input_layout: str = "nhwc"):
        super().__init__(graph, input_layout)
        self.spec = spec
        self.frozen: Executor | None = None        # of_integer: the integer graph the values come from

    @classmethod
    def of_integer(cls, graph: Graph, input_layout: str = "nhwc") -> "Twin":
        """The twin of a deployed integer graph (int8, int16 or mixed activations, int8/int4 weights): forward values
        equal Executor(graph)'s (dequantized) bit for bit, gradients are the fake-quant surrogate's."""
        twin = cls(*dequantize_graph(graph), input_layout=input_layout)
        twin.frozen = Executor(graph, sums=torch_sums(), threads=torch.get_num_threads())
        twin.requires_grad_(False).eval()
        shape = graph.tensors[graph.inputs[0]].shape
        try:                                       # ops the twin lacks fail here, not in an attack
            with torch.no_grad():
                twin(torch.zeros(1, *(shape[1:] if input_layout == "nhwc" or len(shape) != 4
                                      else (shape[3], shape[1], shape[2]))))
        except NotImplementedError as e:
            raise EdgeqError(f"{graph.source}: no quantized twin: {e}") from e
        return twin

    # ---------------------------------------------------------------------------------------- quantization
    def _act(self, name: str, x: torch.Tensor, exact: np.ndarray | None, d: DType) -> torch.Tensor:
        """x on the tensor's grid in type d (fake-quantized); with `exact` (the executor's integers, NHWC), the
        value is exact's and the gradient fake quantization's."""
        q = self.spec.qparams(name, d)
        y = fake_quant(x, q.s, q.zp, d.qmin, d.qmax)
        if exact is None:
            return y
        e = torch.from_numpy((exact.astype(np.float64) - q.zp) * q.s).to(y.dtype)
        e = to_torch(e.reshape(len(y), *self.graph.tensors[name].shape[1:]))      # from NHWC, or [N, K]
        return y + (e - y).detach()

    def layer_weight(self, op) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The layer's weights in torch layout and their scales: fake-quantized at the layer's bits when the twin
        is quantized, else as they are (scale None)."""
        w, _ = super().layer_weight(op)
        if self.spec is None:
            return w, None
        return quantize_weight(w, op.kind, self.spec.bits.get(op.name, 8))

    def layer_bias(self, op, w_scale: torch.Tensor | None) -> torch.Tensor:
        """The bias, on its int32/int64 grid (scale s_in x s_w) when the twin is quantized."""
        b = super().layer_bias(op, w_scale)
        if w_scale is None:
            return b
        d = DType.INT16 if self.spec.is_a16(op.name) else DType.INT8
        s = torch.as_tensor(bias_scale(self.spec.qparams(op.inputs[0], d).s, w_scale.numpy()), dtype=b.dtype)
        return ste_round(b / s) * s

    def _values(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.spec is None:
            return super()._values(x)
        g = self.graph
        exact, types = self._exact(x), self.spec.dtypes(g)
        values = {g.inputs[0]: self._act(g.inputs[0], x, exact.get(g.inputs[0]), types[g.inputs[0]])}
        for op in g.ops:
            out = op.outputs[0]
            args = [self._constant(op, n, types) if n in self.constants else values.get(n) for n in op.inputs]
            for k, d in self.spec.needs(op, types).items():
                if types[op.inputs[k]] is not d:          # PTQ requantizes it for this op: the same on the twin
                    args[k] = self._act(op.inputs[k], args[k], exact.get(converted(op.inputs[k], d)), d)
            values[out] = self._act(out, self._op(op, args), exact.get(out), types[out])
        return values

    def _constant(self, op, name: str, types: dict[str, DType]) -> torch.Tensor:
        """A constant operand on the grid PTQ writes it on (no gradient: it is no parameter)."""
        d = types[first_activation(op, types)]
        value = self.graph.tensors[name].data
        q = self.spec.constant_qparams(op, value, d)
        real = (quantize_constant(value, q, d).astype(np.float64) - q.zp) * q.s
        return to_torch(torch.from_numpy(real.astype(np.float32)))

    def _exact(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        """Every activation tensor as the reference executor computes it for the float batch x (NCHW or [N, K]):
        on the frozen integer graph, fed as the device is; else on the integer graph PTQ writes from the current
        weights, x quantized as the input's fake quantization does."""
        x = x.detach()
        if self.frozen is not None:
            g = self.frozen.graph
            t = g.tensors[g.inputs[0]]
            x = to_ir(x).numpy().astype(np.float32)
            return self.frozen.run_all([x if t.dtype is DType.FLOAT32 else t.qparams.quantize_half_up(x, t.dtype)])
        d = self.spec.dtypes(self.graph)[self.graph.inputs[0]]
        q = self.spec.qparams(self.graph.inputs[0], d)
        xi = torch.clamp(torch.round(x / q.s) + q.zp, d.qmin, d.qmax)
        xi = to_ir(xi).numpy().astype(d.numpy)
        return Executor(quantize_graph(self.float_graph(), self.spec), chunk=max(len(xi), 1),
                        sums=torch_sums()).run_all([xi])

    @torch.no_grad()
    def observe(self, batches, observer: str = "minmax") -> dict[str, tuple[float, float]]:
        """Calibration: run float batches (inputs as forward takes them) and return each activation tensor's
        range under the named observer (see observers.OBSERVERS)."""
        from .observers import OBSERVERS
        seen: dict = {}
        for x in batches:
            record: dict = {}
            self(torch.as_tensor(np.asarray(x), dtype=torch.float32), record=record)
            for name, v in record.items():
                seen.setdefault(name, OBSERVERS[observer]()).update(v.numpy())
        return {name: o.range() for name, o in seen.items()}

