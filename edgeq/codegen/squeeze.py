"""Feature squeezing in the firmware: the squeezers as C in front of the model (a preprocessor) or beside it (the
detector), their rows of the layer table, and the checks that a model can take them.

The squeezers' meaning is edgeq.attacks.defenses.squeeze (the host implementation, which api uses to bake the
bit-depth table); here they are only rendered (cmsis_templates/squeeze.c.j2), so the firmware and the host agree
byte for byte:
- bit depth: a table from input level to input level, in flash (`const int8_t edgeq_bit_depth_table[256]`),
  applied in place to the input in the arena;
- 2x2 median: per channel, the larger middle value of x[i][j], x[i][j-1], x[i-1][j], x[i-1][j-1] with the row
  and column indices clamped at 0 (scipy's median_filter size 2, mode "reflect"), in place: rows and columns run
  from the last to the first, so each output only reads inputs not yet overwritten;
- the detector runs the model on the raw input (its outputs are the ones returned), then once per squeezer on
  the squeezed input, and flags the input when the larger L1 distance between the outputs, counted in output
  steps (sum |q_raw - q_squeezed|), exceeds `detect_steps`. The raw input stays in the caller's buffer (read
  again for each pass) and the raw outputs in the caller's output buffer, so the arena grows by nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UnsupportedModelError, UsageError
from ..ir import ACTIVATION_TYPES, DType, Graph

SQUEEZERS = ("bit_depth", "median")
PREPROCESS = {"bit_depth": ("bit_depth",), "median": ("median",), "squeeze": ("bit_depth", "median")}
FUNCTIONS = {"bit_depth": "edgeq_squeeze_bit_depth", "median": "edgeq_squeeze_median"}
# the detector's own code (the layers move into edgeq_layers, the model's code, called once per pass)
DETECT_FUNCTIONS = ("edgeq_detect", "edgeq_detect_l1", "edgeq_no_mark")
TABLE = "edgeq_bit_depth_table"
# What the detector appends to each output (int32 little-endian each), in this order
DETECT_RECORD = ("flag", "l1_bit_depth", "l1_median")
DETECT_RECORD_BYTES = 4 * len(DETECT_RECORD)
ROW_OPS = {"bit_depth": "SQUEEZE_BIT_DEPTH", "median": "SQUEEZE_MEDIAN_2X2"}


@dataclass(frozen=True)
class Squeezing:
    """What model.c runs besides the layers. `squeezers` run in this order on the input before the first layer
    (preprocess), or, with `detect_steps` set, each on its own pass of the detector (then always both, bit depth
    first). `table`: the bit-depth table, entry k for input level qmin + k (int8: 256 entries)."""

    squeezers: tuple[str, ...]
    table: np.ndarray = field(repr=False)
    bits: int
    detect_steps: int | None = None

    @property
    def detector(self) -> bool:
        return self.detect_steps is not None

    @property
    def table_needed(self) -> bool:
        return "bit_depth" in self.squeezers

    @property
    def functions(self) -> tuple[str, ...]:
        """The C functions this adds to model.c (their sizes are its code bytes)."""
        return tuple(FUNCTIONS[s] for s in self.squeezers) + (DETECT_FUNCTIONS if self.detector else ())


def check_squeezable(graph: Graph, squeezing: Squeezing) -> None:
    """The squeezers work on int8 inputs (the table has one entry per level), the median on NHWC images, the
    detector on integer outputs; anything else is refused in one line naming the option."""
    option = "--detect-threshold" if squeezing.detector else "--preprocess"
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(f"{graph.source}: {option} squeezes the one input of a classifier; this model has "
                                    f"{len(graph.inputs)} inputs and {len(graph.outputs)} outputs")
    x = graph.tensors[graph.inputs[0]]
    if x.dtype is not DType.INT8:
        raise UnsupportedModelError(f"{graph.source}: {option} squeezes int8 inputs; this model's input "
                                    f"{x.name!r} is {x.dtype.value} (compile it without {option})")
    if "median" in squeezing.squeezers and len(x.shape) != 4:
        raise UnsupportedModelError(f"{graph.source}: {option}: the 2x2 median filter needs an image input "
                                    f"[N, H, W, C]; this model's input {x.name!r} is {list(x.shape)}"
                                    + ("" if squeezing.detector else " (use --preprocess bit_depth)"))
    if squeezing.table.shape != (x.dtype.qmax - x.dtype.qmin + 1,):
        raise UsageError(f"the bit-depth table has {squeezing.table.size} entries, not "
                         f"{x.dtype.qmax - x.dtype.qmin + 1}")
    y = graph.tensors[graph.outputs[0]]
    if squeezing.detector and (y.dtype not in ACTIVATION_TYPES or y.qparams is None):
        raise UnsupportedModelError(f"{graph.source}: {option}: the detector compares quantized outputs; this "
                                    f"model's output {y.name!r} is {y.dtype.value}")
    if squeezing.detector and y.size * (y.dtype.qmax - y.dtype.qmin) > 2 ** 31 - 1:
        raise UnsupportedModelError(f"{graph.source}: {option}: the output {y.name!r} ({y.size} values) is too "
                                    "large for the detector's int32 L1 distance")
