"""A float model as the user names it on the command line: `path/to/file.py:ClassName` (built without arguments,
loading a state_dict given with --weights), or a module saved whole with torch.save. Every way it can go wrong is
one UsageError naming the file and what to do."""
from __future__ import annotations

import importlib.util
import inspect
import os
from pathlib import Path

import torch

from ...errors import UsageError
from ...inputs import existing_file


def _from_class(spec: str) -> torch.nn.Module:
    path, _, cls = spec.rpartition(":")
    source = existing_file(path, "model source")
    module_spec = importlib.util.spec_from_file_location(source.stem, source)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        raise UsageError(f"{source} fails to import: {type(e).__name__}: {e}") from e
    found = getattr(module, cls, None)
    if not (inspect.isclass(found) and issubclass(found, torch.nn.Module)):
        modules = [n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, torch.nn.Module)
                   and not v.__module__.startswith("torch")]
        raise UsageError(f"{source} has no torch.nn.Module class {cls!r} (it has {', '.join(modules) or 'none'})")
    try:
        return found()
    except TypeError as e:
        raise UsageError(f"{spec}: the class must build without arguments ({e}); give it defaults, or a subclass "
                         "that passes them") from e


def _load(path: Path, what: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (ModuleNotFoundError, AttributeError) as e:      # a module saved whole names its class by import path
        raise UsageError(f"{what} {path} holds a module whose class cannot be imported here ({e}): put the folder "
                         "of its source on PYTHONPATH, or give path/to/file.py:Class with --weights (a state_dict)") \
            from e
    except Exception as e:
        raise UsageError(f"{what} {path} is not a file saved with torch.save ({type(e).__name__}: {e})") from e


def load_module(spec: str | os.PathLike, weights: str | os.PathLike | None = None) -> torch.nn.Module:
    """The float torch module named by `spec` (see the module docstring), in eval mode."""
    spec_text = str(spec)
    if ":" in Path(spec_text).name or (":" in spec_text and not Path(spec_text).exists()):
        model = _from_class(spec_text)
        if weights is None:
            raise UsageError(f"{spec_text}: give its trained weights with --weights (a state_dict); the class alone "
                             "has random weights")
        if weights is not None:
            state = _load(existing_file(weights, "weights"), "weights")
            if isinstance(state, torch.nn.Module):
                state = state.state_dict()
            if not isinstance(state, dict):
                raise UsageError(f"weights {weights} hold a {type(state).__name__}, not a state_dict")
            try:
                model.load_state_dict(state)
            except RuntimeError as e:
                first = str(e).strip().splitlines()
                raise UsageError(f"weights {weights} do not fit {spec_text}: "
                                 f"{' '.join(line.strip() for line in first[:3])}") from e
        return model.eval()
    path = existing_file(spec_text, "float model")
    if weights is not None:
        raise UsageError(f"--weights goes with a model given as path/to/file.py:ClassName, not with {path}")
    loaded = _load(path, "float model")
    if isinstance(loaded, dict):
        raise UsageError(f"float model {path} holds a state_dict (weights only); give the class that takes it: "
                         f"path/to/file.py:ClassName --weights {path}")
    if not isinstance(loaded, torch.nn.Module):
        raise UsageError(f"float model {path} holds a {type(loaded).__name__}, not a torch.nn.Module")
    return loaded.eval()


def first_channels(module: torch.nn.Module) -> int | None:
    """in_channels of the module's first 2-D convolution, if it starts with one."""
    first = next((m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))), None)
    return first.in_channels if isinstance(first, torch.nn.Conv2d) else None
