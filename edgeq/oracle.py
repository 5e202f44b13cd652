"""TFLite Micro's reference kernels (PyPI tflite-micro) run on a .tflite: the bit-exact oracle the firmware and
the reference executor are held to. Imported lazily: only the demo, benchmarks and tests need it."""
from __future__ import annotations

import numpy as np


def tflm_run(tflite_bytes: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs for `inputs` (one array per model input, samples stacked on a leading axis as ir.sample_shape says),
    one sample at a time, in order, on one interpreter (a model with state carries it from sample to sample); one
    array per model output, stacked the same way."""
    from tflite_micro.python.tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    from .ir import sample_shape

    subgraph = tfl.Model.GetRootAsModel(tflite_bytes, 0).Subgraphs(0)
    shapes = [tuple(subgraph.Tensors(subgraph.Inputs(i)).ShapeAsNumpy()) for i in range(subgraph.InputsLength())]
    interpreter = runtime.Interpreter.from_bytes(tflite_bytes, arena_size=10 * len(tflite_bytes) + (1 << 20))
    outputs: list[list[np.ndarray]] = [[] for _ in range(subgraph.OutputsLength())]
    for k in range(len(inputs[0])):
        for i, (x, shape) in enumerate(zip(inputs, shapes)):
            interpreter.set_input(x[k].reshape(shape), i)
        interpreter.invoke()
        for j, o in enumerate(outputs):
            y = interpreter.get_output(j)
            o.append(y.reshape(sample_shape(y.shape)).copy())
    return [np.stack(o) for o in outputs]
