"""Moved to :mod:`ipyseg.segmentation.multiscale`; this name stays for ``ipyseg.multiscale.segment_fast``."""

from ipyseg.segmentation.multiscale import FastResult, Multiscale, segment_fast

__all__ = ["FastResult", "Multiscale", "segment_fast"]
