"""Train from the command line, alone or under torchrun:

    python -m hybridlib.training --config run.json [--set key=value ...] [--wait]
    torchrun --nproc_per_node=2 -m hybridlib.training --config run.json

``run.json`` holds :class:`hybridlib.training.TrainConfig` fields (at least ``data_root`` and
``out_dir``); ``--set`` overrides one field, its value read as JSON when it parses
(``--set epochs=3 --set critic='"none"'`` or simply ``--set critic=none``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hybridlib.folder_lock import FolderBusyError
from hybridlib.training.config import TrainConfig
from hybridlib.training.loop import train


def _parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hybridlib.training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, help="JSON file of TrainConfig fields")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field")
    parser.add_argument(
        "--wait", action="store_true", help="if another process trains in out_dir, wait for it (default: refuse)"
    )
    args = parser.parse_args(argv)
    values: dict[str, object] = json.loads(args.config.read_text()) if args.config else {}
    for assignment in args.set:
        key, separator, value = assignment.partition("=")
        if not separator:
            parser.error(f"--set expects KEY=VALUE, got {assignment!r}")
        values[key] = _parse_value(value)
    try:
        config = TrainConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    try:
        result = train(config, wait_for_lock=args.wait)
    except FolderBusyError as error:
        parser.exit(1, f"{parser.prog}: {error}\n")
    print(
        f"trained {result.steps} steps in {result.seconds:.1f} s; checkpoint {result.checkpoint_path}, losses "
        f"{result.log_path}"
    )


if __name__ == "__main__":
    main()
