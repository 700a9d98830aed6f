"""What sharing a frozen encoder's outputs between runs saves: short Table-1 runs of the cpu
preset timed side by side in one process.

    .venv/bin/python -m benchmarks.encoder_features [--steps 60] [--repeats 3]

Per repeat, in fresh folders, "combined with critic" (the costliest Table-1 row) three times:
filling a feature store (as the first configuration of a seed does), reading it (as the
others do), and without a store (the encoder at every step). Prints the median seconds per step of each, the ratios, the
share of a seed's seven Table-1 configurations (one filling, six reading) against seven plain
runs (as if each cost what this row costs), and whether the reading run's weights equal the plain run's bit for bit.
Data: the ``demo`` preset's generated set (generated on first use); the encoder: the cpu
preset's shared one, frozen, at its crop size and batch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from hybridlib.machine import machine_description
from hybridlib.studies import resolve_settings
from hybridlib.studies.presets import StudySettings
from hybridlib.studies.runner import RunSpec, ensure_data, train_config
from hybridlib.training import TrainConfig, load_checkpoint, train

TABLE_1_CONFIGURATIONS = 7  # 2 × (KPR, MR, KPR + MR) + the w_mr schedule row, per seed


def _frozen_run(
    settings: StudySettings, spec: RunSpec, data_dir: Path, out_dir: Path, steps: int, store: Path | None
) -> TrainConfig:
    """The cpu preset's run of ``spec``, frozen, ``steps`` long, in ``out_dir``, with or without a store."""
    config = train_config(settings, spec, data_dir, progress=False)
    features = None if store is None else str(store)
    return replace(config, out_dir=str(out_dir), max_steps=steps, freeze_encoder=True, encoder_features_dir=features)


def _seconds_per_step(config: TrainConfig, steps: int) -> float:
    result = train(config)
    return result.seconds / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine_description()}", flush=True)
    settings = resolve_settings("bench", PRESET="cpu", DATA_DIR=str(ensure_data(resolve_settings("bench", "demo"))))
    data_dir = Path(settings.data_dir)
    combined = RunSpec("combined with critic", critic="with_rotation")
    timings: dict[str, list[float]] = {"filling": [], "reading": [], "plain": []}
    identical = []
    with tempfile.TemporaryDirectory() as folder:  # the process's first run pays its warm-up
        train(_frozen_run(settings, combined, data_dir, Path(folder) / "warm-up", 2, None))
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)

            runs = {
                name: _frozen_run(settings, combined, data_dir, folder / name, args.steps, store)
                for name, store in (("filling", folder / "features"), ("reading", folder / "features"), ("plain", None))
            }
            for name, run in runs.items():
                timings[name].append(_seconds_per_step(run, args.steps))
            read, plain = (load_checkpoint(runs[name].checkpoint_path)["model"] for name in ("reading", "plain"))
            identical.append(all(torch.equal(read[name], plain[name]) for name in plain))
        print(
            f"repeat {repeat + 1}: " + ", ".join(f"{name} {values[-1]:.3f} s/step" for name, values in timings.items())
        )
    filling, reading, plain = (statistics.median(timings[name]) for name in ("filling", "reading", "plain"))
    seed = (filling + (TABLE_1_CONFIGURATIONS - 1) * reading) / (TABLE_1_CONFIGURATIONS * plain)
    print(f"median s/step over {args.repeats} repeats of {args.steps} steps (run set-up included):")
    print(f"  plain (encoder every step) {plain:.3f}, filling the store {filling:.3f}, reading it {reading:.3f}")
    print(f"  plain / reading = {plain / reading:.2f}x; filling / plain = {filling / plain:.3f}")
    print(f"  a seed's {TABLE_1_CONFIGURATIONS} Table-1 configurations: {seed:.2f} of their time without the store")
    print(f"  reading run's weights equal the plain run's bit for bit: {all(identical)}")


if __name__ == "__main__":
    main()
