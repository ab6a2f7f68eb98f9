"""A labelling page for a team: ``notebooks/annotate.ipynb`` served once by Voilà, each visitor an annotator.

Voilà starts one kernel per visit, so every visitor is a process of its own with its own claims
on the shared output folder (:mod:`ipyseg.dataset.claims`): two visitors never get the same item.
Who the visitor is comes from the request (:func:`visitor_name`), else they type their name.
"""

from __future__ import annotations

import html
import os
import re
import urllib.parse

import ipywidgets as widgets

from ipyseg.dataset.annotator import Annotator
from ipyseg.dataset.leases import default_user
from ipyseg.dataset.walks import MODES

#: Request headers an authenticating proxy may set, as Voilà passes them to the kernel
#: (``--VoilaConfiguration.http_header_envs="['X-Forwarded-User']"``), then JupyterHub's user.
USER_VARIABLES = ("HTTP_X_FORWARDED_USER", "HTTP_X_REMOTE_USER", "HTTP_REMOTE_USER", "JUPYTERHUB_USER")
#: What a name may hold (it is written into claims, provenance and conflict file names).
NAME_PATTERN = re.compile(r"[\w .@+-]{1,64}")


def checked_name(name) -> str:
    """``name`` stripped, if it is a usable annotator name (letters, digits, `` .@+-_``, at most 64)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name.strip() or "!"):
        raise ValueError(f"`user` must be 1-64 letters, digits, spaces or . @ + - _; got {name!r}")
    return name.strip()


def visitor_name(environ=None) -> tuple[str | None, str | None]:
    """``(user, mode)`` of this page's visitor, from the request as Voilà passes it to the kernel.

    ``user``: ``?user=<name>`` in the page's URL (``QUERY_STRING``), else an authenticating
    proxy's header (:data:`USER_VARIABLES`), else, outside Voilà (the notebook run in one's own
    Jupyter), the OS user name; else ``None``: a page served by Voilà to a team (every visitor's
    kernel runs as one OS user) asks. ``mode``: ``?mode=review`` for a reviewer, else ``None``.
    Values that are not usable are ignored.
    """
    env = os.environ if environ is None else environ
    query = urllib.parse.parse_qs(env.get("QUERY_STRING", ""))
    candidates = [*query.get("user", []), *(env.get(v, "") for v in USER_VARIABLES)]
    if not env.get("SERVER_SOFTWARE", "").startswith("voila/"):
        candidates.append(default_user())
    user = next((c.strip() for c in candidates if NAME_PATTERN.fullmatch(c.strip() or "!")), None)
    mode = next((m for m in query.get("mode", []) if m in MODES), None)
    return user, mode


class TeamPage(widgets.VBox):
    """The page of one visitor: their name (asked unless the request tells it), then an
    :class:`~ipyseg.Annotator` on the shared ``out`` as them.

    Parameters
    ----------
    source, out
        As for :class:`~ipyseg.Annotator`.
    user : str, optional
        The visitor's name (default: :func:`visitor_name`, else asked on the page).
    mode : {"annotate", "review"}, optional
        Default: ``?mode=`` of the request, else ``"annotate"``.
    **annotator_kw
        The Annotator's other arguments (``classes``, ``method``, ...).

    Attributes
    ----------
    annotator : Annotator or None
        Once the visitor is known.
    name_box : ipywidgets.Text
        Where the visitor types their name (shown until they start).
    """

    def __init__(self, source, *, out, user: str | None = None, mode: str | None = None, **annotator_kw):
        asked_user, asked_mode = visitor_name()
        self._open_args = (source, out, mode or asked_mode or "annotate", annotator_kw)
        self.annotator: Annotator | None = None
        self.name_box = widgets.Text(placeholder="your name", description="Your name", continuous_update=False)
        self.start_button = widgets.Button(description="Start", button_style="primary", icon="play")
        self.message = widgets.HTML()
        self.start_button.on_click(lambda _: self.start(self.name_box.value))
        self.name_box.observe(lambda change: self.start(change.new), "value")  # Enter (or leaving the box)
        super().__init__(children=[widgets.HBox([self.name_box, self.start_button]), self.message])
        name = user if user is not None else asked_user
        if name is not None:
            self.start(name)

    def start(self, name: str) -> Annotator | None:
        """Open the annotator as ``name`` (a bad name is shown, not raised: it was typed)."""
        if self.annotator is not None:
            return self.annotator
        try:
            name = checked_name(name)
        except ValueError as err:
            self.message.value = f'<span style="color:#b00020">{html.escape(str(err))}</span>'
            return None
        source, out, mode, kw = self._open_args
        self.annotator = Annotator(source, out=out, user=name, mode=mode, **kw)
        role = "reviewing" if mode == "review" else "annotating"
        who = widgets.HTML(f"{role} as <b>{html.escape(name)}</b>")
        self.children = [who, self.annotator]
        return self.annotator
