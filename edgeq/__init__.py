"""edgeq: take a quantized network to a Cortex-M microcontroller, run it in emulation, audit its robustness."""

__version__ = "0.1.0"
