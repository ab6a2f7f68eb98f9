"""IoU-vs-clicks curves of NoC results, drawn with Pillow (already a dependency: no matplotlib)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
PANEL_W, PANEL_H, MARGIN = 420, 300, 48
Y_MIN = 0.0


def plot_curves(entries: list[dict], path: Path) -> None:
    """Write a PNG with one panel per data set: mean IoU after 1..20 clicks, one line per method.

    Parameters
    ----------
    entries : list of dict
        Each with ``method``, ``dataset`` and ``curve`` (mean IoU after 1..20 clicks, or after
        0..20 clicks for the box protocol: ``protocol == "box"``, 0 = the box alone).
    path : Path
        Output PNG.
    """
    datasets = sorted({e["dataset"] for e in entries}, key=lambda d: (d != "grabcut", d))
    methods = sorted({e["method"] for e in entries})
    colour = {m: COLOURS[i % len(COLOURS)] for i, m in enumerate(methods)}
    first = 0 if any(e.get("protocol") == "box" for e in entries) else 1
    width = len(datasets) * (PANEL_W + MARGIN) + MARGIN
    height = PANEL_H + 2 * MARGIN + 18 * len(methods) + 14
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    for p, dataset in enumerate(datasets):
        x0, y0 = MARGIN + p * (PANEL_W + MARGIN), MARGIN
        draw.rectangle([x0, y0, x0 + PANEL_W, y0 + PANEL_H], outline="black")
        title = f"{dataset}: mean IoU vs clicks" + (" (0 = the box alone)" if first == 0 else "")
        draw.text((x0, y0 - 30), title, fill="black")

        def to_xy(click, value, x0=x0, y0=y0):
            x = x0 + (click - first) / (20 - first) * PANEL_W
            y = y0 + PANEL_H - (max(value, Y_MIN) - Y_MIN) / (1 - Y_MIN) * PANEL_H
            return x, y

        for value in (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0):
            _, y = to_xy(1, value)
            draw.line([x0, y, x0 + PANEL_W, y], fill=(200, 200, 200) if value != 0.9 else (120, 120, 120))
            draw.text((x0 - 30, y - 6), f"{value:.2f}", fill="black")
        for click in (first, 5, 10, 15, 20):
            x, _ = to_xy(click, Y_MIN)
            draw.text((x - 4, y0 + PANEL_H + 4), str(click), fill="black")
        draw.text((x0 + PANEL_W // 2 - 15, y0 + PANEL_H + 18), "clicks", fill="black")
        for e in entries:
            if e["dataset"] == dataset:
                start = 0 if e.get("protocol") == "box" else 1
                pts = [to_xy(k + start, v) for k, v in enumerate(e["curve"])]
                draw.line(pts, fill=colour[e["method"]], width=2)
    for i, m in enumerate(methods):
        y = MARGIN + PANEL_H + 38 + 18 * i
        draw.line([MARGIN, y + 6, MARGIN + 24, y + 6], fill=colour[m], width=3)
        draw.text((MARGIN + 32, y), m, fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
