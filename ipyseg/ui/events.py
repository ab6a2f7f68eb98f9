"""The edge between the browser and the widget: front-end messages checked once, on arrival.

Messages from the page are data from outside: a front-end bug, an extension or a hand-written
message can send anything. Each function here takes one raw message and returns a clean copy
(numbers finite and bounded, strings strings, flags bools) or ``None`` to drop it. Nothing
behind this edge has to guard against malformed input again.
"""

from __future__ import annotations

import math

#: Events of ipycanvas' front end, with the fields each carries.
_POSITION_EVENTS = ("mouse_move", "mouse_down", "mouse_up", "mouse_out")
_TOUCH_EVENTS = ("touch_start", "touch_move", "touch_end", "touch_cancel")
MAX_TOUCHES = 10
MAX_KEY_LENGTH = 32
#: Wheel deltas beyond this (pixels) are clamped.
MAX_WHEEL_DELTA = 10_000.0


def _number(value) -> float | None:
    """``value`` as a finite float, or ``None`` (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _flag(value) -> bool | None:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _position(content, bound: float):
    x, y = _number(content.get("x")), _number(content.get("y"))
    if x is None or y is None:
        return None
    return min(max(x, -bound), bound), min(max(y, -bound), bound)


def clean_canvas_message(content, bound: float) -> dict | None:
    """Check one message of ipycanvas' front end; return a clean copy or ``None``.

    Parameters
    ----------
    content : object
        The message content as received (normally a dict with ``"event"``).
    bound : float
        Positions are clamped to ``[-bound, bound]`` canvas pixels (a pointer that left the
        canvas during a drag still ends the gesture; absurd values cannot reach the tools).

    Returns
    -------
    dict or None
        Same keys ipycanvas reads (``event``, ``x``, ``y``, ``touches``, ``key``,
        ``shift_key``, ``ctrl_key``, ``meta_key``), with valid values only.
    """
    if not isinstance(content, dict):
        return None
    event = content.get("event")
    if not isinstance(event, str):
        return None
    if event == "client_ready":
        return {"event": event}
    if event in _POSITION_EVENTS:
        pos = _position(content, bound)
        return None if pos is None else {"event": event, "x": pos[0], "y": pos[1]}
    if event == "mouse_wheel":
        dx, dy = _number(content.get("x")), _number(content.get("y"))
        if dx is None or dy is None:
            return None
        m = MAX_WHEEL_DELTA
        return {"event": event, "x": min(max(dx, -m), m), "y": min(max(dy, -m), m)}
    if event in _TOUCH_EVENTS:
        touches = content.get("touches")
        if not isinstance(touches, list) or len(touches) > MAX_TOUCHES:
            return None
        clean = []
        for t in touches:
            pos = _position(t, bound) if isinstance(t, dict) else None
            if pos is None:
                return None
            clean.append({"x": pos[0], "y": pos[1]})
        return {"event": event, "touches": clean}
    if event == "key_down":
        key = content.get("key")
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
            return None
        flags = {name: _flag(content.get(name)) for name in ("shift_key", "ctrl_key", "meta_key")}
        if any(v is None for v in flags.values()):
            return None
        return {"event": event, "key": key, **flags}
    return None


_DOM_NUMBERS = ("deltaX", "deltaY", "deltaZ", "relativeX", "relativeY", "offsetX", "offsetY", "dataX", "dataY")
_DOM_INTS = ("button", "buttons", "deltaMode", "detail")
_DOM_FLAGS = ("shiftKey", "ctrlKey", "altKey", "metaKey")


def clean_dom_event(event) -> dict | None:
    """Check one event reported by ipyevents; return a clean copy (known fields only) or ``None``."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return None
    out: dict = {"type": event["type"][:MAX_KEY_LENGTH]}
    for name in _DOM_NUMBERS:
        v = _number(event.get(name))
        if v is not None:
            out[name] = v
    for name in _DOM_INTS:
        v = event.get(name)
        if isinstance(v, int) and not isinstance(v, bool) and -1 <= v <= 1 << 16:
            out[name] = v
    for name in _DOM_FLAGS:
        out[name] = _flag(event.get(name)) or False
    key = event.get("key")
    if isinstance(key, str) and 0 < len(key) <= MAX_KEY_LENGTH:
        out["key"] = key
    return out
