"""Generator and loader throughput, measured side by side in one run.

    .venv/bin/python -m benchmarks.data_generation_and_loading [--images 96] [--batches 12]

Prints: generator images/s on one core (steady state, body model loaded); bytes per image
on disk; DataLoader samples/s at 224 px with the
authors' augmentation for 0 and 2 workers, and their ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import hybridlib.data.generate as generate
from hybridlib.data.dataset import DataConfig, build_dataset, collate_samples
from hybridlib.data.transforms import AugmentationConfig
from hybridlib.machine import machine_description


def generator_rate(out_dir: Path, images: int) -> float:
    """Images/s of the generator's render loop in this process (one core)."""
    config = generate.GeneratorConfig(lsp=images, lspet=0, mosh=0, seed=1)
    generate._init_worker(None)
    layout = generate._LAYOUTS[0]
    (out_dir / layout.folder / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "up-s1h" / "data" / "lsp").mkdir(parents=True, exist_ok=True)
    tasks = generate._chunk_tasks(config, out_dir, layout, images)
    generate._render_chunk(tasks[0])  # warm-up
    started = time.perf_counter()
    for task in tasks:
        generate._render_chunk(task)
    return images / (time.perf_counter() - started)


def loader_rate(root: Path, workers: int, batches: int, batch_size: int = 8, image_size: int = 224) -> float:
    """Samples/s of a DataLoader over the generated LSP+LSPET training set (augmented crops)."""
    dataset = build_dataset(
        DataConfig(root=root, use_lspet=True, augmentation=AugmentationConfig(image_size=image_size)), "train"
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate_samples,
        persistent_workers=workers > 0,
    )
    iterator = iter(loader)
    next(iterator)  # start-up (worker processes) is not throughput
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batches", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {machine_description()}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        rate = generator_rate(scratch / "rate", args.images)
        print(f"generator, one core: {rate:.1f} images/s ({1000 / rate:.1f} ms per image)")
        root = generate.generate_dataset(
            scratch / "data", generate.GeneratorConfig(lsp=64, lspet=96, mosh=0, seed=2), workers=1, progress=False
        )
        files = [path for path in root.rglob("*") if path.is_file()]
        per_image = sum(path.stat().st_size for path in files if path.suffix in (".jpg", ".png")) / 160
        print(
            f"disk: {per_image / 1024:.1f} KiB per image incl. silhouette -> "
            f"{per_image * 12000 / 2**20:.0f} MiB for 2000 + 10000 images"
        )
        rates = {workers: loader_rate(root, workers, args.batches) for workers in (0, 2)}
        for workers, samples_per_second in rates.items():
            print(f"loader, {workers} workers: {samples_per_second:.1f} samples/s at 224 px with augmentation")
        print(f"loader speed-up with 2 workers: {rates[2] / rates[0]:.2f}x")


if __name__ == "__main__":
    main()
