"""An op that copies its input's values into a new order, as a strided view: STRIDED_SLICE and TRANSPOSE both
prepare one, and the reference executor and the firmware's gather loop both read it (one home for where each output
value comes from)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StridedView:
    """Output element (a, b, c, d), the output seen as 4-D (leading dimensions of 1 added), is the input's flat
    element base + a * step[0] + b * step[1] + c * step[2] + d * step[3] (a step may be negative)."""
    base: int
    count: tuple[int, int, int, int]
    step: tuple[int, int, int, int]

    def indices(self) -> np.ndarray:
        """The input's flat index of every output element, in the output's row-major order."""
        axes = [np.arange(n) * s for n, s in zip(self.count, self.step)]
        return (self.base + axes[0][:, None, None, None] + axes[1][None, :, None, None] + axes[2][None, None, :, None]
                + axes[3][None, None, None, :]).reshape(-1)


def row_major_steps(shape) -> tuple[int, ...]:
    """Each axis's step in flat elements of a row-major tensor of `shape`."""
    return tuple(int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape)))
