"""SVDF: svdf_common.cc's PrepareSvdf for int8 input and output with int16 time weights and state."""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import DType
from . import qmath
from .operands import Operands


@dataclass(frozen=True)
class SvdfParams:
    """Each invocation shifts every filter's state left by one, writes each filter's new feature there (the input
    times its feature weights, requantized by multiplier_1 into the state's int16), sums each filter's state times
    its time weights, each unit's `rank` filters plus bias, and requantizes those by multiplier_2 into the
    output. The state holds [batch, filters, memory] int16 values, zero at start."""
    batch: int
    input_size: int
    filters: int
    rank: int
    memory: int
    input_offset: int              # the input's zero point, subtracted (CMSIS-NN's svdf input_offset)
    output_offset: int
    multiplier_1: int
    shift_1: int
    multiplier_2: int
    shift_2: int

    @property
    def units(self) -> int:
        return self.filters // self.rank


def prepare_svdf(ops: Operands) -> SvdfParams:
    x, features, time, bias, state, y = (*(ops.input(i) for i in range(5)), ops.output)
    for t in (x, y):
        ops.require_dtype(t, DType.INT8)
    ops.require_dtype(features, DType.INT8)
    ops.require_dtype(time, DType.INT16)
    ops.require_dtype(state, DType.INT16)
    if bias is None:
        ops.fail("SVDF without a bias: TFLite Micro's kernel reads one")
    ops.require_zero_point(state, 0, "the int16 SVDF kernels read the state as symmetric")
    (in_scale, in_zp), (out_scale, out_zp) = ops.per_tensor(x), ops.per_tensor(y)
    w_scale, time_scale, state_scale = (ops.per_tensor(t)[0] for t in (features, time, state))
    bias_scale = ops.per_tensor(bias)[0]
    if abs(bias_scale - state_scale * time_scale) >= 1e-5:
        ops.fail(f"bias scale {bias_scale:g} is not the state's times the time weights' "
                 f"({state_scale:g} x {time_scale:g}), as TFLite Micro requires", bias)
    batch, input_size = x.shape
    filters, memory = time.shape
    # In double, as for FULLY_CONNECTED: PrepareSvdf's source multiplies the float32 scales in float32, but the
    # tflite-micro oracle computes the double product (60 models whose two multipliers differ: the state it wrote
    # over 200 invocations agreed with the double product in all 60, with the float32 one in 40)
    m1, s1 = qmath.quantize_multiplier(in_scale * w_scale / state_scale)
    m2, s2 = qmath.quantize_multiplier(state_scale * time_scale / out_scale)
    return SvdfParams(batch=batch, input_size=input_size, filters=filters, rank=ops.op.attrs.rank, memory=memory,
                      input_offset=in_zp, output_offset=out_zp, multiplier_1=m1, shift_1=s1, multiplier_2=m2,
                      shift_2=s2)
