"""The header above an :class:`~ipyseg.Annotator`'s widget: buttons, progress, title, message.

It shows what it is given (:meth:`Header.update`: an item and the records; :meth:`Header.show_message`)
and calls the actions it was built with; it reads nothing of the annotator.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from ipyseg.dataset.records import ItemRecords

ERROR_COLOR = "#b00020"
INFO_COLOR = "#2e7d32"


class Header(widgets.VBox):
    """``◀ ▶ Done Skip``, a progress bar and ``12 / 120 · IMG_0042.jpg · in progress``; a message below.

    A reviewer's header has ``Accept``, ``Reject`` and a comment field instead of Done and Skip.

    Parameters
    ----------
    total : int
        Number of items (the progress bar's maximum).
    actions : dict
        ``{"previous", "next", "done", "skip"}`` (review: ``{"previous", "next", "accept",
        "reject"}``) -> a function run by its button, of no arguments (``reject``: of the comment);
        an exception it raises is shown in the message line.
    review : bool
        A reviewer's header.

    Attributes
    ----------
    buttons : dict of ipywidgets.Button
        The four buttons by name.
    title, message : ipywidgets.HTML
        The title line and the message line.
    bar : ipywidgets.IntProgress
        Done items (reviewed ones, for a reviewer).
    comment : ipywidgets.Text
        Why an item is rejected (a reviewer's header shows it).
    """

    def __init__(self, total: int, actions: dict[str, Callable[..., object]], review: bool = False):
        lay = widgets.Layout
        self.review = review
        self.title = widgets.HTML()
        self.bar = widgets.IntProgress(min=0, max=total, layout=lay(width="180px"))
        self.message = widgets.HTML()
        self.comment = widgets.Text(placeholder="why rejected", layout=lay(width="200px"))
        b = self.buttons = {
            "previous": widgets.Button(
                icon="chevron-left", tooltip="Previous image (, or ←)", layout=lay(width="40px")
            ),
            "next": widgets.Button(icon="chevron-right", tooltip="Next image (. or →)", layout=lay(width="40px")),
        }
        if review:
            b["accept"] = widgets.Button(
                description="Accept", icon="check", button_style="success", tooltip="Reviewed, next done image (a)"
            )
            b["reject"] = widgets.Button(
                description="Reject", icon="times", button_style="danger", tooltip="Reject with the comment (x)"
            )
        else:
            b["done"] = widgets.Button(
                description="Done", icon="check", button_style="success", tooltip="Done, next unfinished (a)"
            )
            b["skip"] = widgets.Button(description="Skip", icon="forward", tooltip="Skip this image (x)")
        for name, button in b.items():
            act = actions[name]
            button.on_click(self._handler((lambda a=act: a(self.comment.value)) if name == "reject" else act))
        parts = [*b.values(), self.comment] if review else list(b.values())
        row = widgets.HBox([*parts, self.bar, self.title], layout=lay(align_items="center", flex_flow="row wrap"))
        super().__init__(children=[row, self.message])

    def _handler(self, fn):
        def handler(_):
            try:
                fn()
            except Exception as err:
                self.show_message(f"⚠ {type(err).__name__}: {err}", error=True)

        return handler

    def update(
        self, i: int, records: ItemRecords, name_of: Callable[[int], str], others=None, finished: bool = False
    ) -> None:
        """Show item ``i`` (0-based) and the counts of ``records``; ``name_of(j)`` names item ``j``;
        ``others``: the keys of the items other annotators hold; ``finished``:
        nothing is left to annotate (to review).

        The message is the first that applies: the item's saved work could not be loaded, the
        reviewer's comment of a rejected item, its note, the item last found unreadable, nothing
        left; else none.
        """
        rec = records[i]
        unreadable = records.unreadable
        counts = {s: records.count(s) for s in ("done", "reviewed", "rejected", "skipped")}
        self.bar.value = counts["reviewed"] if self.review else counts["done"] + counts["reviewed"]
        self.bar.description = ""
        text = f"<b>{i + 1} / {len(records)}</b> · {html.escape(name_of(i))} · {rec.status}"
        told = [f"{n} {s}" for s, n in counts.items() if n or s in ("done", "skipped")]
        told.insert(0, f"{records.count('untouched') + records.count('in progress')} left")
        told += [f"{len(unreadable)} cannot be opened"] if unreadable else []
        told += [f"{len(others)} claimed by others"] if others else []
        text += f' <span style="color:#666">({", ".join(told)})</span>'
        self.title.value = text
        j = records.last_unreadable
        comment = rec.provenance.get("comment") if rec.status == "rejected" else None
        if rec.error is not None:
            self.show_message(
                f"⚠ saved work of this image could not be loaded, so it is not autosaved (fix or delete its "
                f"files to start over): {rec.error}",
                error=True,
            )
        elif comment:
            who = rec.provenance.get("reviewed_by") or "the reviewer"
            self.show_message(f"✗ rejected by {who}: {comment}", error=True)
        elif rec.note:
            self.show_message(f"ⓘ {rec.note}")
        elif j in unreadable:
            self.show_message(f"⚠ passed over item {j + 1} ({name_of(j)}): {unreadable[j]}", error=True)
        elif finished and self.review:
            self.show_message("✓ nothing is waiting for review")
        elif finished:
            self.show_message("✓ every image is done or skipped: export with a.export_coco(...)")
        else:
            self.show_message("")

    def show_message(self, text: str, error: bool = False) -> None:
        """Show ``text`` in the message line (red when ``error``); ``""`` clears it."""
        color = ERROR_COLOR if error else INFO_COLOR
        self.message.value = f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""
