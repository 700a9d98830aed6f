"""Ctrl-C during training: the first one asks the loop to stop after the current step and
write a checkpoint; a second one stops at once."""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopOnInterrupt:
    """Within ``with StopOnInterrupt() as interrupt:``, SIGINT sets ``interrupt.requested``
    (in the main thread; elsewhere signals are left alone)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to stop at once)")

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
