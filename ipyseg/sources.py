"""Moved to :mod:`ipyseg.dataset.sources`; this name stays for ``ipyseg.sources``."""

from ipyseg.dataset.sources import PLANE_MARK, Items, items_from

__all__ = ["PLANE_MARK", "Items", "items_from"]
