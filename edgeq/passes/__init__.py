"""Lowering passes: rewrites of an integer graph that the reference executor and the code generator both run
before prepare, so each rewrite is decided once, visibly, and checked by `verify` after it (TFLite Micro and TVM's
CMSIS-NN backend lower the same way before their kernels see the graph).

Each pass is a module with `apply(graph) -> graph` that returns a new graph (the input is left as it was) and
leaves a graph it does not apply to unchanged, so lowering twice is lowering once. What a frontend does while
building the float IR (BatchNorm folding, ReLU fusion: frontends.floatgraph) and what the quantizer writes into
the .tflite (QUANTIZE between int8 and int16: quantize.ptq) stay there: they are part of the model, not of how
edgeq runs it.
"""
from __future__ import annotations

from ..ir import Graph, verify
from . import fc_as_conv

PIPELINE = (fc_as_conv,)


def lower(graph: Graph) -> Graph:
    """`graph` with every pass of PIPELINE applied in order, verified after each."""
    for lowering in PIPELINE:
        graph = verify(lowering.apply(graph))
    return graph
