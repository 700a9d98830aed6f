"""The parts of a ``cpu``-preset training step (ResNet-18, 128 px, batch 8) at this checkout next
to another git revision, measured in alternation: what a change of code bought or cost.

    .venv/bin/python -m benchmarks.against_revision [--revision 713c400] [--rounds 5] [--repeats 9]

The revision is checked out into a temporary git worktree; each round runs
``benchmarks.training_step.step_parts`` once in a fresh process per checkout (this one, then the
revision), so that a shared machine's drift weighs on both alike. Prints the median of each part
over the rounds, the difference, and the difference as a share of this checkout's full step.
Both checkouts must have ``step_parts(data, backbone, image_size, repeats)``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from hybridlib.machine import machine_description
from hybridlib.paths import REPOSITORY_ROOT
from hybridlib.studies import resolve_settings
from hybridlib.studies.runner import ensure_data

_PARTS_SCRIPT = (
    "import json, sys, torch; from pathlib import Path; from benchmarks.training_step import step_parts; "
    "print(json.dumps(step_parts(Path(sys.argv[1]), 'resnet18', 128, int(sys.argv[2]))))"
)


def step_parts_at(checkout: Path, data: Path, repeats: int) -> dict[str, float]:
    """step_parts of ``checkout`` in a fresh process (its own hybridlib and benchmarks first on the path)."""
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    completed = subprocess.run(
        [sys.executable, "-c", _PARTS_SCRIPT, str(data), str(repeats)],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"step_parts failed in {checkout}:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revision", default="713c400", help="the git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per part and round")
    args = parser.parse_args()
    data = ensure_data(resolve_settings("bench", PRESET="demo"))
    print(f"machine: {machine_description()}")
    with tempfile.TemporaryDirectory() as folder:
        worktree = Path(folder) / "revision"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(worktree), args.revision],
            cwd=REPOSITORY_ROOT,
            check=True,
        )
        try:
            rounds: dict[str, list[dict[str, float]]] = {"this checkout": [], args.revision: []}
            for number in range(args.rounds):
                rounds["this checkout"].append(step_parts_at(REPOSITORY_ROOT, data, args.repeats))
                rounds[args.revision].append(step_parts_at(worktree, data, args.repeats))
                print(f"round {number + 1}/{args.rounds} done", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPOSITORY_ROOT, check=False)
    medians = {
        label: {part: 1e3 * statistics.median(result[part] for result in results) for part in results[0]}
        for label, results in rounds.items()
    }
    table = pd.DataFrame(medians).round(1)
    table["difference"] = (table["this checkout"] - table[args.revision]).round(1)
    step = table.loc["full training step", "this checkout"]
    table["share of this step"] = (table["difference"] / step).map(lambda share: f"{100 * share:+.1f} %")
    print(f"\nms per part, median of {args.rounds} alternating rounds (ResNet-18, 128 px, batch 8):\n")
    print(table.to_markdown())


if __name__ == "__main__":
    main()
