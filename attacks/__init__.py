"""Robustness audit of a deployed network: the device as an ART estimator, the David-and-Goliath attack suite,
metrics and a resumable audit loop. Imports no part of edgeq but its errors: models arrive as predict functions
(callables over float inputs in [0, 1], NHWC) and torch modules."""
