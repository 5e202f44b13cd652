"""The one-way data flow, checked: lower layers never import the stages above them."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "edgeq"

# module (path prefix under edgeq/) -> edgeq subpackages it must not import
FORBIDDEN = {
    "ir": {"frontends", "passes", "reference", "prepare", "plan", "codegen", "build", "emulate", "api", "cli",
           "report", "quantize"},
    "passes": {"frontends", "reference", "prepare", "plan", "codegen", "build", "emulate", "api", "cli", "report",
               "quantize"},
    "prepare": {"frontends", "reference", "codegen", "build", "emulate", "api", "cli", "report"},
    "reference": {"frontends", "codegen", "build", "emulate", "api", "cli", "report", "plan"},
    "frontends": {"quantize", "reference", "codegen", "build", "emulate", "api", "cli", "report", "plan"},
    "plan": {"frontends", "reference", "codegen", "build", "emulate", "api", "cli", "report"},
    "codegen": {"frontends", "reference", "build", "emulate", "api", "cli", "report"},
    "build": {"ir", "frontends", "reference", "prepare", "plan", "codegen", "emulate", "api", "cli", "report"},
    "kernel_code": {"ir", "frontends", "reference", "prepare", "plan", "codegen", "emulate", "api", "cli", "report",
                    "quantize"},
    "cmsis_nn": {"ir", "frontends", "reference", "prepare", "plan", "codegen", "build", "emulate", "api", "cli"},
    "firmware": {"ir", "frontends", "reference", "prepare", "plan", "codegen", "build", "emulate", "api", "cli"},
    "targets": {"ir", "frontends", "reference", "prepare", "plan", "codegen", "build", "emulate", "api", "cli"},
    "emulate": {"ir", "frontends", "reference", "prepare", "plan", "codegen", "build", "api", "cli", "report"},
    # quantize/twin takes its quantized values from the reference kernels (bit-exact by construction) and its
    # float forward from frontends.torch.forward
    "quantize": {"codegen", "build", "emulate", "api", "cli", "plan"},
    "report": {"ir", "frontends", "reference", "prepare", "plan", "codegen", "build", "emulate", "api", "cli"},
    # the stages api wires: a project folder, its squeezers, the compiler, the quantizer's pricing, the audit's setup
    "project": {"quantize", "squeezing", "deploy", "pricing", "audit_variants", "attacks"},
    "squeezing": {"quantize", "deploy", "pricing", "audit_variants"},
    "deploy": {"quantize", "pricing", "audit_variants", "attacks"},
    "pricing": {"audit_variants", "attacks"},
    "audit_variants": {"deploy", "pricing"},
    "float_models": {"quantize", "squeezing", "deploy", "pricing", "audit_variants", "project", "attacks"},
}
WIRING = {"api", "cli", "project", "squeezing", "deploy", "pricing", "audit_variants", "float_models"}
for lower in ("ir", "passes", "prepare", "reference", "frontends", "plan", "codegen", "build", "kernel_code", "cmsis_nn",
              "firmware", "targets", "emulate", "quantize", "report"):
    FORBIDDEN[lower] |= WIRING
for layer in WIRING - {"api", "cli"}:
    FORBIDDEN[layer] |= {"api", "cli"}
HEAVY = {"torch", "tensorflow", "tflite_micro"}   # never imported by the deploy path's modules
# the quantizer's modules that may import torch (edgeq/ paths, by prefix)
TORCH_ALLOWED = ("frontends/torch/", "torch_sums", "quantize/twin", "quantize/sensitivity", "quantize/qat", "quantize/pipeline")


def _imports(path: Path) -> set[str]:
    """Top-level edgeq subpackages and third-party roots a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(parts[:-node.level]) if path.name != "__init__.py" else list(parts[:len(parts) - node.level + 1])
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] + ([f"{mod}.{a.name}" for a in node.names] if not node.module else [])
            else:
                names = [node.module]
        else:
            continue
        for n in names:
            bits = n.split(".")
            found.add(bits[1] if bits[0] == "edgeq" and len(bits) > 1 else bits[0])
    return found


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "_data" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_layering(path):
    rel = path.relative_to(PKG)
    layer = rel.parts[0].removesuffix(".py")
    imported = _imports(path)
    bad = imported & FORBIDDEN.get(layer, set())
    assert not bad, f"edgeq/{rel} imports {sorted(bad)}, against the one-way data flow"
    if layer not in {"api", "cli", "demo", "oracle", "demo_model", "pricing", "audit_variants", "float_models"}:
        heavy = imported & HEAVY - ({"torch"} if str(rel).startswith(TORCH_ALLOWED) else set())
        assert not heavy, f"edgeq/{rel} imports {sorted(heavy)}"


def test_ir_imports_only_numpy():
    for path in (PKG / "ir").rglob("*.py"):
        third_party = {m for m in _imports(path) if m not in {"numpy", "__future__", "enum", "dataclasses", "ir",
                                                               "errors", "typing", "collections", "math"}}
        assert not third_party, f"{path} imports {sorted(third_party)}"


def test_nothing_imports_api_or_cli():
    for path in _modules():
        if path.name in {"api.py", "cli.py", "demo.py", "__main__.py"}:
            continue
        assert not _imports(path) & {"api", "cli"}, f"{path} imports edgeq.api/cli"


ATTACKS = PKG.parent / "attacks"


def _attack_imports(path: Path) -> set[str]:
    """Full dotted names a module under attacks/ imports (its relative imports stay inside attacks)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module)
    return names


TORCH_FREE_DEFENSES = {"__init__.py", "recipes.py"}     # the CLI imports these to list the defenses


@pytest.mark.parametrize("path", sorted(ATTACKS.rglob("*.py")), ids=lambda p: str(p.relative_to(ATTACKS)))
def test_attacks_import_only_edgeq_errors(path):
    """attacks/ gets models as predict functions and torch modules: of edgeq it may import only the errors,
    and torch only in torch_model.py and the training defenses (which their callers import lazily)."""
    imported = _attack_imports(path)
    edgeq = {n for n in imported if n == "edgeq" or n.startswith("edgeq.")}
    assert edgeq <= {"edgeq.errors"}, f"attacks/{path.name} imports {sorted(edgeq)}"
    if path.name != "torch_model.py" and (path.parent.name != "defenses" or path.name in TORCH_FREE_DEFENSES):
        assert not {n for n in imported if n.split(".")[0] == "torch"}, f"attacks/{path.name} imports torch"


def test_only_the_wiring_imports_attacks():
    for path in _modules():
        if path.name in {"api.py", "cli.py", "squeezing.py", "audit_variants.py"}:
            continue
        assert "attacks" not in _imports(path), f"{path} imports attacks"


def test_the_cli_starts_without_numba():
    """numba takes most of a second to load: only the modules that run kernels import it (prepare/requantize.py,
    reference/stages.py, both imported where kernels run), so every edgeq command starts without it."""
    import subprocess
    import sys
    code = "import sys, edgeq.api, edgeq.cli; assert 'numba' not in sys.modules, 'numba was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PKG.parent)
