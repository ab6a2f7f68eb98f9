"""Data -> display pixels: display range (contrast), gamma, channel colours. Pure numpy + OpenCV.

An image's values are shown through a :class:`Mapping`: every channel's values are mapped
linearly from its display range ``(lo, hi)`` to [0, 1] (clipped), raised to ``gamma``, and the
shown channels are added up, each in its colour (napari's and Fiji's additive composite). RGB
photos are three channels in red, green and blue with one shared range. 8-bit images start with
the range (0, 255), which maps every value to itself: they look exactly as they are. Wider
integers and floats start with robust percentiles of their values (0.1 % - 99.9 %, per channel).

:class:`Picture` holds the full-precision data and the current mapping, and produces

* display pixels for the canvas from a display-resolution sample of the data (a lookup table per
  channel for integers up to 16 bits, a few in-place float32 operations otherwise), and
* the *segmentation image*: the same mapping at full resolution, as float32 in [0, 1] (no 8-bit
  rounding), or uint8 when the mapping is exact in 8 bits (8-bit data with the default range).

Nothing here knows widgets.
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from ipyseg.io import ImageData, as_image_data

#: Default display range: these percentiles of each channel's values.
PERCENTILES = (0.1, 99.9)
#: Percentiles are computed on a regular subsample of at most about this many pixels.
SAMPLE_PIXELS = 1_000_000
#: Allowed gamma values (the contrast control's slider spans the same interval).
GAMMA_RANGE = (0.1, 10.0)

COLORS = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "gray": (255, 255, 255),
    "grey": (255, 255, 255),
    "white": (255, 255, 255),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "yellow": (255, 255, 0),
    "orange": (255, 165, 0),
}
#: Default colours of a composite of more than three channels (Fiji's order).
#: The six display settings, in this order, wherever they are accepted (widget, Annotator, ``segment``).
DISPLAY_SETTINGS = ("channel_axis", "rgb", "channels", "channel_colors", "display_range", "gamma")

COMPOSITE_COLORS = ("red", "green", "blue", "gray", "cyan", "magenta", "yellow")


@dataclass(frozen=True)
class Mapping:
    """How data values become display pixels.

    Attributes
    ----------
    ranges : tuple of (float, float)
        Display range per channel group: one group for gray and RGB images (all colour
        channels share it), one per channel otherwise.
    gamma : float
        Exponent applied to the normalised values.
    channels : tuple of int
        Data channels shown (all three of an RGB image).
    colors : tuple of (int, int, int)
        RGB colour of each shown channel.
    """

    ranges: tuple
    gamma: float
    channels: tuple
    colors: tuple


# ---------------------------------------------------------------------------- ranges
def subsample(x: np.ndarray, pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """A regular subsample of the (H, W, ...) array ``x`` with at most about ``pixels`` pixels."""
    h, w = x.shape[:2]
    step = max(1, int(math.ceil(math.sqrt(h * w / float(pixels)))))
    return x[::step, ::step]


def constant_range(value: float, dtype) -> tuple[float, float]:
    """Display range of a constant image: the value against its type's usual scale.

    Floats within [0, 1] use (0, 1); 16-bit integers use their full scale; other values
    are shown white (positive), black (zero or negative).
    """
    v = float(value)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        if 0.0 <= v <= 1.0:
            return 0.0, 1.0
    elif dtype in (np.uint8, np.uint16, np.int16) and v >= 0:
        return 0.0, float(np.iinfo(dtype).max)
    if v > 0:
        return 0.0, v
    if v == 0:
        return 0.0, 1.0
    return v, 0.0


def robust_range(x: np.ndarray, percentiles=PERCENTILES) -> tuple[float, float]:
    """Default display range of the values of ``x`` (one channel, or RGB colour channels pooled).

    8-bit data: (0, 255) (shown as it is). Otherwise the ``percentiles`` of a subsample, widened
    to the data's extremes when they coincide; integers get integer bounds. A constant image
    gets :func:`constant_range`.
    """
    if x.dtype == np.uint8:
        return 0.0, 255.0
    sample = subsample(x)
    lo, hi = (float(v) for v in np.percentile(sample, percentiles))
    if not hi > lo:
        lo, hi = float(x.min()), float(x.max())
    if not hi > lo:
        return constant_range(lo, x.dtype)
    if x.dtype.kind in "iu":
        lo, hi = float(math.floor(lo)), float(math.ceil(hi))
    return lo, hi


def value_bounds(x: np.ndarray) -> tuple[float, float]:
    """Smallest and largest value (8-bit data: 0 and 255, the scale a control should offer)."""
    if x.dtype == np.uint8:
        return 0.0, 255.0
    return float(x.min()), float(x.max())


def parse_color(value, name: str = "channel_colors") -> tuple:
    """An (r, g, b) tuple of ints in [0, 255] from a name, ``"#rrggbb"`` or a triple."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in COLORS:
            return COLORS[key]
        if len(key) == 7 and key.startswith("#"):
            try:
                return tuple(int(key[i : i + 2], 16) for i in (1, 3, 5))
            except ValueError:
                pass
        raise ValueError(f"`{name}`: unknown colour {value!r}; use one of {sorted(COLORS)}, '#rrggbb' or (r, g, b)")
    try:
        rgb = tuple(value)
    except TypeError:
        raise TypeError(f"`{name}` entries must be colour names, '#rrggbb' or (r, g, b); got {value!r}") from None
    if len(rgb) != 3 or not all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in rgb):
        raise ValueError(f"`{name}` entries must be (r, g, b) triples of numbers in [0, 255]; got {value!r}")
    if not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"`{name}` components must lie in [0, 255]; got {value!r}")
    return tuple(int(round(c)) for c in rgb)


def default_colors(n: int) -> tuple:
    """Colours of ``n`` shown channels: gray for one, red / green / blue for up to three, then Fiji's order."""
    if n == 1:
        return (COLORS["gray"],)
    return tuple(COLORS[COMPOSITE_COLORS[i % len(COMPOSITE_COLORS)]] for i in range(n))


def _pair(value, name: str) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a (lo, hi) pair of numbers; got {value!r}") from None
    for v in (lo, hi):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"`{name}` must be a (lo, hi) pair of numbers; got {value!r}")
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi or not math.isfinite(hi - lo):
        raise ValueError(f"`{name}` must be finite numbers with lo < hi (and a finite hi - lo); got {value!r}")
    return lo, hi


# ------------------------------------------------------------------- value mapping
@functools.lru_cache(maxsize=64)
def _lut(dtype: str, lo: float, hi: float, gamma: float, out: str) -> np.ndarray:
    """Lookup table from every value of an 8/16-bit dtype to [0, 1] float32 or rounded uint8.

    int16 tables are indexed by the values' uint16 bit pattern (``x.view(np.uint16)``).
    """
    dt = np.dtype(dtype)
    values = np.arange(256 if dt.itemsize == 1 else 65536, dtype=np.float64)
    if dt == np.int16:
        values[32768:] -= 65536.0
    y = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    if gamma != 1.0:
        y = y**gamma
    table = np.rint(y * 255.0).astype(np.uint8) if out == "u8" else y.astype(np.float32)
    table.flags.writeable = False
    return table


_F32_TINY, _F32_MAX = float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max)


def levels(x: np.ndarray, lo: float, hi: float, gamma: float = 1.0, out: str = "f32") -> np.ndarray:
    """Map one channel ``x`` (h, w) through a display range: float32 in [0, 1] or uint8.

    Integers up to 16 bits use a lookup table; float32 data with a range float32 can hold a
    few in-place float32 operations; other data (float64, 32/64-bit integers, extreme ranges)
    float64 arithmetic in blocks of rows (no float64 temporary of the image's size, no
    overflow to infinity or NaN however large or small the values are).
    """
    if x.dtype in (np.uint8, np.uint16, np.int16):
        table = _lut(x.dtype.str, float(lo), float(hi), float(gamma), out)
        idx = x.view(np.uint16) if x.dtype == np.int16 else x
        return np.take(table, idx)
    lo, hi = float(lo), float(hi)
    y = np.empty(x.shape, np.float32)
    scale = 1.0 / (hi - lo) if hi - lo > 1e-300 else 0.0
    fast = x.dtype == np.float32 and abs(lo) <= _F32_MAX and _F32_TINY <= scale <= _F32_MAX
    if fast:
        np.subtract(x, np.float32(lo), out=y)
        y *= np.float32(scale)  # an overflow gives +-inf, clipped; never inf * 0
        np.clip(y, 0.0, 1.0, out=y)
    else:
        rows = max(1, (1 << 18) // max(1, x[:1].size))
        for r0 in range(0, x.shape[0], rows):
            blk = x[r0 : r0 + rows].astype(np.float64)
            blk -= lo
            blk /= hi - lo
            y[r0 : r0 + rows] = np.clip(blk, 0.0, 1.0, out=blk)
    if gamma != 1.0:
        cv2.pow(y, float(gamma), dst=y)
    if out == "u8":
        return cv2.convertScaleAbs(y, alpha=255.0)
    return y


def _placeable(colors) -> bool:
    """Whether every colour is made of full primaries, each primary used by one channel at most.

    Then the composite is a plain placement of each channel into its components (no sums), and
    exact in 8 bits.
    """
    used = [0, 0, 0]
    for col in colors:
        for k, c in enumerate(col):
            if c not in (0, 255):
                return False
            used[k] += c == 255
    return max(used) <= 1


def alpha8(a: np.ndarray) -> np.ndarray:
    """An alpha channel of any dtype as uint8 (uint8 as is; 16-bit scaled; floats in [0, 1])."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if a.dtype.kind == "f":
        return cv2.convertScaleAbs(np.clip(a, 0.0, 1.0).astype(np.float32), alpha=255.0)
    return np.clip(a, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------ resampling
def resize_area(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.resize(x, size, INTER_AREA)`` for (h, w, C) arrays of any channel count and dtype.

    Keeps the channel axis (also for one channel). Dtypes OpenCV cannot average (32/64-bit
    integers) are averaged as float32.
    """
    if x.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        x = x.astype(np.float32)
    parts = []
    for c0 in range(0, x.shape[2], 4):
        part = cv2.resize(x[:, :, c0 : c0 + 4], size, interpolation=cv2.INTER_AREA)
        parts.append(part if part.ndim == 3 else part[:, :, None])
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)


def sample_view(data: np.ndarray, viewport) -> np.ndarray:
    """``data`` (H, W, C) at the canvas pixels of ``viewport`` (an :class:`ipyseg.geometry.Viewport`).

    Area-averaged when the view shrinks the image, nearest pixel when it enlarges it (as the
    widget shows photos); the data's dtype is kept where OpenCV can average it.
    """
    vp = viewport
    if vp.scale >= 1.0:
        rows, cols = vp.canvas_pixel_sources()
        return data.take(rows, axis=0).take(cols, axis=1)
    r0, r1, c0, c1 = vp.visible_region()
    return resize_area(data[r0:r1, c0:c1], (vp.canvas_width, vp.canvas_height))


# --------------------------------------------------------------------------- picture
class Picture:
    """An image's full-precision data and the mapping that shows it.

    Parameters
    ----------
    image : ipyseg.io.ImageData
        Channels-last data (see :func:`ipyseg.io.as_image_data`).

    Attributes
    ----------
    shape : tuple
        ``(H, W, 3)``, or ``(H, W, 4)`` for RGBA data: the shape of the display image.
    rgb : bool
    n_channels : int
        Channels of the data (C).
    groups : int
        Independent display ranges: 1 for gray and RGB images, C otherwise.
    bounds : tuple of (float, float)
        Smallest and largest value per group.
    default_ranges : tuple of (float, float)
        The robust default display range per group (:func:`robust_range`).

    Notes
    -----
    Thread-safe: the full-resolution images are computed under a lock and cached per mapping.
    """

    def __init__(self, image: ImageData):
        data = image.data
        self.data3 = data
        self.rgb = image.rgb
        self.alpha = image.alpha
        self.path = image.path
        self.n_channels = data.shape[2]
        self.groups = 1 if self.rgb or self.n_channels == 1 else self.n_channels
        self.shape = (data.shape[0], data.shape[1], 4 if self.alpha else 3)
        if self.rgb:
            colour = data[:, :, :3]
            self.bounds = (value_bounds(colour),)
            self.default_ranges = (robust_range(colour),)
        else:
            self.bounds = tuple(value_bounds(data[:, :, c]) for c in range(self.n_channels))
            self.default_ranges = tuple(robust_range(data[:, :, c]) for c in range(self.n_channels))
        channels = (0, 1, 2) if self.rgb else tuple(range(self.n_channels))
        colors = (COLORS["red"], COLORS["green"], COLORS["blue"]) if self.rgb else default_colors(len(channels))
        self._mapping = Mapping(self.default_ranges, 1.0, channels, colors)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple] = {}

    # ------------------------------------------------------------ data
    @property
    def data(self) -> np.ndarray:
        """The values as given: (H, W) for gray images, (H, W, C) otherwise; read-only."""
        return self.data3[:, :, 0] if self.n_channels == 1 and not self.rgb else self.data3

    @property
    def dtype(self) -> np.dtype:
        """The data's dtype."""
        return self.data3.dtype

    def group(self, channel: int) -> int:
        """The display-range group of a data channel."""
        return 0 if self.groups == 1 else channel

    # --------------------------------------------------------- mapping

    def cutout(self, mask: np.ndarray, alpha: bool = False) -> np.ndarray:
        """The data where (H, W) bool ``mask`` is set, zero elsewhere, in its own dtype.

        (H, W, 3) for RGB and gray pictures (gray repeated), (H, W, C) otherwise; ``alpha``
        appends the mask at the dtype's full scale times the picture's own alpha.
        """
        d = self.data3
        if self.rgb:
            rgb = d[:, :, :3]
        elif self.n_channels == 1:
            rgb = np.repeat(d, 3, axis=2)
        else:
            rgb = d
        out = rgb * mask[:, :, None].astype(d.dtype)
        if not alpha:
            return out
        top = 1.0 if d.dtype.kind == "f" else np.iinfo(d.dtype).max
        a = np.where(mask, d.dtype.type(top), d.dtype.type(0))
        if self.alpha:
            a = np.minimum(a, d[:, :, 3])
        return np.dstack([out, a])

    @property
    def mapping(self) -> Mapping:
        """The current display mapping."""
        return self._mapping

    def set_mapping(self, mapping: Mapping) -> None:
        """Show the data with ``mapping`` from now on (already checked)."""
        self._mapping = mapping

    def segmentation_key(self, mapping: Mapping | None = None) -> tuple:
        """What the segmentation image depends on: ranges of the shown channels, gamma, channels, colours."""
        m = mapping or self._mapping
        return (tuple(m.ranges[self.group(c)] for c in m.channels), m.gamma, m.channels, m.colors)

    def exact8(self, mapping: Mapping | None = None) -> bool:
        """Whether the mapping is exact in 8 bits: 8-bit data, range (0, 255), gamma 1, placeable colours."""
        m = mapping or self._mapping
        return (
            self.dtype == np.uint8
            and m.gamma == 1.0
            and all(m.ranges[self.group(c)] == (0.0, 255.0) for c in m.channels)
            and _placeable(m.colors)
        )

    # ------------------------------------------------ checking settings
    def check_range(self, value, current: tuple, name: str = "display_range") -> tuple:
        """Display ranges per group from a user value.

        ``None`` restores the defaults; a ``(lo, hi)`` pair sets every group; a sequence of
        ``groups`` pairs sets each; a dict ``{channel: pair or None}`` changes some channels.
        """
        if value is None:
            return self.default_ranges
        if isinstance(value, dict):
            out = list(current)
            for ch, pair in value.items():
                c = self._channel_index(ch, name + " key")
                g = self.group(c)
                out[g] = self.default_ranges[g] if pair is None else _pair(pair, f"{name}[{c}]")
            return tuple(out)
        try:
            items = list(value)
        except TypeError:
            raise TypeError(f"`{name}` must be a (lo, hi) pair, a list of pairs or None; got {value!r}") from None
        if len(items) == 2 and any(isinstance(v, numbers.Real) for v in items):  # one pair
            return (_pair(items, name),) * self.groups
        if len(items) != self.groups:
            what = "one pair (gray or RGB image)" if self.groups == 1 else f"{self.groups} pairs (one per channel)"
            raise ValueError(f"`{name}` must be a (lo, hi) pair or {what}; got {value!r}")
        return tuple(_pair(p, f"{name}[{i}]") for i, p in enumerate(items))

    def public_range(self, ranges: tuple):
        """The ``display_range`` trait value: one pair for gray / RGB, a tuple of pairs otherwise."""
        return ranges[0] if self.groups == 1 else tuple(ranges)

    def _channel_index(self, value, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"`{name}` must hold channel indices (integers); got {value!r}")
        c = int(value)
        if not 0 <= c < self.n_channels:
            raise ValueError(
                f"`{name}`: channel {value} is out of range; the image has {self.n_channels} channel"
                f"{'s' if self.n_channels != 1 else ''} (0 to {self.n_channels - 1})"
            )
        return c

    def check_channels(self, value, name: str = "channels") -> tuple:
        """The shown channels from a user value (``None``: all)."""
        if self.rgb:
            try:
                same = value is None or tuple(value) == (0, 1, 2)
            except TypeError:
                same = False
            if same:
                return (0, 1, 2)
            raise ValueError(
                f"`{name}`: the image is shown as RGB; pass rgb=False to show its channels separately; got {value!r}"
            )
        if value is None:
            return tuple(range(self.n_channels))
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = [value]
        try:
            items = list(value)
        except TypeError:
            raise TypeError(f"`{name}` must be a list of channel indices; got {value!r}") from None
        if not items:
            raise ValueError(f"`{name}` must list at least one channel; got {value!r}")
        out = tuple(self._channel_index(v, name) for v in items)
        if len(set(out)) != len(out):
            raise ValueError(f"`{name}` must not repeat a channel; got {value!r}")
        return out

    def check_colors(self, value, n: int, name: str = "channel_colors") -> tuple:
        """One colour per shown channel from a user value (``None``: the defaults)."""
        if self.rgb:
            rgb = (COLORS["red"], COLORS["green"], COLORS["blue"])
            try:
                same = value is None or tuple(parse_color(v, name) for v in value) == rgb
            except (TypeError, ValueError):
                same = False
            if same:
                return rgb
            raise ValueError(
                f"`{name}`: the image is shown as RGB; pass rgb=False to colour its channels; got {value!r}"
            )
        if value is None:
            return default_colors(n)
        if isinstance(value, str):
            value = [value]
        try:
            items = list(value)
        except TypeError:
            raise TypeError(
                f"`{name}` must be a list of colours (names, '#rrggbb' or RGB triples); got {value!r}"
            ) from None
        if len(items) != n:
            raise ValueError(f"`{name}` must give one colour per shown channel ({n}); got {len(items)}: {value!r}")
        return tuple(parse_color(v, name) for v in items)

    # ------------------------------------------------------ rendering
    def render(self, x: np.ndarray, mapping: Mapping | None = None) -> np.ndarray:
        """Display pixels of data ``x`` (h, w, C): (h, w, 3) uint8, (h, w, 4) with alpha.

        ``x`` is the data or a resampled part of it; for 8-bit data with an exact mapping an
        RGB(A) ``x`` is returned as it is (no copy).
        """
        m = mapping or self._mapping
        if self.rgb and self.exact8(m):
            return x if x.shape[2] == (4 if self.alpha else 3) else x[:, :, :3]
        out = self._compose(x, m, "u8")
        if self.alpha:
            out = np.dstack([out, alpha8(x[:, :, 3])])
        return out

    def render_float(self, x: np.ndarray, mapping: Mapping | None = None) -> np.ndarray:
        """Data ``x`` (h, w, C) mapped at full precision: (h, w, 3) float32 in [0, 1]."""
        return self._compose(x, mapping or self._mapping, "f32")

    def _compose(self, x: np.ndarray, m: Mapping, out: str) -> np.ndarray:
        """The composite as three contiguous colour planes, merged once (OpenCV)."""
        h, w = x.shape[:2]
        exact = self.exact8(m)
        dtype = np.uint8 if out == "u8" else np.float32
        planes: list = [None, None, None]
        if _placeable(m.colors):  # each colour component comes from one channel: no sums
            for c, col in zip(m.channels, m.colors, strict=True):
                plane = x[:, :, c]
                if exact and out == "f32":
                    plane = plane.astype(np.float32) * np.float32(1 / 255.0)
                elif not exact:
                    lo, hi = m.ranges[self.group(c)]
                    plane = levels(plane, lo, hi, m.gamma, out)
                for k in range(3):
                    if col[k]:
                        planes[k] = plane
        else:  # additive composite in float32, one accumulator per colour component
            for c, col in zip(m.channels, m.colors, strict=True):
                lo, hi = m.ranges[self.group(c)]
                plane = levels(x[:, :, c], lo, hi, m.gamma, "f32")
                for k in range(3):
                    if col[k]:
                        weight = col[k] / 255.0
                        if planes[k] is None:
                            planes[k] = plane * np.float32(weight)
                        else:
                            cv2.scaleAdd(plane, weight, planes[k], dst=planes[k])
            for k in range(3):
                if planes[k] is not None:
                    if out == "u8":
                        planes[k] = cv2.convertScaleAbs(planes[k], alpha=255.0)  # saturates above 1
                    else:
                        np.minimum(planes[k], 1.0, out=planes[k])
        zero = None
        for k in range(3):
            if planes[k] is None:
                zero = np.zeros((h, w), dtype) if zero is None else zero
                planes[k] = zero
            else:
                planes[k] = np.ascontiguousarray(planes[k], dtype=dtype)
        return cv2.merge(planes)

    def image(self) -> np.ndarray:
        """The whole image as shown: (H, W, 3|4) uint8, read-only, cached per mapping."""
        return self._cached("image", self._mapping, lambda m: self.render(self.data3, m))

    def segmentation_image(self) -> np.ndarray:
        """What segmenters see: the shown image at full precision, (H, W, 3), read-only, cached.

        uint8 when the mapping is exact in 8 bits (then it equals :meth:`image`'s colour
        channels), float32 in [0, 1] otherwise. Recomputed only when :meth:`segmentation_key`
        changes.
        """
        m = self._mapping

        def build(m):
            if self.exact8(m):
                img = self.render(self.data3, m)
                return img if img.shape[2] == 3 else img[:, :, :3]
            return self.render_float(self.data3, m)

        return self._cached("segmentation", m, build, key=self.segmentation_key(m))

    def _cached(self, slot: str, m: Mapping, build, key=None) -> np.ndarray:
        key = m if key is None else key
        with self._lock:
            hit = self._cache.get(slot)
            if hit is not None and hit[0] == key:
                return hit[1]
            arr = build(m)
            if arr.flags.writeable:
                arr.flags.writeable = False
            self._cache[slot] = (key, arr)
            return arr

    def release(self) -> None:
        """Forget the cached full-resolution images (the data stays)."""
        with self._lock:
            self._cache.clear()


def as_picture(
    image,
    *,
    channel_axis=None,
    rgb=None,
    channels=None,
    channel_colors=None,
    display_range=None,
    gamma=1.0,
    name="image",
) -> Picture:
    """Validate an image and its display settings; see :class:`ipyseg.SegmentWidget` for the arguments."""
    pic = Picture(as_image_data(image, channel_axis=channel_axis, rgb=rgb, name=name))
    chans = pic.check_channels(channels)
    colors = pic.check_colors(channel_colors, len(chans))
    ranges = pic.check_range(display_range, pic.default_ranges)
    pic.set_mapping(Mapping(ranges, check_gamma(gamma), chans, colors))
    return pic


def check_gamma(value, name: str = "gamma") -> float:
    """A gamma in :data:`GAMMA_RANGE`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number; got {value!r}")
    g = float(value)
    lo, hi = GAMMA_RANGE
    if not (math.isfinite(g) and lo <= g <= hi):
        raise ValueError(f"`{name}` must be a finite number in [{lo:g}, {hi:g}]; got {value!r}")
    return g
