"""TFLite frontend: .tflite flatbuffers <-> the IR (flatbuffers' low-level API; no TensorFlow needed)."""
from .reader import read_tflite
from .writer import write_tflite

__all__ = ["read_tflite", "write_tflite"]
