"""The IR as a PyTorch module: the single float forward of edgeq (calibration, sensitivities, QAT and the
float model a Keras .h5 loads as), and, given a QuantSpec, a quantized forward whose values ARE the integer
reference executor's.

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

Layout: inputs are NHWC like the IR and the .tflite (`input_layout="nchw"` takes NCHW); outputs are the
graph's output shape with the batch axis first. Inside, 4-D values are NCHW for torch's convolutions.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import EdgeqError
from ..ir import POOLS, WEIGHTED, DType, Graph, OpKind, Padding
from ..prepare.qmath import same_padding
from ..reference import Executor
from .ptq import dequantize_graph, quantize_graph
from .scheme import PER_CHANNEL, QuantSpec, bias_scale, converted, weight_qmax, weight_scale


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


# IR layout → torch layout: conv [O,H,W,I] → [O,I,H,W]; depthwise [1,H,W,C] → [C,1,H,W]; dense as is
TORCH_AXES = {OpKind.CONV_2D: (0, 3, 1, 2), OpKind.DEPTHWISE_CONV_2D: (3, 0, 1, 2)}


def to_torch_weight(kind: OpKind, w: np.ndarray) -> np.ndarray:
    return np.transpose(w, TORCH_AXES[kind]) if kind in TORCH_AXES else w


def to_ir_weight(kind: OpKind, w: np.ndarray) -> np.ndarray:
    """to_torch_weight's inverse."""
    return np.transpose(w, np.argsort(TORCH_AXES[kind])) if kind in TORCH_AXES else w


class Twin(nn.Module):
    def __init__(self, graph: Graph, spec: QuantSpec | None = None, input_layout: str = "nhwc"):
        super().__init__()
        self.graph, self.spec, self.input_layout = graph, spec, input_layout
        self.weights, self.biases = nn.ParameterDict(), nn.ParameterDict()
        self.layers = [op for op in graph.ops if op.kind in WEIGHTED]
        for i, op in enumerate(self.layers):
            w, b = (graph.tensors[n].data for n in op.inputs[1:3])
            self.weights[str(i)] = nn.Parameter(torch.from_numpy(to_torch_weight(op.kind, w).copy()))
            self.biases[str(i)] = nn.Parameter(torch.from_numpy(b.copy()))
        self.index = {op.name: str(i) for i, op in enumerate(self.layers)}
        self.frozen: Executor | None = None        # of_integer: the integer graph the values come from

    @classmethod
    def of_integer(cls, graph: Graph, input_layout: str = "nhwc") -> "Twin":
        """The twin of a deployed integer graph (int8, int16 or mixed activations, int8/int4 weights): forward values
        equal Executor(graph)'s (dequantized) bit for bit, gradients are the fake-quant surrogate's."""
        twin = cls(*dequantize_graph(graph), input_layout=input_layout)
        twin.frozen = Executor(graph)
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
        if self.spec is None:
            return x
        q = self.spec.qparams(name, d)
        y = fake_quant(x, q.s, q.zp, d.qmin, d.qmax)
        if exact is None:
            return y
        e = torch.from_numpy((exact.astype(np.float64) - q.zp) * q.s).to(y.dtype)
        e = e.reshape(len(y), *self.graph.tensors[name].shape[1:])                # NHWC, or [N, K]
        e = e.permute(0, 3, 1, 2) if e.ndim == 4 else e
        return y + (e - y).detach()

    def layer_weight(self, op) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The layer's weights in torch layout and their scales: fake-quantized at the layer's bits when the twin
        is quantized, else as they are (scale None)."""
        w = self.weights[self.index[op.name]]
        if self.spec is None:
            return w, None
        return quantize_weight(w, op.kind, self.spec.bits.get(op.name, 8))

    # ---------------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        """The graph's (only) output; with `record`, every activation tensor goes in it, keyed by name."""
        g = self.graph
        if x.ndim == 4 and self.input_layout == "nhwc":
            x = x.permute(0, 3, 1, 2)
        exact = self._exact(x) if self.spec is not None else {}
        types = self.spec.dtypes(g) if self.spec is not None else {}
        values = {g.inputs[0]: self._act(g.inputs[0], x, exact.get(g.inputs[0]), types.get(g.inputs[0]))}
        for op in g.ops:
            out = op.outputs[0]
            args = [values.get(n) for n in op.inputs]
            for k, d in (self.spec.needs(op, types) if self.spec is not None else {}).items():
                if types[op.inputs[k]] is not d:          # PTQ requantizes it for this op: the same on the twin
                    args[k] = self._act(op.inputs[k], args[k], exact.get(converted(op.inputs[k], d)), d)
            values[out] = self._act(out, self._op(op, args), exact.get(out), types.get(out))
            if record is not None:
                record[out] = values[out]
        if record is not None:
            record[g.inputs[0]] = values[g.inputs[0]]
        y = values[g.outputs[0]]
        return y.permute(0, 2, 3, 1) if y.ndim == 4 else y

    def logits(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        """The pre-softmax output (the output, or its softmax's input when the graph ends in SOFTMAX); with
        `record`, every activation tensor goes in it too."""
        record = {} if record is None else record
        out = self(torch.as_tensor(x, dtype=torch.float32) if not isinstance(x, torch.Tensor) else x, record)
        last = self.graph.ops[-1]
        return record[last.inputs[0]] if last.kind is OpKind.SOFTMAX else out

    def _exact(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        """Every activation tensor as the reference executor computes it for the float batch x (NCHW or [N, K]):
        on the frozen integer graph, fed as the device is; else on the integer graph PTQ writes from the current
        weights, x quantized as the input's fake quantization does."""
        x = x.detach()
        if self.frozen is not None:
            g = self.frozen.graph
            t = g.tensors[g.inputs[0]]
            x = (x.permute(0, 2, 3, 1) if x.ndim == 4 else x).numpy().astype(np.float32)
            return self.frozen.run_all([x if t.dtype is DType.FLOAT32 else t.qparams.quantize_half_up(x, t.dtype)])
        d = self.spec.dtypes(self.graph)[self.graph.inputs[0]]
        q = self.spec.qparams(self.graph.inputs[0], d)
        xi = torch.clamp(torch.round(x / q.s) + q.zp, d.qmin, d.qmax)
        xi = (xi.permute(0, 2, 3, 1) if xi.ndim == 4 else xi).numpy().astype(d.numpy)
        return Executor(quantize_graph(self.float_graph(), self.spec), chunk=max(len(xi), 1)).run_all([xi])

    def _op(self, op, args):
        kind, attrs, x = op.kind, op.attrs, args[0]
        if kind in WEIGHTED:
            y = self._weighted(op, x)
        elif kind in POOLS:
            y = self._pool(op, x)
        elif kind is OpKind.ADD:
            y = x + args[1]
        elif kind is OpKind.SOFTMAX:
            return torch.softmax(x, dim=-1)
        elif kind is OpKind.QUANTIZE:                 # int8 <-> int16 of a deployed graph: same real value
            return x
        elif kind is OpKind.RESHAPE:
            shape = self.graph.tensors[op.outputs[0]].shape
            nhwc = x.permute(0, 2, 3, 1) if x.ndim == 4 else x
            y = nhwc.reshape(x.shape[0], *shape[1:])
            return y.permute(0, 3, 1, 2) if y.ndim == 4 else y
        else:
            raise NotImplementedError(f"twin: {op.kind.value} ({op.name}) is not an op of a float graph")
        lo, hi = attrs.activation.bounds
        return y if lo is None and hi is None else torch.clamp(y, lo, hi)

    def _weighted(self, op, x):
        w, w_scale = self.layer_weight(op)
        b = self.biases[self.index[op.name]]
        if w_scale is not None:
            d = DType.INT16 if self.spec.is_a16(op.name) else DType.INT8
            s = torch.as_tensor(bias_scale(self.spec.qparams(op.inputs[0], d).s, w_scale.numpy()), dtype=b.dtype)
            b = ste_round(b / s) * s
        if op.kind is OpKind.FULLY_CONNECTED:
            return F.linear(x.reshape(x.shape[0], -1) if x.ndim != 2 else x, w, b)
        groups = x.shape[1] if op.kind is OpKind.DEPTHWISE_CONV_2D else 1
        pads = [(0, 0), (0, 0)] if op.attrs.padding is Padding.VALID else \
            [same_padding(n, k, s) for n, k, s in zip(x.shape[2:], w.shape[2:], op.attrs.stride)]
        if all(before == after for before, after in pads):       # the convolution pads it (no copy of x)
            return F.conv2d(x, w, b, stride=op.attrs.stride, padding=tuple(p for p, _ in pads),
                            dilation=op.attrs.dilation, groups=groups)
        x = self._pad(x, op.attrs.padding, w.shape[2:], op.attrs.stride, 0.0)
        return F.conv2d(x, w, b, stride=op.attrs.stride, dilation=op.attrs.dilation, groups=groups)

    def _pool(self, op, x):
        a = op.attrs
        if op.kind is OpKind.AVERAGE_POOL_2D:
            if a.padding is Padding.SAME and any(same_padding(n, k, s) != (0, 0)
                                                 for n, k, s in zip(x.shape[2:], a.filter, a.stride)):
                raise NotImplementedError(f"twin: {op.name}: padded average pooling")
            return F.avg_pool2d(x, a.filter, a.stride)
        return F.max_pool2d(self._pad(x, a.padding, a.filter, a.stride, float("-inf")), a.filter, a.stride)

    @staticmethod
    def _pad(x, padding: Padding, window, stride, value: float):
        if padding is Padding.VALID:
            return x
        (t, b), (l, r) = (same_padding(n, k, s) for n, k, s in zip(x.shape[2:], window, stride))
        return F.pad(x, (l, r, t, b), value=value) if t or b or l or r else x

    # ------------------------------------------------------------------------------------------- export
    def float_graph(self) -> Graph:
        """The float graph with this twin's (possibly fine-tuned) weights."""
        import copy
        g = copy.deepcopy(self.graph)
        for op in self.layers:
            i = self.index[op.name]
            g.tensors[op.inputs[1]].data = to_ir_weight(op.kind, self.weights[i].detach().float().numpy()).copy()
            g.tensors[op.inputs[2]].data = self.biases[i].detach().float().numpy().copy()
        return g

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


class Logits(nn.Module):
    """A twin's pre-softmax output (Twin.logits) as a module's forward: what ART's classifiers take."""

    def __init__(self, twin: Twin):
        super().__init__()
        self.twin = twin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.twin.logits(x)
