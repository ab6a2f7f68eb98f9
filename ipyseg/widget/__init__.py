"""The single-image widget: :class:`SegmentWidget` and the parts it is composed of."""

from ipyseg.widget.widget import SegmentationWarning, SegmentWidget

__all__ = ["SegmentWidget", "SegmentationWarning"]
