"""Seed and label codes shared by every module.

Seeds: ``0`` unmarked, ``1`` background, ``k + 1`` object ``k`` (so ``2`` is the first object).
Labels: ``0`` background, ``k`` object ``k``.
"""

UNMARKED = 0
BACKGROUND = 1
FOREGROUND = 2

#: Seeds and labels are stored as uint8, so seed code 255 (object 254) is the largest.
MAX_OBJECTS = 254
