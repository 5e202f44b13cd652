"""nn.Module → float IR via torch.fx: BatchNorm folded into the conv before it, ReLU/ReLU6 fused into their
producer, NCHW flattening turned into the IR's NHWC order (the next Linear's columns are permuted to match).

Supported: Conv2d (groups 1, or depthwise: groups == in_channels), ConvTranspose2d (VALID or SAME, see
_transpose_conv), Linear, BatchNorm2d after a conv,
ReLU/ReLU6, MaxPool2d/AvgPool2d (no padding), AdaptiveAvgPool2d(1), residual add, flatten/view/reshape,
softmax over the last axis, constant slices (x[:, :, 1:5, ::2]), torch.cat, Dropout/Identity (inference: no-ops),
LSTM (unidirectional, any number of layers, no projection; its output sequence, from zero states).
Padding must be one TFLite can express: 0 (VALID), 'same', or (k-1)/2 at stride 1 (SAME). Anything else raises
UnsupportedModelError naming the module path (or the function) that uses it.
"""
from __future__ import annotations

import operator

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from ...errors import UnsupportedModelError
from ...ir import Activation, Graph, OpKind, Padding
from ..floatgraph import FloatGraphBuilder
from .forward import NCHW, NHWC

RELU_FUNCS = {F.relu: Activation.RELU, torch.relu: Activation.RELU, F.relu6: Activation.RELU6}
ADD_FUNCS = {operator.add, operator.iadd, torch.add}
SUB_FUNCS = {operator.sub, operator.isub, torch.sub}
MUL_FUNCS = {operator.mul, operator.imul, torch.mul}
MAX_FUNCS, MIN_FUNCS = {torch.maximum, torch.max}, {torch.minimum, torch.min}
FLATTEN = {torch.flatten, "flatten", "view", "reshape"}
CONCAT_FUNCS = {torch.cat, torch.concat, torch.concatenate}
UNARY_MODULES = {nn.Sigmoid: OpKind.LOGISTIC, nn.Tanh: OpKind.TANH, nn.Hardswish: OpKind.HARD_SWISH}
UNARY_FUNCS = {torch.sigmoid: OpKind.LOGISTIC, F.sigmoid: OpKind.LOGISTIC, "sigmoid": OpKind.LOGISTIC,
               torch.tanh: OpKind.TANH, F.tanh: OpKind.TANH, "tanh": OpKind.TANH, F.hardswish: OpKind.HARD_SWISH}
PASS_THROUGH = (nn.Dropout, nn.Identity)


def from_module(module: nn.Module, input_shape: tuple[int, int, int, int], name: str | None = None) -> Graph:
    """Trace `module` (in eval mode) for an NCHW input of `input_shape` (batch 1) into a float IR graph whose
    input is NHWC (1, H, W, C)."""
    module = module.eval()
    source = name or type(module).__name__
    try:
        traced = fx.symbolic_trace(module)
    except Exception as e:                                  # data-dependent control flow and the like
        raise UnsupportedModelError(f"{source}: torch.fx cannot trace it ({e})") from None
    ShapeProp(traced).propagate(torch.zeros(input_shape))
    return _Converter(traced, source).convert()


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


class _Converter:
    def __init__(self, traced: fx.GraphModule, source: str):
        self.traced, self.b = traced, FloatGraphBuilder(source)
        self.modules = dict(traced.named_modules())
        self.value: dict[str, str] = {}          # fx node name -> IR tensor
        self.nchw: dict[str, tuple] = {}         # flattened NCHW tensors -> (C, H, W), for the next Linear
        self.lstm: set[str] = set()              # fx nodes of LSTMs: (output, (h_n, c_n)), only output followed

    def fail(self, node: fx.Node, why: str):
        what = f"module {node.target!r} ({type(self.modules[node.target]).__name__})" \
            if node.op == "call_module" else f"{node.op} {getattr(node.target, '__name__', node.target)!r}"
        raise UnsupportedModelError(f"{self.b.source}: {what}: {why}")

    def convert(self) -> Graph:
        outputs = []
        for node in self.traced.graph.nodes:
            if node.op == "placeholder":            # an NCHW image (the IR's NHWC), or a batch of 1-D / 2-D rows
                shape = tuple(node.meta["tensor_meta"].shape)
                ir_shape = (1, *shape[2:], shape[1]) if len(shape) == 4 else (1, *shape[1:])
                self.value[node.name] = self.b.input(ir_shape, node.name)
            elif node.op == "output":
                outputs = [self.value[a.name] for a in fx.node.map_arg(node.args[0], lambda a: [a])]
            elif node.op == "call_module":
                self.value[node.name] = self._module(node, self.modules[node.target])
            elif node.op in ("call_function", "call_method"):
                out = self._function(node)
                if out is not None:
                    self.value[node.name] = out
            elif node.op != "get_attr":
                self.fail(node, "unsupported graph node")
        return self.b.graph(outputs)

    def _in(self, node: fx.Node, i: int = 0) -> str:
        arg = node.args[i]
        if not isinstance(arg, fx.Node) or arg.name not in self.value:
            self.fail(node, f"argument {i} is not a tensor edgeq follows")
        return self.value[arg.name]

    def _leaky_relu(self, x: str, slope: float, name: str) -> str:
        return self._elementwise(x, self.b.leaky_relu(x, slope, name))

    def _relu(self, x: str, activation: Activation, name: str) -> str:
        """Fused into its producer where TFLite would fuse it, else a RELU op (floatgraph.fuse)."""
        return self._elementwise(x, self.b.fuse(x, activation, name))

    def _elementwise(self, x: str, out: str) -> str:
        if x in self.nchw and out != x:          # an elementwise op keeps features in NCHW flatten order
            self.nchw[out] = self.nchw[x]
        return out

    def _upsample(self, node: fx.Node, x: str, size, scale_factor, mode: str, align_corners, name: str) -> str:
        """Nearest-neighbour resizing of rows and columns to a size, or by whole factors: torch's "nearest" picks the
        input pixel as TFLite does without half-pixel centres, "nearest-exact" as it does with them."""
        if mode not in ("nearest", "nearest-exact") or align_corners:
            self.fail(node, f"{mode!r} resizing is not supported (nearest and nearest-exact are)")
        if x in self.nchw or len(self.b.shape(x)) != 4:
            self.fail(node, "only 4-D feature maps are resized")
        hw = self.b.shape(x)[1:3]
        if size is not None:
            out = tuple(int(s) for s in (size if isinstance(size, (tuple, list)) else (size, size)))
        else:
            factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
            if any(f is None or float(f) != int(f) or f < 1 for f in factors):
                self.fail(node, f"scale factor {scale_factor} is not supported (whole factors or a size are)")
            out = tuple(n * int(f) for n, f in zip(hw, factors))
        return self.b.resize_nearest(x, out, mode == "nearest-exact", name)

    def _pad(self, node: fx.Node, x: str, torch_pads, value: float, name: str) -> str:
        """torch's pads run from the last dimension back, (left, right, top, bottom, ...), over NCHW; the IR is
        NHWC. Only zeros: PAD pads with the zero point."""
        if value != 0:
            self.fail(node, f"padding with {value} is not supported (zeros are)")
        if x in self.nchw:
            self.fail(node, "padding a flattened feature map is not supported: pad before flattening")
        rank = len(self.b.shape(x))
        torch_pads = [int(p) for p in (torch_pads if isinstance(torch_pads, (tuple, list)) else (torch_pads,) * 4)]
        by_dim = [(0, 0)] * rank                         # torch's dimension order
        for k in range(len(torch_pads) // 2):
            by_dim[rank - 1 - k] = (torch_pads[2 * k], torch_pads[2 * k + 1])
        if rank == 4:
            by_dim = [by_dim[d] for d in NHWC]
        return self.b.pad(x, by_dim, name)

    def _module(self, node: fx.Node, m: nn.Module) -> str:
        x, name = self._in(node), str(node.target)
        if isinstance(m, nn.Conv2d):
            return self._conv(node, m, x, name)
        if isinstance(m, nn.LSTM):
            return self._lstm(node, m, x, name)
        if isinstance(m, nn.ConvTranspose2d):
            return self._transpose_conv(node, m, x, name)
        if isinstance(m, nn.BatchNorm2d):
            gamma = _np(m.weight if m.affine else torch.ones_like(m.running_mean))
            return self.b.fold_batchnorm(x, gamma, _np(m.bias) if m.affine else 0.0, _np(m.running_mean),
                                         _np(m.running_var), m.eps, name)
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            return self._relu(x, Activation.RELU if isinstance(m, nn.ReLU) else Activation.RELU6, name)
        if isinstance(m, nn.Linear):
            return self._linear(m.weight, m.bias, x, name)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            size, stride = _pair(m.kernel_size), _pair(m.stride or m.kernel_size)
            if _pair(m.padding) != (0, 0) or getattr(m, "ceil_mode", False) or _pair(getattr(m, "dilation", 1)) != (1, 1):
                self.fail(node, "only unpadded, floor-mode, undilated pooling maps to TFLite")
            kind = OpKind.MAX_POOL_2D if isinstance(m, nn.MaxPool2d) else OpKind.AVERAGE_POOL_2D
            return self.b.pool(kind, x, size, stride, Padding.VALID, name)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            if _pair(m.output_size) != (1, 1):
                self.fail(node, "only AdaptiveAvgPool2d(1) (global average pooling) is supported")
            hw = self.b.shape(x)[1:3]
            return self.b.pool(OpKind.AVERAGE_POOL_2D, x, hw, hw, Padding.VALID, name)
        if isinstance(m, nn.Flatten):
            return self._reshape(node, x, name)
        if isinstance(m, nn.Softmax):
            return self._softmax(node, x, m.dim, name)
        if isinstance(m, nn.LeakyReLU):
            return self._leaky_relu(x, m.negative_slope, name)
        if type(m) in UNARY_MODULES:
            return self._elementwise(x, self.b.unary(UNARY_MODULES[type(m)], x, name))
        if isinstance(m, nn.Upsample):
            return self._upsample(node, x, m.size, m.scale_factor, m.mode, m.align_corners, name)
        if isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d)):
            return self._pad(node, x, m.padding, getattr(m, "value", 0.0), name)
        if isinstance(m, PASS_THROUGH):
            return x
        self.fail(node, "module type not supported")

    def _function(self, node: fx.Node) -> str | None:
        t = node.target
        if t == "size" or t is getattr:
            return None
        if t in RELU_FUNCS or t == "relu":
            return self._relu(self._in(node), RELU_FUNCS.get(t, Activation.RELU), node.name)
        if t is F.pad:
            mode = node.kwargs.get("mode", node.args[2] if len(node.args) > 2 else "constant")
            value = node.kwargs.get("value", node.args[3] if len(node.args) > 3 else None) or 0.0
            if mode != "constant":
                self.fail(node, f"{mode} padding is not supported (constant zeros are)")
            return self._pad(node, self._in(node), node.args[1], value, node.name)
        if t in UNARY_FUNCS:
            x = self._in(node)
            return self._elementwise(x, self.b.unary(UNARY_FUNCS[t], x, node.name))
        if t is F.interpolate:
            def arg(key, i, default=None):
                return node.kwargs.get(key, node.args[i] if len(node.args) > i else default)
            return self._upsample(node, self._in(node), arg("size", 1), arg("scale_factor", 2),
                                  arg("mode", 3, "nearest"), arg("align_corners", 4), node.name)
        if t in (F.leaky_relu, "leaky_relu"):
            slope = node.kwargs.get("negative_slope", node.args[1] if len(node.args) > 1 else 0.01)
            return self._leaky_relu(self._in(node), slope, node.name)
        for kind, funcs, method in ((OpKind.ADD, ADD_FUNCS, "add"), (OpKind.SUB, SUB_FUNCS, "sub"),
                                    (OpKind.MUL, MUL_FUNCS, "mul"), (OpKind.MAXIMUM, MAX_FUNCS, "maximum"),
                                    (OpKind.MINIMUM, MIN_FUNCS, "minimum")):
            if t in funcs or t == method:
                return self._binary(node, kind)
        if t in FLATTEN:
            return self._reshape(node, self._in(node), node.name)
        if t in (torch.matmul, operator.matmul, torch.bmm, "matmul", "bmm"):
            a, b = self._in(node, 0), self._in(node, 1)
            if not 2 < len(self.b.shape(a)) == len(self.b.shape(b)) < 4 or a in self.nchw or b in self.nchw:
                self.fail(node, "matmul of 3-D tensors (a batch of matrices, the batch axis first) is supported")
            return self.b.batch_matmul(a, b, node.name)
        if t in (torch.permute, "permute", torch.transpose, "transpose"):
            return self._permute(node, self._in(node))
        if t in (torch.mean, "mean"):
            return self._mean(node, self._in(node))
        if t in CONCAT_FUNCS:
            return self._concatenation(node)
        if t is operator.getitem and node.args[0].name in self.lstm:
            if node.args[1] != 0 and node.users:
                self.fail(node, "an LSTM's final states (h_n, c_n) are not followed: take its output sequence "
                                "(out[:, -1:] is the last step's hidden state)")
            return self._in(node) if node.args[1] == 0 else None
        if t is operator.getitem:
            return self._slice(node, self._in(node), node.args[1], node.name)
        if t in (F.softmax, torch.softmax, "softmax"):
            return self._softmax(node, self._in(node), node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None), node.name)
        if t is F.linear:
            w, b = (self.traced.get_parameter(a.target) if isinstance(a, fx.Node) else None
                    for a in (node.args[1], node.args[2] if len(node.args) > 2 else None))
            return self._linear(w, b, self._in(node), node.name)
        self.fail(node, "function not supported")

    def _lstm(self, node, m: nn.LSTM, x: str, name: str) -> str:
        """nn.LSTM as one UNIDIRECTIONAL_SEQUENCE_LSTM per layer: torch's gate order (input, forget, cell,
        output) is TFLite's; the two biases add up to TFLite's one. Deployed, the states are TFLite variables that
        each invocation continues from (TFLite Micro's semantics), where torch starts every call from zero."""
        if len(node.args) > 1 or node.kwargs:
            self.fail(node, "initial states are not supported: the LSTM starts from zero states")
        if m.bidirectional or m.proj_size or not m.batch_first or len(self.b.shape(x)) != 3 or x in self.nchw:
            self.fail(node, "only unidirectional LSTMs without projection, batch_first=True (samples first, as "
                            "edgeq's inputs), over 3-D sequences are supported")
        for layer in range(m.num_layers):
            w_in, w_rec = (_np(getattr(m, f"weight_{k}_l{layer}")).reshape(4, m.hidden_size, -1) for k in ("ih", "hh"))
            b = _np(getattr(m, f"bias_ih_l{layer}") + getattr(m, f"bias_hh_l{layer}")) if m.bias \
                else np.zeros(4 * m.hidden_size, np.float32)
            x = self.b.lstm(x, w_in, w_rec, b.reshape(4, -1), False,
                            name if m.num_layers == 1 else f"{name}/layer_{layer}")
        self.lstm.add(node.name)
        return x

    def _conv(self, node, m: nn.Conv2d, x: str, name: str) -> str:
        k, stride = _pair(m.kernel_size), _pair(m.stride)
        if _pair(m.dilation) != (1, 1) or m.padding_mode != "zeros":
            self.fail(node, "dilated convolutions and non-zero padding modes are not supported")
        depthwise = m.groups > 1
        if depthwise and (m.groups != m.in_channels or m.out_channels % m.in_channels):
            self.fail(node, f"grouped convolution (groups={m.groups}) is neither plain nor depthwise")
        w = _np(m.weight)                                  # [O, I/g, kh, kw]
        w = np.transpose(w, NHWC)                          # [O, kh, kw, I/g]
        return self.b.conv(x, w, None if m.bias is None else _np(m.bias), stride, self._padding(node, m, k, stride),
                           name, depthwise=depthwise)

    def _transpose_conv(self, node, m: nn.ConvTranspose2d, x: str, name: str) -> str:
        """nn.ConvTranspose2d as TRANSPOSE_CONV. torch crops `padding` off both ends of the full output ((in - 1) x
        stride + kernel) and adds `output_padding` at the end; TFLite's VALID crops nothing and SAME (output in x
        stride) crops (kernel - stride) / 2 from each end, so padding 0 is VALID and padding (kernel - stride) / 2,
        kernel - stride even, is SAME. torch's weight [in, out, kh, kw] is TFLite's filter [out, kh, kw, in] (both
        scatter each input pixel, no flip)."""
        k, stride, pad = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
        if m.groups != 1 or _pair(m.dilation) != (1, 1) or _pair(m.output_padding) != (0, 0) \
                or m.padding_mode != "zeros":
            self.fail(node, "grouped, dilated or output-padded transposed convolutions are not supported")
        if pad == (0, 0):
            padding = Padding.VALID
        elif all(kk >= s and (kk - s) % 2 == 0 and p == (kk - s) // 2 for kk, s, p in zip(k, stride, pad)):
            padding = Padding.SAME
        else:
            self.fail(node, f"padding={m.padding} with kernel {k} and stride {stride} is neither TFLite VALID "
                            "(padding 0) nor SAME (padding (kernel - stride) / 2, kernel - stride even)")
        w = np.transpose(_np(m.weight), (1, 2, 3, 0))                    # [in, out, kh, kw] -> [out, kh, kw, in]
        return self.b.transpose_conv(x, w, None if m.bias is None else _np(m.bias), stride, padding, name)

    def _padding(self, node, m: nn.Conv2d, k, stride) -> Padding:
        if m.padding == "same":
            return Padding.SAME
        if m.padding == "valid" or _pair(m.padding) == (0, 0):
            return Padding.VALID
        if stride == (1, 1) and all(kk % 2 and p == (kk - 1) // 2 for kk, p in zip(k, _pair(m.padding))):
            return Padding.SAME
        self.fail(node, f"padding={m.padding} at stride {stride} is not TFLite SAME/VALID (SAME pads the extra "
                        "row at the bottom): use padding=0, or stride 1 with padding=(k-1)//2")

    def _linear(self, weight, bias, x: str, name: str) -> str:
        w = _np(weight)
        if x in self.nchw:                                  # columns in NCHW flatten order -> NHWC order
            c, h, ww = self.nchw[x]
            w = w.reshape(len(w), c, h, ww).transpose(NHWC).reshape(len(w), -1)
        return self.b.dense(x, w, None if bias is None else _np(bias), name)

    def _reshape(self, node, x: str, name: str) -> str:
        shape = tuple(node.meta["tensor_meta"].shape)
        src = self.b.shape(x)
        if len(shape) != 2:
            self.fail(node, f"reshape to {list(shape)}: only flattening to [N, features] is supported")
        out = self.b.reshape(x, (1, shape[1]), name)
        if len(src) == 4 and src[1] * src[2] > 1:
            self.nchw[out] = (src[3], src[1], src[2])
        return out

    def _binary(self, node, kind: OpKind) -> str:
        """ADD, SUB, MUL, MAXIMUM, MINIMUM; of flattened feature maps (kept in NCHW order, see _reshape) only when
        both are flattened alike, or one is and the other has its shape. A Python number (x * 0.5, 1 - x) is a
        constant operand of shape [1, ...], quantized as its value (scheme.constant_qparams)."""
        number = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in node.args[:2]]
        if len(node.args) != 2 or all(number):
            self.fail(node, "takes two operands, at least one of them a tensor")
        a, b = (self.b.scalar(float(node.args[i]), self._in(node, 1 - i), node.name) if number[i]
                else self._in(node, i) for i in range(2))
        out = self.b.elementwise(kind, a, b, node.name)
        flat = {self.nchw[v] for v in (a, b) if v in self.nchw}
        if flat:
            if len(flat) > 1 or self.b.shape(a) != self.b.shape(b):
                self.fail(node, "combining a flattened feature map with a tensor of another shape or order is not "
                                "supported: combine them before flattening")
            self.nchw[out] = flat.pop()
        return out

    def _permute(self, node, x: str) -> str:
        """x.permute(dims) / x.transpose(a, b) keeping the batch axis first: TRANSPOSE. A 4-D result is NCHW to
        what follows, like every 4-D tensor here, so the IR's permutation maps NHWC to NHWC through it."""
        rank = len(self.b.shape(x))
        args = list(node.args[1:]) or [node.kwargs.get(k) for k in ("dims", "dim0", "dim1") if k in node.kwargs]
        if node.target in (torch.transpose, "transpose"):
            a, b = (int(d) % rank for d in args)
            dims = list(range(rank))
            dims[a], dims[b] = b, a
        else:
            dims = [int(d) % rank for d in (args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args)]
        if x in self.nchw or sorted(dims) != list(range(rank)) or dims[0] != 0:
            self.fail(node, f"permuting {rank}-D dims {dims}: the batch axis must stay first, of a tensor not "
                            "flattened")
        perm = [NCHW[dims[NHWC[e]]] for e in range(4)] if rank == 4 else dims
        return self.b.transpose(x, perm, node.name)

    def _mean(self, node, x: str) -> str:
        """x.mean(dims, keepdim) over any dims but the batch: MEAN over the IR's axes (NCHW dims of a feature map
        mapped to NHWC; global average pooling is x.mean((2, 3)))."""
        dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        keep = bool(node.kwargs.get("keepdim", node.args[2] if len(node.args) > 2 else False))
        dims = dims if isinstance(dims, (tuple, list)) else (dims,)
        rank = len(self.b.shape(x))
        if not dims or not all(isinstance(d, int) and -rank <= d < rank and d % rank for d in dims) \
                or x in self.nchw:
            self.fail(node, f"mean over dims {dims}: give the dims (not the batch axis) of a tensor that is not a "
                            "flattened feature map")
        axes = [NHWC.index(d % rank) if rank == 4 else d % rank for d in dims]
        kept = [d for d in range(rank) if d not in {d % rank for d in dims}]
        if rank == 4 and not keep and kept != [NHWC[a] for a in sorted(NHWC.index(d) for d in kept)]:
            self.fail(node, f"mean over dims {dims} without keepdim leaves channels before rows or columns, which "
                            "the IR keeps in NHWC order: use keepdim=True, or reduce the channels too")
        return self.b.mean(x, axes, keep, node.name)

    def _concatenation(self, node) -> str:
        """torch.cat along any axis but the batch, of tensors of one rank (4-D: NCHW)."""
        tensors = node.args[0] if node.args else node.kwargs.get("tensors")
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
        if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, fx.Node) and t.name in self.value
                                                            for t in tensors):
            self.fail(node, "concatenates something other than tensors edgeq follows")
        xs = [self.value[t.name] for t in tensors]
        if any(x in self.nchw for x in xs):
            self.fail(node, "concatenating flattened feature maps is not supported: concatenate, then flatten")
        rank = len(self.b.shape(xs[0]))
        dim = dim % rank if isinstance(dim, int) else None
        if not dim:
            self.fail(node, "concatenating along the batch axis (or a computed one) is not supported")
        return self.b.concatenation(xs, NHWC.index(dim) if rank == 4 else dim, node.name)

    def _slice(self, node, x: str, index, name: str) -> str:
        """x[...] with slices (torch's steps are positive) over every axis but the batch: STRIDED_SLICE, its axes
        NHWC for a 4-D feature map."""
        if x in self.nchw:
            self.fail(node, "slicing a flattened feature map is not supported: slice before flattening")
        shape = tuple(node.args[0].meta["tensor_meta"].shape)
        index = index if isinstance(index, tuple) else (index,)
        if Ellipsis in index:
            k = index.index(Ellipsis)
            index = index[:k] + (slice(None),) * (len(shape) - len(index) + 1) + index[k + 1:]
        index = index + (slice(None),) * (len(shape) - len(index))
        if len(index) != len(shape) or not all(isinstance(i, slice) and not any(isinstance(v, fx.Node) for v in
                                                                               (i.start, i.stop, i.step))
                                               for i in index):
            self.fail(node, f"indexing with {index}: only constant slices are supported (an integer index drops an "
                            "axis: write i:i+1)")
        if index[0] != slice(None):
            self.fail(node, "slicing the batch axis is not supported")
        begin, end, strides = zip(*(i.indices(d) for i, d in zip(index, shape)))
        nhwc = NHWC if len(shape) == 4 else range(len(shape))
        return self.b.strided_slice(x, *([v[a] for a in nhwc] for v in (begin, end, strides)), name)

    def _softmax(self, node, x: str, dim, name: str) -> str:
        if dim not in (-1, len(self.b.shape(x)) - 1):
            self.fail(node, f"softmax over dim {dim}: only the last axis is supported")
        return self.b.softmax(x, name)


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
