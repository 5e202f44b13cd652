"""Command line: argparse only; every command calls edgeq.api."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import api
from .errors import EdgeqError
from .report.tables import format_figures, layer_table
from .targets import TARGETS


def _kib(text: str) -> int:
    return int(float(text) * 1024)


def _compile(args) -> None:
    report = api.compile_model(args.model, args.target, args.out, ram_bytes=args.ram_kb, flash_bytes=args.flash_kb)
    print(layer_table(report))
    print(f"wrote {Path(args.out) / api.REPORT} and {report['elf']}")


def _run(args) -> None:
    outputs, metrics = api.run_project(args.project, np.load(args.inputs), emulator=args.emulator,
                                       timeout_s=args.timeout)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, outputs)
    metrics_path = out.with_suffix(".metrics.json")
    metrics_path.write_text(json.dumps(metrics, indent=2))
    print(format_figures(metrics))
    print(f"wrote {out} ({outputs.dtype}{list(outputs.shape)}) and {metrics_path}")


def _demo(args) -> None:
    api.demo(args.out, args.target)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgeq", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compile", help="a .tflite model → CMSIS-NN C project + ELF + layer table")
    c.add_argument("model", type=Path)
    c.add_argument("--target", default="cortex-m4", choices=sorted(TARGETS))
    c.add_argument("--out", type=Path, required=True, help="project folder to write")
    c.add_argument("--ram-kb", type=_kib, default=None, help="RAM budget of the real board (default: the target's)")
    c.add_argument("--flash-kb", type=_kib, default=None, help="flash budget of the real board")
    c.set_defaults(func=_compile)

    r = sub.add_parser("run", help="run a compiled project's firmware in the emulator on N inputs")
    r.add_argument("project", type=Path)
    r.add_argument("--inputs", type=Path, required=True, help=".npy [N, ...]: integers as-is, floats get quantized")
    r.add_argument("--out", type=Path, required=True, help=".npy for the outputs; metrics go beside it")
    r.add_argument("--emulator", default="qemu", choices=["qemu", "renode"])
    r.add_argument("--timeout", type=float, default=None, help="seconds for the whole run")
    r.set_defaults(func=_run)

    d = sub.add_parser("demo", help="the embedded default: digits model → firmware → QEMU, checked against tflite-micro")
    d.add_argument("--out", type=Path, default=Path("out/demo"))
    d.add_argument("--target", default="cortex-m4", choices=sorted(TARGETS))
    d.set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except EdgeqError as e:
        print(f"edgeq {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
