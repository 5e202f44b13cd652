"""The IR as a PyTorch module: edgeq's one float forward. A Keras .h5 loads as one (keras.py), calibration,
sensitivities and QAT run on one (quantize.twin.Twin adds the quantized forward to it), and attacks take one's
gradients.

Layout: inputs are NHWC like the IR and the .tflite (`input_layout="nchw"` takes NCHW); outputs are the
graph's output shape with the batch axis first. Inside, 4-D values are NCHW for torch's convolutions.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...ir import BROADCASTING, POOLS, WEIGHTED, Graph, OpKind, Padding
from ...prepare.qmath import compute_padding_height_width, same_padding
from ...prepare.resize import nearest
from ...prepare.strided_slice import slice_ranges

# A 4-D activation in torch is NCHW, in the IR NHWC: x.permute(NHWC) is NHWC, IR axis a is torch dimension NHWC[a];
# x.permute(NCHW) goes back.
NHWC, NCHW = (0, 2, 3, 1), (0, 3, 1, 2)


def to_torch(t: torch.Tensor) -> torch.Tensor:
    """An IR-layout value in torch's layout (4-D: NHWC -> NCHW; other ranks are alike)."""
    return t.permute(NCHW) if t.ndim == 4 else t


def to_ir(t: torch.Tensor) -> torch.Tensor:
    """to_torch's inverse."""
    return t.permute(NHWC) if t.ndim == 4 else t

# IR layout → torch layout: conv [O,H,W,I] → [O,I,H,W]; depthwise [1,H,W,C] → [C,1,H,W]; dense as is
TORCH_AXES = {OpKind.CONV_2D: NCHW, OpKind.DEPTHWISE_CONV_2D: (3, 0, 1, 2), OpKind.TRANSPOSE_CONV: (3, 0, 1, 2)}


def to_torch_weight(kind: OpKind, w: np.ndarray) -> np.ndarray:
    return np.transpose(w, TORCH_AXES[kind]) if kind in TORCH_AXES else w


def to_ir_weight(kind: OpKind, w: np.ndarray) -> np.ndarray:
    """to_torch_weight's inverse."""
    return np.transpose(w, np.argsort(TORCH_AXES[kind])) if kind in TORCH_AXES else w


class GraphModule(nn.Module):
    """A float graph's ops run by torch, its weights and biases trainable parameters."""

    def __init__(self, graph: Graph, input_layout: str = "nhwc"):
        super().__init__()
        self.graph, self.input_layout = graph, input_layout
        self.weights, self.biases = nn.ParameterDict(), nn.ParameterDict()
        self.layers = [op for op in graph.ops if op.kind in WEIGHTED]
        for i, op in enumerate(self.layers):
            w, b = (graph.tensors[n].data for n in op.inputs[1:3])
            self.weights[str(i)] = nn.Parameter(torch.from_numpy(to_torch_weight(op.kind, w).copy()))
            self.biases[str(i)] = nn.Parameter(torch.from_numpy(b.copy()))
        self.index = {op.name: str(i) for i, op in enumerate(self.layers)}
        self.constants = {n: torch.from_numpy(graph.tensors[n].data) for op in graph.ops if op.kind in BROADCASTING
                          for n in op.inputs if graph.tensors[n].is_const}    # x * 0.5's 0.5, as a tensor

    def operand(self, name: str) -> torch.Tensor:
        """A constant operand in torch layout (4-D: NCHW)."""
        return to_torch(self.constants[name])

    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        """The graph's (only) output; with `record`, every activation tensor goes in it, keyed by name."""
        if x.ndim == 4 and self.input_layout == "nhwc":
            x = x.permute(NCHW)
        values = self._values(x)
        if record is not None:
            record.update(values)
        y = values[self.graph.outputs[0]]
        return to_ir(y)

    def logits(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        """The pre-softmax output (the output, or its softmax's input when the graph ends in SOFTMAX); with
        `record`, every activation tensor goes in it too."""
        record = {} if record is None else record
        out = self(torch.as_tensor(x, dtype=torch.float32) if not isinstance(x, torch.Tensor) else x, record)
        last = self.graph.ops[-1]
        return record[last.inputs[0]] if last.kind is OpKind.SOFTMAX else out

    def _values(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every activation tensor, the input x (NCHW or [N, K]) first."""
        g = self.graph
        values = {g.inputs[0]: x}
        for op in g.ops:
            args = [self.operand(n) if n in self.constants else values.get(n) for n in op.inputs]
            if op.kind is OpKind.SEQUENCE_LSTM:          # its cell states too: calibration ranges them
                values[op.outputs[0]], values[op.inputs[19]] = self._lstm(op, args[0])
            else:
                values[op.outputs[0]] = self._op(op, args)
        return values

    def _lstm(self, op, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden states, cell states), each [N, T, units], of UNIDIRECTIONAL_SEQUENCE_LSTM over x [N, T, I]
        (samples first) from zero states, the float LSTM TFLite's integer one approximates: the weights are the
        graph's constants (an LSTM's are not trained here)."""
        if op.attrs.time_major:
            raise NotImplementedError(f"twin: {op.name}: a time-major LSTM")
        const = lambda ks: torch.cat([torch.from_numpy(self.graph.tensors[op.inputs[k]].data) for k in ks])  # noqa
        w_in, w_rec, bias = const(range(1, 5)), const(range(5, 9)), const(range(12, 16))
        h = x.new_zeros(len(x), w_rec.shape[1])
        c, hs, cs = h, [], []
        for t in range(x.shape[1]):
            i, f, g, o = (x[:, t] @ w_in.T + h @ w_rec.T + bias).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            if op.attrs.cell_clip > 0:
                c = c.clamp(-op.attrs.cell_clip, op.attrs.cell_clip)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
            cs.append(c)
        return torch.stack(hs, 1), torch.stack(cs, 1)

    def layer_weight(self, op) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The layer's weights in torch layout and their quantization scales (None: float)."""
        return self.weights[self.index[op.name]], None

    def layer_bias(self, op, w_scale: torch.Tensor | None) -> torch.Tensor:
        """The layer's bias, given its weights' scales."""
        return self.biases[self.index[op.name]]

    def _op(self, op, args):
        kind, attrs, x = op.kind, op.attrs, args[0]
        if kind in WEIGHTED:
            y = self._weighted(op, x)
        elif kind in POOLS:
            y = self._pool(op, x)
        elif kind is OpKind.ADD:
            y = x + args[1]
        elif kind is OpKind.SUB:
            y = x - args[1]
        elif kind is OpKind.MUL:
            y = x * args[1]
        elif kind is OpKind.MAXIMUM:
            return torch.maximum(x, args[1])
        elif kind is OpKind.MINIMUM:
            return torch.minimum(x, args[1])
        elif kind is OpKind.SOFTMAX:
            return torch.softmax(x, dim=-1)
        elif kind is OpKind.RELU:
            return torch.relu(x)
        elif kind is OpKind.LEAKY_RELU:
            return F.leaky_relu(x, attrs.alpha)
        elif kind in (OpKind.DEPTH_TO_SPACE, OpKind.SPACE_TO_DEPTH):     # TensorFlow's order, on NHWC
            n, h, w, c = x.permute(NHWC).shape
            bs = attrs.block_size
            blocks = x.permute(NHWC).reshape(n, h, w, bs, bs, c // bs // bs) if kind is OpKind.DEPTH_TO_SPACE \
                else x.permute(NHWC).reshape(n, h // bs, bs, w // bs, bs, c)
            out_shape = self.graph.tensors[op.outputs[0]].shape[1:]
            return blocks.permute(0, 1, 3, 2, 4, 5).reshape(n, *out_shape).permute(NCHW)
        elif kind is OpKind.BATCH_MATMUL:
            lhs, rhs = x.transpose(-1, -2) if attrs.adj_x else x, args[1].transpose(-1, -2) if attrs.adj_y else args[1]
            return torch.matmul(lhs, rhs)
        elif kind is OpKind.TRANSPOSE:                    # the IR's permutation, of NHWC when 4-D
            perm = [int(p) for p in self.graph.tensors[op.inputs[1]].data]
            return x.permute(NHWC).permute(perm).permute(NCHW) if x.ndim == 4 else x.permute(perm)
        elif kind is OpKind.RESIZE_NEAREST_NEIGHBOR:         # TFLite's choice of pixel, on NCHW
            rows, cols = (nearest(n, m, attrs.align_corners, attrs.half_pixel_centers)
                          for n, m in zip(x.shape[2:], self.graph.tensors[op.outputs[0]].shape[1:3]))
            return x[:, :, torch.from_numpy(rows)][:, :, :, torch.from_numpy(cols)]
        elif kind is OpKind.RELU6:
            return F.relu6(x)
        elif kind is OpKind.SEQUENCE_LSTM:
            return self._lstm(op, x)[0]
        elif kind is OpKind.LOGISTIC:
            return torch.sigmoid(x)
        elif kind is OpKind.TANH:
            return torch.tanh(x)
        elif kind is OpKind.HARD_SWISH:
            return F.hardswish(x)
        elif kind is OpKind.PAD:
            return self._zero_pad(op, x)
        elif kind is OpKind.STRIDED_SLICE:
            return self._slice(op, x)
        elif kind is OpKind.MEAN:                         # over the IR's axes, taken in the IR's NHWC order
            axes = [int(a) for a in self.graph.tensors[op.inputs[1]].data]
            return to_torch(to_ir(x).mean(axes, keepdim=attrs.keep_dims))
        elif kind is OpKind.CONCATENATION:                # the IR's NHWC axis in torch's NCHW
            return torch.cat(args, dim=NHWC[attrs.axis] if x.ndim == 4 else attrs.axis)
        elif kind is OpKind.QUANTIZE:                 # int8 <-> int16 of a deployed graph: same real value
            return x
        elif kind is OpKind.RESHAPE:
            shape = self.graph.tensors[op.outputs[0]].shape
            return to_torch(to_ir(x).reshape(x.shape[0], *shape[1:]))
        else:
            raise NotImplementedError(f"twin: {op.kind.value} ({op.name}) is not an op of a float graph")
        lo, hi = attrs.activation.bounds
        return y if lo is None and hi is None else torch.clamp(y, lo, hi)

    def _weighted(self, op, x):
        w, w_scale = self.layer_weight(op)
        b = self.layer_bias(op, w_scale)
        if op.kind is OpKind.TRANSPOSE_CONV:            # torch's, uncropped, then TFLite's padding taken off
            out_hw = self.graph.tensors[op.outputs[0]].shape[1:3]
            (ph, pw), _ = compute_padding_height_width(op.attrs.padding is Padding.SAME, op.attrs.stride, (1, 1),
                                                        out_hw, w.shape[2:])
            full = F.conv_transpose2d(x, w, stride=op.attrs.stride)
            full = F.pad(full, (0, max(0, pw + out_hw[1] - full.shape[3]), 0, max(0, ph + out_hw[0] - full.shape[2])))
            y = full[:, :, ph:ph + out_hw[0], pw:pw + out_hw[1]]
            return y if b is None else y + b.reshape(1, -1, 1, 1)
        if op.kind is OpKind.FULLY_CONNECTED:           # over the last axis of rows (flattened first if need be)
            rows = x if x.ndim != 4 and x.shape[-1] == w.shape[1] else x.reshape(x.shape[0], -1)
            return F.linear(rows, w, b).reshape(x.shape[0], *self.graph.tensors[op.outputs[0]].shape[1:])
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

    def _zero_pad(self, op, x):
        """PAD over x as torch holds it (NCHW for 4-D): F.pad takes (before, after) from the last dimension back."""
        pads = self.graph.tensors[op.inputs[1]].data.tolist()                 # IR order: NHWC
        if pads[0] != [0, 0]:
            raise NotImplementedError(f"twin: {op.name}: padding of the batch dimension")
        order = [pads[2], pads[1], pads[3]] if x.ndim == 4 else pads[1:][::-1]   # torch's last dimension first
        return F.pad(x, [v for pair in order for v in pair])

    def _slice(self, op, x):
        """STRIDED_SLICE over x as torch holds it: the IR's axes are NHWC for 4-D; the IR's batch axis (size 1)
        stands for the samples."""
        a, g = op.attrs, self.graph
        ranges = slice_ranges(g.tensors[op.inputs[0]].shape, *(g.tensors[n].data for n in op.inputs[1:]),
                              a.begin_mask, a.end_mask, a.shrink_axis_mask)
        y = to_ir(x)
        for axis, r in enumerate(ranges[1:], 1):
            y = y.index_select(axis, torch.as_tensor(list(r), dtype=torch.long, device=x.device))
        return to_torch(y.reshape(x.shape[0], *g.tensors[op.outputs[0]].shape[1:]))

    @staticmethod
    def _pad(x, padding: Padding, window, stride, value: float):
        if padding is Padding.VALID:
            return x
        (t, b), (l, r) = (same_padding(n, k, s) for n, k, s in zip(x.shape[2:], window, stride))
        return F.pad(x, (l, r, t, b), value=value) if t or b or l or r else x

    def float_graph(self) -> Graph:
        """The float graph with this module's (possibly fine-tuned) weights."""
        g = copy.deepcopy(self.graph)
        for op in self.layers:
            i = self.index[op.name]
            g.tensors[op.inputs[1]].data = to_ir_weight(op.kind, self.weights[i].detach().float().numpy()).copy()
            g.tensors[op.inputs[2]].data = self.biases[i].detach().float().numpy().copy()
        return g


class Logits(nn.Module):
    """A graph module's pre-softmax output (GraphModule.logits) as a module's forward: what ART's classifiers
    take."""

    def __init__(self, module: GraphModule):
        super().__init__()
        self.twin = module               # the name checkpoints of `edgeq defend` carry

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.twin.logits(x)
