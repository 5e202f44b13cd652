"""IR validator, run after the frontend and after every pass: catches a broken graph before it reaches C."""
from __future__ import annotations

from ..errors import GraphInvariantError
from .graph import Graph
from .ops import ATTRS_OF, STATEFUL
from .types import DType


def verify(graph: Graph) -> Graph:
    """Check names resolve, ops are topologically ordered, attrs match kinds, constants match shapes."""
    def fail(msg: str):
        raise GraphInvariantError(f"{graph.source}: {msg}")

    for name, t in graph.tensors.items():
        if t.name != name:
            fail(f"tensor registered as {name!r} is named {t.name!r}")
        if t.data is not None:
            if tuple(t.data.shape) != tuple(t.shape):
                fail(f"constant {name!r} has data of shape {t.data.shape}, declared {t.shape}")
            if t.data.dtype != t.dtype.numpy:
                fail(f"constant {name!r} holds {t.data.dtype}, declared {t.dtype.value}")
            if t.dtype is DType.INT4 and (t.data.min(initial=0) < -8 or t.data.max(initial=0) > 7):
                fail(f"int4 constant {name!r} has values outside [-8, 7]")
        if t.variable and (t.is_const or name in graph.inputs or name in graph.outputs):
            fail(f"variable {name!r} is {'a constant' if t.is_const else 'a graph input or output'}")
    variables = {n for n, t in graph.tensors.items() if t.variable}
    for i, op in enumerate(graph.ops):
        slots = STATEFUL.get(op.kind, ())
        if any(n in variables for k, n in enumerate(op.inputs) if k not in slots):
            fail(f"{op.where(i)} reads a variable; only {', '.join(k.value for k in STATEFUL)} keep state, in their "
                 "state inputs")
    available = set(graph.inputs) | {n for n, t in graph.tensors.items() if t.is_const} | variables
    for n in graph.inputs + graph.outputs:
        if n not in graph.tensors:
            fail(f"graph input/output {n!r} is not a tensor")
    for i, op in enumerate(graph.ops):
        if not isinstance(op.attrs, ATTRS_OF[op.kind]):
            fail(f"{op.where(i)} has attrs {type(op.attrs).__name__}, expected {ATTRS_OF[op.kind].__name__}")
        for n in op.inputs:
            if n is None:
                continue
            if n not in graph.tensors:
                fail(f"{op.where(i)} reads unknown tensor {n!r}")
            if n not in available:
                fail(f"{op.where(i)} reads {n!r} before it is produced")
        for n in op.outputs:
            if n not in graph.tensors:
                fail(f"{op.where(i)} writes unknown tensor {n!r}")
            if n in available:
                fail(f"{op.where(i)} writes {n!r}, which already has a value")
            available.add(n)
    for n in graph.outputs:
        if n not in available:
            fail(f"graph output {n!r} is never produced")
    return graph
