// ipyseg's front-end companion of the canvas (an anywidget view placed just before the canvas).
//
// 1. A status badge on the canvas: busy, "preview · refining" with the elapsed time, errors.
//    The kernel sends the state; the elapsed time is counted here (no message per tick).
// 2. Wheel: ipycanvas 0.14 calls preventDefault on every wheel event over its canvas, which
//    traps the notebook's scrolling. A capture-phase listener on the document keeps plain wheel
//    events away from ipycanvas (the page scrolls); ctrl/⌘ + wheel and touch-pad pinch
//    (Chromium and Firefox report it as a wheel event with ctrlKey; Safari as gesture events)
//    zoom the canvas around the pointer, coalesced to one message per ZOOM_MS.
// 3. Keyboard focus: the canvas takes the keyboard while the pointer is over it (without
//    scrolling the page and without making the cell active), unless a text field or editor has
//    it; it is given back when the pointer leaves, unless a button was pressed on the canvas.
// 4. The focus click: a press on a canvas that does not have the keyboard focus is held back
//    from ipycanvas. Released without moving, it only focused the canvas (no seed, nothing
//    sent). Moved further than SLOP_PX with the button down, it is replayed to ipycanvas (and
//    ipyevents) at the press position and the drag paints as usual. All in the browser, so
//    nothing depends on the order in which the kernel receives messages of different widgets.
//    The canvas is focused here with preventScroll, so ipycanvas' own focus() does not scroll.

const ZOOM_MS = 40;
const SLOP_PX = 4;
const SHOW_BUSY_AFTER_MS = 250;
// Where someone may be typing: the pointer passing over the canvas never takes the keyboard
// from these (a dropdown, checkbox or button that has the focus is not typing).
const EDITABLE =
  'textarea, [contenteditable=""], [contenteditable="true"], [contenteditable="plaintext-only"], ' +
  "input:not([type=checkbox]):not([type=radio]):not([type=range]):not([type=button]):not([type=submit])" +
  ":not([type=reset]):not([type=color]):not([type=file]):not([type=image])";

function isEditable(el) {
  return !!el && el !== document.body && typeof el.matches === "function" && el.matches(EDITABLE);
}

function formatSeconds(s) {
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

function render({ model, el }) {
  el.classList.add("ipyseg-overlay");
  const badge = document.createElement("div");
  badge.className = "ipyseg-badge";
  badge.setAttribute("role", "status");
  badge.setAttribute("aria-live", "polite");
  el.appendChild(badge);

  // ------------------------------------------------------------------ badge
  let timer = null;
  let shownAt = 0;
  function paintBadge() {
    const state = model.get("badge") || {};
    const kind = state.kind || "";
    badge.dataset.kind = kind;
    if (!kind) {
      badge.textContent = "";
      badge.classList.remove("ipyseg-badge-visible");
      return;
    }
    let text = state.text || "";
    if (kind === "busy" || kind === "refining") {
      const seconds = (state.elapsed || 0) + (performance.now() - shownAt) / 1000;
      if (kind === "busy" && seconds * 1000 < SHOW_BUSY_AFTER_MS) {
        badge.classList.remove("ipyseg-badge-visible"); // quick answers do not flash a badge
        return;
      }
      text = `${text} ${formatSeconds(seconds)}`;
    }
    badge.textContent = text;
    badge.classList.add("ipyseg-badge-visible");
  }
  function onBadge() {
    shownAt = performance.now();
    clearInterval(timer);
    timer = null;
    const kind = (model.get("badge") || {}).kind;
    if (kind === "busy" || kind === "refining") timer = setInterval(paintBadge, 100);
    paintBadge();
  }
  model.on("change:badge", onBadge);
  onBadge();

  // --------------------------------------------------------- our canvas only
  function ourCanvas(target) {
    const root = el.parentElement;
    return root && target && target.tagName === "CANVAS" && target.parentElement === root ? target : null;
  }
  function canvasXY(c, e) {
    const r = c.getBoundingClientRect();
    return { x: (c.width * (e.clientX - r.left)) / r.width, y: (c.height * (e.clientY - r.top)) / r.height };
  }

  // ------------------------------------------------------------------ zoom
  let zoomFactor = 1;
  let zoomAt = null;
  let zoomTimer = null;
  function queueZoom(c, e, factor) {
    zoomFactor *= factor;
    zoomAt = canvasXY(c, e);
    if (zoomTimer === null) {
      zoomTimer = setTimeout(() => {
        model.send({ event: "zoom", x: zoomAt.x, y: zoomAt.y, factor: zoomFactor });
        zoomFactor = 1;
        zoomTimer = null;
      }, ZOOM_MS);
    }
  }
  function onWheel(e) {
    const c = ourCanvas(e.target);
    if (!c) return;
    e.stopPropagation(); // ipycanvas would preventDefault it: the notebook could not scroll
    if (!(e.ctrlKey || e.metaKey)) return; // plain wheel: the page scrolls, the canvas never zooms
    e.preventDefault(); // ctrl/⌘ + wheel or pinch: zoom the canvas, not the page
    const unit = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? 800 : 1;
    queueZoom(c, e, Math.pow(1.25, (-e.deltaY * unit) / 100));
  }
  let gestureScale = 1;
  function onGesture(e) {
    // Safari's touch-pad pinch
    const c = ourCanvas(e.target);
    if (!c || typeof e.scale !== "number") return;
    e.preventDefault();
    e.stopPropagation();
    if (e.type === "gesturestart") gestureScale = 1;
    else if (e.scale > 0) {
      queueZoom(c, e, e.scale / gestureScale);
      gestureScale = e.scale;
    }
  }

  // ----------------------------------------------------------------- focus
  let hover = null; // {canvas, previous} while the canvas holds the keyboard by hovering
  let suppressFocusIn = false;
  function focusQuietly(c) {
    suppressFocusIn = true; // the cell around the canvas is not made the notebook's active cell
    try {
      c.focus({ preventScroll: true });
    } finally {
      suppressFocusIn = false;
    }
  }
  function onFocusIn(e) {
    if (suppressFocusIn && ourCanvas(e.target)) e.stopPropagation();
  }
  function onOver(e) {
    const c = ourCanvas(e.target);
    if (!c || document.activeElement === c || e.buttons) return;
    const previous = document.activeElement;
    if (isEditable(previous)) return; // never take the keyboard from someone typing
    hover = { canvas: c, previous };
    focusQuietly(c);
  }
  function onOut(e) {
    const c = ourCanvas(e.target);
    if (!c || !hover || hover.canvas !== c) return;
    const { previous } = hover;
    hover = null;
    if (document.activeElement !== c) return;
    if (previous && previous !== document.body && previous.isConnected) previous.focus({ preventScroll: true });
    else c.blur();
  }
  let held = null; // a press on an unfocused canvas, not passed to ipycanvas (yet)
  let replaying = false;
  function onDown(e) {
    if (replaying) return;
    const c = ourCanvas(e.target);
    if (!c) return;
    hover = null; // a press keeps the keyboard on the canvas
    if (document.activeElement === c) return; // an ordinary press
    e.stopPropagation(); // hold it back from ipycanvas and ipyevents
    held = {
      canvas: c,
      x: e.clientX,
      y: e.clientY,
      init: {
        bubbles: true,
        cancelable: true,
        composed: true,
        view: window,
        detail: e.detail,
        screenX: e.screenX,
        screenY: e.screenY,
        clientX: e.clientX,
        clientY: e.clientY,
        button: e.button,
        buttons: e.buttons,
        ctrlKey: e.ctrlKey,
        shiftKey: e.shiftKey,
        altKey: e.altKey,
        metaKey: e.metaKey,
      },
    };
    c.focus({ preventScroll: true });
    el.dataset.focusClicks = `${Number(el.dataset.focusClicks || 0) + 1}`; // for tests
  }
  function onMove(e) {
    if (!held) return;
    if (!e.buttons) {
      held = null; // released outside the page
      return;
    }
    if (Math.hypot(e.clientX - held.x, e.clientY - held.y) <= SLOP_PX) {
      // still a click: ipycanvas hears nothing (its last move stays the press position)
      if (ourCanvas(e.target)) e.stopPropagation();
      return;
    }
    const { canvas, init } = held;
    held = null;
    replaying = true; // a drag after all: ipycanvas gets its press, at the press position
    try {
      canvas.dispatchEvent(new MouseEvent("mousedown", init));
    } finally {
      replaying = false;
    }
  }
  function onUp(e) {
    if (!held) return;
    held = null;
    if (ourCanvas(e.target)) e.stopPropagation(); // the focus click ends: ipycanvas saw none of it
  }

  const opts = { capture: true, passive: false };
  const listeners = [
    ["wheel", onWheel],
    ["gesturestart", onGesture],
    ["gesturechange", onGesture],
    ["mouseover", onOver],
    ["mouseout", onOut],
    ["mousedown", onDown],
    ["mousemove", onMove],
    ["mouseup", onUp],
    ["focusin", onFocusIn],
  ];
  for (const [type, fn] of listeners) document.addEventListener(type, fn, opts);
  model.send({ event: "ready" });
  return () => {
    for (const [type, fn] of listeners) document.removeEventListener(type, fn, opts);
    clearInterval(timer);
    clearTimeout(zoomTimer);
  };
}

export default { render };
