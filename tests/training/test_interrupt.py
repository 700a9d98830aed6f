"""Ctrl-C during training: the first SIGINT asks to stop after the step, the second stops at
once, and the previous handler is back afterwards (outside the main thread nothing changes)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from hybridlib.training.interrupt import StopOnInterrupt


@pytest.fixture
def previous_handler():
    """A known SIGINT handler to find restored (the one before the test is put back afterwards)."""
    calls = []

    def handler(signum, frame) -> None:
        calls.append(signum)

    before = signal.signal(signal.SIGINT, handler)
    yield handler
    signal.signal(signal.SIGINT, before)
    assert calls == []  # StopOnInterrupt took every SIGINT the test sent


def test_the_first_sigint_sets_requested_and_the_second_stops_at_once(previous_handler, capsys):
    with StopOnInterrupt() as interrupt:
        assert not interrupt.requested and signal.getsignal(signal.SIGINT) is not previous_handler
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.requested  # no exception: the loop finishes the step and writes a checkpoint
        assert "finishing this step and writing a checkpoint" in capsys.readouterr().out
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous_handler


def test_the_previous_handler_is_restored_when_the_block_ends_by_keyboard_interrupt(previous_handler):
    with pytest.raises(KeyboardInterrupt):
        with StopOnInterrupt():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is previous_handler
    with StopOnInterrupt() as interrupt:  # a fresh one starts unrequested
        assert not interrupt.requested
    assert signal.getsignal(signal.SIGINT) is previous_handler


def test_outside_the_main_thread_signals_are_left_alone(previous_handler):
    seen = {}

    def enter_in_a_thread() -> None:
        with StopOnInterrupt() as interrupt:
            seen["handler"] = signal.getsignal(signal.SIGINT)
        seen["requested"] = interrupt.requested

    thread = threading.Thread(target=enter_in_a_thread)
    thread.start()
    thread.join(timeout=30)
    assert seen == {"handler": previous_handler, "requested": False}
    assert signal.getsignal(signal.SIGINT) is previous_handler
