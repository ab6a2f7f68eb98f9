"""Running segmenters: :func:`segment`, the coarse-to-fine fast path, the background engine, live-wire.

Nothing here knows widgets: inputs are arrays, outputs are label images.
"""

from ipyseg.segmentation.propose import propose
from ipyseg.segmentation.run import run_segmenter, segment

__all__ = ["propose", "run_segmenter", "segment"]
