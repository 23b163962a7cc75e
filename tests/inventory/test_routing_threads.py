"""`route` remembers the last locations it checked: never another caller's.

A thread switch between the check of the remembered tuple and the return
must not hand back the tuple another thread routed with meanwhile. The
switch is forced with a tracer that waits at the return until the other
thread has routed (a free-threaded build needs no tracer for it).
"""

from __future__ import annotations

import inspect
import sys
import threading
import types
from typing import Any

from orderkit.inventory import Balance, _routing, route


OURS = ("SH-1",)
THEIRS = ("BJ-1",)
STOCK = [Balance("TEA", "SH-1", on_hand=5), Balance("TEA", "BJ-1", on_hand=5)]


def _return_line() -> int:
    """The line of `_locations`'s first return: the remembered tuple's."""
    lines, first = inspect.getsourcelines(_routing._locations)
    return next(
        first + i for i, line in enumerate(lines) if line.strip().startswith("return")
    )


def test_a_thread_routing_meanwhile_never_lends_its_locations() -> None:
    route({"TEA": 1}, STOCK, locations=OURS, strategy="location_order")
    code = _routing._locations.__code__
    line = _return_line()
    at_window, other_done = threading.Event(), threading.Event()

    # Tracers take (frame, event, arg); they answer the frame's own tracer.
    def tracer(frame: types.FrameType, _event: str, _arg: object) -> Any:
        if frame.f_code is not code:
            return None

        def local(frame: types.FrameType, event: str, _arg: object) -> Any:
            if event == "line" and frame.f_lineno == line and not at_window.is_set():
                at_window.set()
                other_done.wait(5)
            return local

        return local

    def other() -> None:
        at_window.wait(5)
        route({"TEA": 1}, STOCK, locations=THEIRS, strategy="location_order")
        other_done.set()

    thread = threading.Thread(target=other)
    thread.start()
    sys.settrace(tracer)
    try:
        chosen = route({"TEA": 1}, STOCK, locations=OURS, strategy="location_order")
    finally:
        sys.settrace(None)
        thread.join()
    assert at_window.is_set(), "the tracer never reached the remembered tuple's return"
    assert [line.location for line in chosen.lines] == ["SH-1"]
