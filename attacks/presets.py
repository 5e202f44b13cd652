"""Attack parameters by preset. `dg` is the David-and-Goliath study's configuration (MiguelCosta94/
QNN-Adversarial-Robustness, run_cifar_attacks.sh), on inputs in [0, 1]; `quick` keeps every attack but cuts
iterations so that the whole suite runs in minutes on two cores (CI, `make demo`).

A list under `eps` is a sweep: the audit runs the attack once per value."""
from __future__ import annotations

import copy
import math

from edgeq.errors import EdgeqError

from .suite import SUITE

PGD_EPS_DG = [0.0002, 0.0004, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008]
# From "no effect" to near 0 on the digits demo (8x8 images, 1/16 grey levels): device accuracy of the emulated
# int8 CNN under quick PGD crafted on its twin, 450 test images: 0.976 / 0.933 / 0.716 / 0.089 (clean 0.984);
# the grid before, [0.002, 0.01, 0.03, 0.1], left it at 0.982 / 0.976 / 0.964 / 0.716.
PGD_EPS_QUICK = [0.01, 0.05, 0.1, 0.2]

PRESETS: dict[str, dict[str, dict]] = {
    "dg": {
        "pgd_linf": {"eps": PGD_EPS_DG, "max_iter": 20, "num_random_init": 20},
        "cw_l2": {"max_iter": 10, "binary_search_steps": 10, "initial_const": 0.01},
        "cw_linf": {"max_iter": 10, "learning_rate": 0.01},
        "deepfool": {"max_iter": 100, "epsilon": 0.008},
        "ead": {"max_iter": 10, "binary_search_steps": 10, "initial_const": 0.01},
        "jsma": {"theta": 0.08, "gamma": 1.0},
        "autoattack": {"eps": 0.004, "max_iter": 100, "num_random_init": 5, "square_max_iter": 5000},
        "square_l2": {"eps": 1.0, "p_init": 0.8, "max_iter": 2000},
        "square_linf": {"eps": 0.015, "p_init": 0.05, "max_iter": 1000},
        "zoo": {"max_iter": 10, "binary_search_steps": 5, "initial_const": 0.01},
        "boundary": {"delta": 0.1, "epsilon": 1.0, "max_iter": 500},
        "geoda": {"sub_dim": 75, "bin_search_tol": 1e-4, "max_iter": 4000},
    },
    "quick": {
        "pgd_linf": {"eps": PGD_EPS_QUICK, "max_iter": 10, "num_random_init": 1},
        "cw_l2": {"max_iter": 10, "binary_search_steps": 3, "initial_const": 1.0, "learning_rate": 0.1},
        "cw_linf": {"max_iter": 10, "learning_rate": 0.05},
        "deepfool": {"max_iter": 50, "epsilon": 0.02},
        "ead": {"max_iter": 10, "binary_search_steps": 3, "initial_const": 1.0, "learning_rate": 0.1},
        "jsma": {"theta": 0.3, "gamma": 1.0},
        "autoattack": {"eps": 0.1, "max_iter": 20, "num_random_init": 1, "square_max_iter": 100},
        "square_l2": {"eps": 2.0, "p_init": 0.8, "max_iter": 100},
        "square_linf": {"eps": 0.15, "p_init": 0.3, "max_iter": 100},
        "zoo": {"max_iter": 20, "binary_search_steps": 2, "initial_const": 10.0, "learning_rate": 0.5,
                "nb_parallel": 16, "variable_h": 0.02},
        "boundary": {"delta": 0.1, "epsilon": 1.0, "max_iter": 30, "num_trial": 10, "sample_size": 10},
        "geoda": {"sub_dim": 8, "bin_search_tol": 1e-3, "max_iter": 400},
    },
}


COUNTS = {"max_iter", "num_random_init", "batch_size", "binary_search_steps", "nb_grads", "nb_parallel",
          "nb_restarts", "num_trial", "sample_size", "init_size", "sub_dim", "square_max_iter", "seed"}


def resolve(preset: str, attacks: str | list[str] = "all", overrides: dict[str, dict] | None = None) -> dict:
    """{attack: params} for `preset`, restricted to `attacks` ("all", a comma list or a list), with
    per-attack `overrides` merged over the preset's values."""
    if preset not in PRESETS:
        raise EdgeqError(f"unknown attack preset {preset!r}; choose one of {', '.join(PRESETS)}")
    table = PRESETS[preset]
    names = list(table) if attacks == "all" else (attacks.split(",") if isinstance(attacks, str) else list(attacks))
    for option, given in (("--attacks", names), ("--params", list(overrides or {}))):
        unknown = [n for n in given if n not in table]
        if unknown:
            raise EdgeqError(f"{option}: unknown attack(s) {', '.join(repr(n) for n in unknown)}; the suite has "
                             f"{', '.join(table)}")
    chosen = {n: copy.deepcopy(table[n]) for n in names}
    for name, params in (overrides or {}).items():
        if not isinstance(params, dict):
            raise EdgeqError(f"--params: {name} takes an object of parameters, e.g. {{\"{name}\": {{...}}}}")
        known = set(table[name]) | set(SUITE[name].optional)
        unknown = sorted(set(params) - known)
        if unknown:
            raise EdgeqError(f"--params: {name} has no parameter {', '.join(unknown)}; it takes "
                             f"{', '.join(sorted(known))}")
        for key, value in params.items():
            values = value if isinstance(value, list) and key == "eps" else [value]
            if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                     and math.isfinite(v) and v >= 0 for v in values):
                raise EdgeqError(f"--params: {name}.{key} must be a number >= 0"
                                 f"{' or a list of them' if key == 'eps' else ''}, not {value!r}")
            if key in COUNTS:
                least = 0 if key in ("num_random_init", "seed") else 1
                if not (float(value).is_integer() and value >= least):
                    raise EdgeqError(f"--params: {name}.{key} counts something: a whole number >= {least}, "
                                     f"not {value!r}")
                params[key] = int(value)
        if name in chosen:
            chosen[name].update(params)
    if "geoda" in chosen:
        from .geoda import check_max_iter
        check_max_iter(chosen["geoda"]["max_iter"])
    return chosen
