"""A front-end fix for ipycanvas 0.14: draw received images without keeping them forever.

ipycanvas' ``putImageData`` (its ``CanvasModel.putImageData`` in the browser) wraps every image
it receives in a ``Blob``, makes a blob URL with ``URL.createObjectURL``, loads it into an
``Image`` and draws it, but never revokes the URL. A live blob URL keeps the blob and the
browser's cached, decoded image of it alive for as long as the page lives, so every overlay
update and every zoomed view of a SegmentWidget stays in the browser's memory (hundreds of MB
after a few hundred strokes on a 12 MP photo; docs/benchmarks.md, "Browser memory").

:class:`ImageRelease` is an invisible widget (anywidget: its JavaScript travels with the widget,
so it works wherever ipywidgets do: JupyterLab, Notebook 7, Voilà) that, when its model is
created in the page, replaces ``putImageData`` on the prototype of ipycanvas' canvas model by an
equivalent that decodes with ``createImageBitmap`` (off the main thread, no URL) and releases
the bitmap once drawn. If anything it relies on is missing (another ipycanvas version), it
changes nothing and reports ``active = False``; a failing decode falls back to ipycanvas' own
code. The patch applies to every ipycanvas canvas of the page and draws exactly what ipycanvas
would.
"""

from __future__ import annotations

try:
    import anywidget
except ImportError:  # pragma: no cover - a declared dependency
    anywidget = None

import traitlets
from ipywidgets import Widget, widget_serialization

ESM = r"""
const PATCHED = Symbol.for("ipyseg.putImageData.original");

function patchPrototype(proto) {
  if (proto[PATCHED]) return true;
  const original = proto.putImageData;
  if (typeof original !== "function" || typeof proto._drawImage !== "function") return false;
  proto.putImageData = async function (args, buffers) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(new Blob([buffers[0]]));
    } catch (err) {
      return original.call(this, args, buffers);  // not decodable here: ipycanvas' own path
    }
    try {
      this._drawImage(bitmap, args[0], args[1]);
    } finally {
      bitmap.close();
    }
  };
  proto[PATCHED] = original;
  return true;
}

async function patch(model) {
  let ok = false;
  for (const ref of model.get("canvases") || []) {
    const id = String(ref).replace(/^IPY_MODEL_/, "");
    try {
      const canvas = await model.widget_manager.get_model(id);
      ok = patchPrototype(Object.getPrototypeOf(canvas)) || ok;
    } catch (err) {
      console.warn("ipyseg: cannot reach ipycanvas model", id, err);
    }
  }
  if (ok !== model.get("active")) {
    model.set("active", ok);
    model.save_changes();
  }
}

export default {
  async initialize({ model }) {
    await patch(model);
    model.on("change:canvases", () => patch(model));
  },
};
"""

if anywidget is not None:

    class ImageRelease(anywidget.AnyWidget):
        """Invisible widget that makes the page's ipycanvas canvases release received images.

        Parameters
        ----------
        canvases : list of ipycanvas.Canvas
            Any canvases of the page (one suffices: the fix applies to ipycanvas' model class).

        Attributes
        ----------
        active : bool
            Set by the page once the fix is in place (``False`` until then, or if it cannot be).
        """

        _esm = traitlets.Unicode(ESM).tag(sync=True)
        canvases = traitlets.List(traitlets.Instance(Widget)).tag(sync=True, **widget_serialization)
        active = traitlets.Bool(False).tag(sync=True)

else:  # pragma: no cover
    ImageRelease = None
