"""Which items an :class:`~ipyseg.Annotator` walks, and in what order (its ``mode``).

``"annotate"``: the items that need work. Its own rejected items come first (a reviewer sent
them back to whoever finished them), then the untouched and in-progress ones, then the items
other annotators finished and had rejected (taken over only when nothing else is left).

``"review"``: the ``done`` items of everyone, to be ``reviewed`` (accepted) or ``rejected``
with a comment; the arrows move among the items finished so far (done, reviewed, rejected).

An :class:`ItemWalk` reads the records and the annotator's name; it owns neither.
"""

from __future__ import annotations

from ipyseg.dataset.records import UNFINISHED, ItemRecords

#: The Annotator's modes.
MODES = ("annotate", "review")
#: Statuses the arrows of a reviewer move among.
REVIEWABLE = ("done", "reviewed", "rejected")


def checked_mode(mode) -> str:
    """The ``mode`` argument, checked."""
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {list(MODES)}; got {mode!r}")
    return mode


class ItemWalk:
    """The order in which one annotator (``user``) in ``mode`` takes the items of ``records``.

    Parameters
    ----------
    records : ItemRecords
        Every item's status and who finished it.
    mode : {"annotate", "review"}
        See the module docstring.
    user : str
        The annotator's name.
    """

    def __init__(self, records: ItemRecords, mode: str, user: str):
        self.records = records
        self.mode = checked_mode(mode)
        self.user = user

    def rank(self, i: int) -> int | None:
        """How soon item ``i`` is wanted (0 first), ``None``: not at all (finished, or unreadable)."""
        rec = self.records[i]
        if rec.unreadable is not None:
            return None
        if self.mode == "review":
            return 0 if rec.status == "done" else None
        if rec.status == "rejected":
            return 0 if rec.finished_by in (self.user, None) else 2
        return 1 if rec.status in UNFINISHED else None

    def order(self, after: int = -1) -> list[int]:
        """The wanted items, soonest first; at one rank, in item order from ``after + 1`` round."""
        n = len(self.records)
        ranked = []
        for d in range(1, n + 1):
            i = (after + d) % n
            r = self.rank(i)
            if r is not None:
                ranked.append((r, d, i))
        return [i for _, _, i in sorted(ranked)]

    def next(self, after: int) -> int | None:
        """The first wanted item other than ``after`` (the first of :meth:`order`), or ``None``:
        one pass, no sort (it runs on every "next").
        """
        n = len(self.records)
        best, best_rank = None, None
        for d in range(1, n):
            i = (after + d) % n
            r = self.rank(i)
            if r is not None and (best_rank is None or r < best_rank):
                best, best_rank = i, r
                if r == 0:
                    break  # nothing comes sooner
        return best

    def steps(self, i: int, step: int) -> list[int]:
        """The items the arrows pass through from ``i`` (exclusive) in direction ``step``: every
        item when annotating; the finished ones when reviewing.
        """
        n = len(self.records)
        path = range(i + step, n if step > 0 else -1, step)
        if self.mode == "annotate":
            return list(path)
        return [j for j in path if self.records[j].status in REVIEWABLE]

    def finished(self) -> bool:
        """Whether nothing is left for this annotator (the header says so)."""
        return all(self.rank(i) is None for i in range(len(self.records)))
