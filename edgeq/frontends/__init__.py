"""Frontends: each turns a model format into the IR (and, for TFLite, back). Frameworks are imported lazily."""
