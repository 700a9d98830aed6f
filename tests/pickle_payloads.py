"""Pickle payloads that would run code if they were ever unpickled normally: each leaves a marker
file behind, so a test can check that loading was refused and nothing ran."""

from __future__ import annotations

import os
from pathlib import Path


class WritesAFile:
    """Calls ``os.system("touch <marker>")``."""

    def __init__(self, marker: str | Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class OpensAFile:
    """Calls ``open(marker, "w")``."""

    def __init__(self, marker: str | Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class Evaluates:
    """Calls ``eval("open(marker, 'w')")``."""

    def __init__(self, marker: str | Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w')",))
