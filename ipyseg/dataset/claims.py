"""Which items of a shared output folder this annotator holds (several annotators, one dataset).

:class:`ItemClaims` is the Annotator's collaborator for this: opening an item claims it (a
lease, :mod:`ipyseg.dataset.leases`), leaving it releases it once its last save has reached the
disk (so that the next annotator reads it), and every write first checks that the claim still
holds (a claim lost during a long pause is never written over: the save goes to a conflict
file beside the item's).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ipyseg.dataset.leases import DEFAULT_TTL, Holder, ItemLeases


class ItemHeld(ValueError):
    """Item ``index`` is being annotated by another annotator (``holder``)."""

    def __init__(self, index: int, name: str, holder: Holder):
        super().__init__(f"item {index} ({name}) is being annotated by {holder}; next() and previous() pass over it")
        self.index = index
        self.holder = holder


class ItemClaims:
    """One annotator's claims on the items of ``out``.

    Parameters
    ----------
    out : path
        The shared output folder.
    user : str, optional
        The annotator's name (default: the OS user name).
    saved : callable
        ``saved(key) -> bool``: whether every change of item ``key`` handed to the autosaver has
        been written (a claim is released only then).
    ttl : float
        Seconds of silence after which another annotator takes a claim over.
    """

    def __init__(self, out, *, user: str | None = None, saved: Callable[[str], bool], ttl: float = DEFAULT_TTL):
        self.leases = ItemLeases(out, user=user, ttl=ttl)
        self._saved = saved
        self._leaving: set[str] = set()
        self._lock = threading.Lock()
        #: ``{key: Holder}`` of the items found held by another annotator (as last seen).
        self.others: dict[str, Holder] = {}

    @property
    def user(self) -> str:
        """Who this annotator is (written into its claims)."""
        return self.leases.user

    def take(self, key: str) -> Holder | None:
        """Claim item ``key``: ``None`` when this annotator holds it now, else who holds it."""
        with self._lock:  # one lock with written(): a release must not pass a re-take
            self._leaving.discard(key)
            if self.leases.claim(key):
                self.others.pop(key, None)
                return None
        holder = self.leases.held_by_others(key) or Holder("another annotator", "?", None, "just now")
        self.others[key] = holder
        return holder

    def leave(self, key: str) -> None:
        """Leave item ``key``: release it now, or once its last save is written."""
        with self._lock:
            if not self._saved(key):
                self._leaving.add(key)
                return
            self.leases.release(key)

    def written(self, key: str) -> None:
        """A save of ``key`` reached the disk (autosave thread): release it if it was left."""
        with self._lock:
            if key in self._leaving and self._saved(key):
                self._leaving.discard(key)
                self.leases.release(key)

    def by_index(self, keys: list) -> tuple:
        """``(claim(i) -> bool, unclaim(i))`` for items numbered as in ``keys`` (opening a folder)."""
        return (lambda i: self.take(keys[i]) is None), (lambda i: self.leave(keys[i]))

    def elsewhere(self) -> dict[str, Holder]:
        """``{key: Holder}`` of the items other annotators hold now (the header counts them)."""
        found = self.leases.others()
        self.others = dict(found)
        return found

    def owns(self, key: str) -> bool:
        """Whether this annotator still holds ``key`` (checked before each write)."""
        return self.leases.check(key)

    def close(self) -> None:
        """Release every claim and stop the heartbeat (after the last saves were written)."""
        self.leases.close()
