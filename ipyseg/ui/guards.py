"""Controls that refuse, quietly, a state update from the page they cannot hold."""

from __future__ import annotations

import ipywidgets as widgets
import traitlets


def guard_updates(control: widgets.Widget) -> None:
    """Refuse a state update from the page that the control cannot hold, and show its value again.

    ipywidgets validates an update (an index out of range, ``None`` for a checkbox, a string for
    a slider) inside its comm handler and logs the failure as a traceback; the page then shows
    what Python refused. Here such an update is dropped quietly and the control's real state is
    sent back, so page and kernel agree.
    """
    set_state = control.set_state

    def guarded(state):
        try:
            set_state(state)
        except (traitlets.TraitError, ValueError, TypeError, KeyError):
            control.send_state()

    control.set_state = guarded
