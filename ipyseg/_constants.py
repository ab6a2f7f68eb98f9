"""Seed and label codes shared by every module.

Seeds: ``0`` unmarked, ``1`` background, ``k + 1`` object ``k`` (so ``2`` is the first object).
Labels: ``0`` background, ``k`` object ``k``.
"""

UNMARKED = 0
BACKGROUND = 1
FOREGROUND = 2

#: Seeds and labels are stored as uint16 (2 bytes per pixel each): seed code 65,535 (object
#: 65,534) is the largest, since object k's seed code is k + 1.
MAX_OBJECTS = 65_534
#: numpy dtype name of seed and label arrays.
CODE_DTYPE = "uint16"
