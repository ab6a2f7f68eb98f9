"""Many images: the :class:`Annotator`, item sources, its background workers and its folder lock."""

from ipyseg.dataset.annotator import Annotator

__all__ = ["Annotator"]
