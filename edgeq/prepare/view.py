"""An op that copies its input's values into a new order, as a strided view: STRIDED_SLICE, TRANSPOSE,
DEPTH_TO_SPACE and SPACE_TO_DEPTH all prepare one, and the reference executor and the firmware's gather loop both
read it (one home for where each output value comes from)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_AXES = 6                   # TFLite Micro's limit for TRANSPOSE; DEPTH_TO_SPACE and SPACE_TO_DEPTH need 6


@dataclass(frozen=True)
class StridedView:
    """The output as nested axes in row-major order (1 to MAX_AXES): element (i_0, i_1, ...) is the input's flat
    element base + i_0 * step[0] + i_1 * step[1] + ... (a step may be negative)."""
    base: int
    count: tuple[int, ...]
    step: tuple[int, ...]

    def indices(self) -> np.ndarray:
        """The input's flat index of every output element, in the output's row-major order."""
        index = np.array(self.base)
        for n, s in zip(self.count, self.step):
            index = index[..., None] + np.arange(n) * s
        return index.reshape(-1)


def broadcast_view(shape, out_shape) -> StridedView:
    """An input of an elementwise op read along the output's axes (numpy's broadcasting, as TFLite's: shapes aligned
    at their last axes): step 0 where the input's axis has length 1, or is missing, against a longer one."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    steps = row_major_steps(shape)
    return StridedView(0, tuple(out_shape), tuple(0 if n == 1 and m != 1 else s
                                                  for n, m, s in zip(shape, out_shape, steps)))


def row_major_steps(shape) -> tuple[int, ...]:
    """Each axis's step in flat elements of a row-major tensor of `shape`."""
    return tuple(int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape)))
