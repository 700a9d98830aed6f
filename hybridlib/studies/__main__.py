"""Run the study notebooks with papermill under a preset:

    python -m hybridlib.studies --preset demo                  # what `make demo` runs
    python -m hybridlib.studies --preset cpu                   # the committed results/
    python -m hybridlib.studies --preset paper --data-dir ~/data/lsp_all --body-model ~/smpl/SMPL_NEUTRAL.pkl

Each notebook is executed into ``<OUT_DIR>/<notebook>.ipynb`` beside the table, figures and
provenance it writes (OUT_DIR = ``results/<study>/<preset>/`` under the workspace folder of
:mod:`hybridlib.paths` by default: ``HYBRIDLIB_HOME``, else the checkout). Finished
configurations are reused when a study is run again. ``--redraw-loss-curves`` trains nothing:
it redraws each study's ``loss_curves.png`` from the loss logs already in its OUT_DIR (the
notebooks' default CRITIC and W_MR_RAMP_FRACTION).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
import uuid
from pathlib import Path

import papermill
from jupyter_client.manager import AsyncKernelManager

from hybridlib.data.generate import CACHE_DIR_NAME
from hybridlib.paths import REPOSITORY_ROOT, data_root, runs_root
from hybridlib.precision import PRECISIONS
from hybridlib.progress_file import PROGRESS_FILE, read_progress
from hybridlib.studies.presets import PRESETS, default_out_dir, resolve_settings
from hybridlib.studies.studies import draw_loss_curves

STUDY_NOTEBOOKS = ("01_overfit_8_images", "02_lsp_ablation", "03_lspet_vs_hmr")
PROGRESS_EVERY_S = 15.0  # how often a line of training progress is printed while a notebook runs


class LocalKernelManager(AsyncKernelManager):
    """The notebooks' kernel talks over local sockets (IPC) in a temporary folder, not TCP: nothing
    listens on the network, and the kernel has no "running over TCP without encryption" warning."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.transport = "ipc"
        # the sockets are files <ip>-<port>, removed when the kernel shuts down
        self.ip = str(Path(tempfile.gettempdir()) / f"hybridlib-kernel-{uuid.uuid4().hex[:12]}")


def _modified(path: Path) -> float:
    """``path``'s modification time; -inf once it is gone (a finished dataset's cache is removed)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return -math.inf


def _report_progress(study: str, preset: str, since: float, stop: threading.Event) -> None:
    """Print, every :data:`PROGRESS_EVERY_S` seconds, the job of ``study`` that moved last — a
    training run (its ``progress.json``, written by the loop: configuration, step / total, time
    left) or the generation of a stand-in dataset (``data/<folder>/.generate-cache/progress.json``)."""
    runs, generating = runs_root() / study / preset, data_root()
    while not stop.wait(PROGRESS_EVERY_S):
        written = {
            path: _modified(path)
            for path in [*runs.glob(f"*/{PROGRESS_FILE}"), *generating.glob(f"*/{CACHE_DIR_NAME}/{PROGRESS_FILE}")]
        }
        reports = [path for path, modified in written.items() if modified >= since]
        if not reports:
            continue
        latest = max(reports, key=written.get)
        progress = read_progress(latest)
        if progress is None:
            continue  # being replaced, or its folder removed (a finished dataset's cache)
        if latest.parent.name == CACHE_DIR_NAME:
            what, left = f"generating data/{latest.parent.parent.name}: image", "to generate"
        else:
            what, left = f"{latest.parent.name}: step", "in this run"
        minutes = progress.seconds_left / 60
        print(f"[{study}] {what} {progress.step}/{progress.total}, about {minutes:.0f} min left {left}", flush=True)


def run_notebooks(
    preset: str,
    studies: tuple[str, ...] = STUDY_NOTEBOOKS,
    data_dir: str | None = None,
    body_model: str | None = None,
    device: str | None = None,
    precision: str | None = None,
) -> dict[str, float]:
    """Execute the study notebooks; returns {study: wall seconds}."""
    if not (REPOSITORY_ROOT / "notebooks").is_dir():
        raise SystemExit(
            f"no notebooks/ in {REPOSITORY_ROOT}: the study notebooks come with the checkout, not with an installed "
            "copy; run this from a clone (pip install -e .)"
        )
    seconds = {}
    for study in studies:
        out_dir = default_out_dir(study, preset)
        out_dir.mkdir(parents=True, exist_ok=True)
        parameters = {
            "PRESET": preset,
            "DATA_DIR": data_dir,
            "BODY_MODEL": body_model,
            "DEVICE": device,
            "PRECISION": precision,
            "OUT_DIR": str(out_dir),
        }
        started = time.perf_counter()
        print(f"[{study}] running notebooks/{study}.ipynb with preset {preset!r} …", flush=True)
        stop = threading.Event()
        reporter = threading.Thread(target=_report_progress, args=(study, preset, time.time(), stop), daemon=True)
        reporter.start()
        try:
            papermill.execute_notebook(
                str(REPOSITORY_ROOT / "notebooks" / f"{study}.ipynb"),
                str(out_dir / f"{study}.ipynb"),
                parameters={key: value for key, value in parameters.items() if value is not None},
                cwd=str(REPOSITORY_ROOT / "notebooks"),
                progress_bar=False,
                kernel_manager_class=LocalKernelManager,
            )
        finally:
            stop.set()
            reporter.join()
        seconds[study] = time.perf_counter() - started
        print(f"[{study}] {seconds[study]:.0f} s — table: {out_dir / 'table.md'}", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hybridlib.studies", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument(
        "--studies", default=",".join(STUDY_NOTEBOOKS), help=f"comma-separated subset of {', '.join(STUDY_NOTEBOOKS)}"
    )
    parser.add_argument(
        "--data-dir", default=None, help="real (or generated) data folder; default: the preset's generated stand-in"
    )
    parser.add_argument(
        "--body-model", default=None, help="licensed SMPL .pkl or SMPL-layout .npz; default: the open body model"
    )
    parser.add_argument("--device", default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default=None, help="default: the preset's ('auto')")
    parser.add_argument(
        "--redraw-loss-curves",
        action="store_true",
        help="only redraw loss_curves.png from the loss logs in results/<study>/<preset>/losses/",
    )
    args = parser.parse_args(argv)
    studies = tuple(name.strip() for name in args.studies.split(",") if name.strip())
    unknown = sorted(set(studies) - set(STUDY_NOTEBOOKS))
    if unknown:
        parser.error(f"unknown studies {unknown}; choose from {', '.join(STUDY_NOTEBOOKS)}")
    if args.redraw_loss_curves:
        for study in studies:
            settings = resolve_settings(study, PRESET=args.preset)  # OUT_DIR: results/<study>/<preset>/
            print(f"[{study}] {draw_loss_curves(study, settings)}")
        return
    seconds = run_notebooks(args.preset, studies, args.data_dir, args.body_model, args.device, args.precision)
    print(
        f"done in {sum(seconds.values()):.0f} s. Tables: "
        + ", ".join(str(default_out_dir(study, args.preset) / "table.md") for study in studies)
    )


if __name__ == "__main__":
    main()
