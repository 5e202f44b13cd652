"""PixelDefend's PixelCNN on CIFAR-10 under the CPU recipe (recipes.resolve("pixel_defend", "cpu")): trains it
(seeded, checkpointed, resumable: rerun with the same arguments to go on), prints each epoch's time and training
bits/dim, the test bits/dim on the first --test-samples exact test images, the parameter count and MACs per image,
and the projected time of the full CPU recipe and of the study's. Saves the model as OUT/pixelcnn.pt, the file
`edgeq audit --defenses pixel_defend --pixelcnn` (and defend_dg.py --pixelcnn) takes.

Data: ../shared/data/cifar10_train_jpeg.npz (JPEG, decoded with Pillow; only the recipe's training subset is
decoded: the same images train.subset draws from all 50,000) and ../shared/data/cifar10_test_first.npz.

    .venv/bin/python benchmarks/pixelcnn_cifar.py --epochs 1 --samples 1000 --out out/pixelcnn_cifar
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def cifar_train(samples: int | None, seed: int) -> np.ndarray:
    """The training images train.subset(samples, seed) keeps, decoded to uint8 NHWC."""
    from PIL import Image

    from edgeq.attacks.defenses.train import subset
    d = np.load(DATA / "cifar10_train_jpeg.npz")
    jpeg, offsets = d["jpeg"], d["offsets"]
    keep, _ = subset(np.arange(len(offsets) - 1), None, samples, seed)
    return np.stack([np.asarray(Image.open(io.BytesIO(jpeg[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
                     for i in keep])


def main(argv=None) -> int:
    from edgeq.attacks.defenses.pixel_defend import purify
    from edgeq.attacks.defenses.pixelcnn import bits_per_dim, footprint, save_pixelcnn, train_pixelcnn
    from edgeq.attacks.defenses.recipes import resolve

    cpu = resolve("pixel_defend", "cpu")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=cpu["epochs"])
    ap.add_argument("--samples", type=int, default=cpu["train_samples"], help="training images (of 50,000)")
    ap.add_argument("--blocks", type=int, default=cpu["blocks"])
    ap.add_argument("--hidden", type=int, default=cpu["hidden"])
    ap.add_argument("--batch-size", type=int, default=cpu["batch_size"])
    ap.add_argument("--test-samples", type=int, default=300)
    ap.add_argument("--purify-samples", type=int, default=32, help="test images to time PixelDefend on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "pixelcnn_cifar")
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"no {DATA}: nothing to benchmark", file=sys.stderr)
        return 2

    params = resolve("pixel_defend", "cpu", {"epochs": args.epochs, "train_samples": args.samples,
                                              "blocks": args.blocks, "hidden": args.hidden,
                                              "batch_size": args.batch_size})
    t = time.perf_counter()
    x = cifar_train(args.samples, args.seed)
    print(f"decoded {len(x)} training JPEGs in {time.perf_counter() - t:.1f} s; torch threads "
          f"{torch.get_num_threads()}; params {json.dumps(params)}")
    ckpt = args.out / "pixelcnn.ckpt"
    model = train_pixelcnn(x, params, checkpoint=ckpt, seed=args.seed)
    history = torch.load(ckpt, weights_only=False)["trainer"]["history"]
    save_pixelcnn(model, args.out / "pixelcnn.pt", recipe="cpu", params=params, seed=args.seed)
    for e, h in enumerate(history, 1):
        print(f"epoch {e}: {h['seconds']:.1f} s wall ({len(x) / h['seconds']:.1f} img/s), {h['cpu_seconds']:.1f} s "
              f"CPU over {torch.get_num_threads()} threads, train bits/dim {h['bits_per_dim']:.3f}")
    test = np.load(DATA / "cifar10_test_first.npz")["x"][:args.test_samples].astype(np.float32) / 255
    t = time.perf_counter()
    bpd = bits_per_dim(model, test)
    size = footprint(model, (32, 32, 3))
    per_image = float(np.median([h["seconds"] for h in history])) / len(x)
    study = resolve("pixel_defend", "study")
    full_cpu = per_image * cpu["train_samples"] * cpu["epochs"]
    full_study = per_image * 50_000 * study["epochs"] if (args.blocks, args.hidden) == (4, 64) else float("nan")
    cpu_per_image = float(np.median([h["cpu_seconds"] for h in history])) / len(x)
    result = {"train_samples": len(x), "epochs": len(history), "epoch_seconds": [h["seconds"] for h in history],
              "epoch_cpu_seconds": [h["cpu_seconds"] for h in history], "load_average": os.getloadavg(),
              "train_bits_per_dim": [h["bits_per_dim"] for h in history], "test_images": len(test),
              "test_bits_per_dim": bpd, **size, "seconds_per_training_image": per_image,
              "projected_cpu_recipe_hours": full_cpu / 3600, "projected_study_hours_this_cpu": full_study / 3600}
    print(f"test bits/dim on the first {len(test)} test images: {bpd:.3f} ({time.perf_counter() - t:.1f} s)")
    print(f"parameters {size['params']:,} ({size['params_nonzero']:,} nonzero under the masks, "
          f"{size['params'] * 4 / 1024:.0f} KiB float32, {size['params'] / 1024:.0f} KiB int8); MACs per image "
          f"{size['macs'] / 1e6:.1f} M ({size['macs_nonzero'] / 1e6:.1f} M nonzero); output "
          f"{size['output_values']:,} values per image; the paper's sequential purification "
          f"{size['sequential_purify_macs'] / 1e9:.0f} G MACs per image")
    threads = torch.get_num_threads()
    print(f"projected: CPU recipe ({cpu['train_samples']} images x {cpu['epochs']} epochs) {full_cpu / 60:.0f} min "
          f"at this run's wall time per image ({os.cpu_count()} cores, load average now "
          f"{os.getloadavg()[0]:.1f}), {cpu_per_image * cpu['train_samples'] * cpu['epochs'] / threads / 60:.0f} min "
          f"on {threads} unshared cores (its CPU time / {threads}); the study's (50,000 x {study['epochs']}) "
          f"{full_study / 3600:.0f} h")
    t = time.perf_counter()
    pure = purify(model, test[:args.purify_samples], params["eps"])
    per_purify = (time.perf_counter() - t) / len(pure)
    moved = np.abs(np.round(pure * 255) - np.round(test[:len(pure)] * 255))
    result.update({"purify_seconds_per_image": per_purify, "purify_mean_levels_moved_clean": float(moved.mean())})
    print(f"PixelDefend (eps {params['eps']}) on {len(pure)} clean test images: {per_purify * 1000:.0f} ms per image; "
          f"subpixels moved {moved.mean():.1f} levels on average, {np.mean(moved > 0):.0%} of them moved")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
