"""The single-image widget: :class:`SegmentWidget` and the parts it is composed of."""

from ipyseg.widget.controller import SegmentationWarning
from ipyseg.widget.widget import SegmentWidget

__all__ = ["SegmentWidget", "SegmentationWarning"]
