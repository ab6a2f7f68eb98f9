"""Many images: the :class:`Annotator` (alone, in a team, in review), its workers, batch work, a team page."""

from ipyseg.dataset.annotator import Annotator
from ipyseg.dataset.teampage import TeamPage

__all__ = ["Annotator", "TeamPage"]
