"""TFLite Micro's reference kernels (PyPI tflite-micro) run on a .tflite: the bit-exact oracle the firmware and
the reference executor are held to. Imported lazily: only the demo, benchmarks and tests need it."""
from __future__ import annotations

import numpy as np


def tflm_run(tflite_bytes: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Outputs for `inputs` (one array per model input, samples stacked on the batch axis), one sample at a
    time; one array per model output, stacked the same way."""
    from tflite_micro.python.tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    n_outputs = tfl.Model.GetRootAsModel(tflite_bytes, 0).Subgraphs(0).OutputsLength()
    interpreter = runtime.Interpreter.from_bytes(tflite_bytes, arena_size=10 * len(tflite_bytes) + (1 << 20))
    outputs: list[list[np.ndarray]] = [[] for _ in range(n_outputs)]
    for k in range(len(inputs[0])):
        for i, x in enumerate(inputs):
            interpreter.set_input(x[k:k + 1], i)
        interpreter.invoke()
        for j in range(n_outputs):
            outputs[j].append(interpreter.get_output(j).copy())
    return [np.concatenate(o) for o in outputs]
