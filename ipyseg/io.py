"""Getting images in: files, arrays and PIL images, to full-precision channels-last data.

* TIFF files (``.tif``, ``.tiff``, ``.ome.tif``) are read with ``tifffile``: 8/16/32-bit integer
  and float pixels, multi-page files, and the axes recorded by OME-TIFF, ImageJ hyperstacks and
  tifffile itself (``"CYX"``, ``"ZCYX"``, ``"YXS"``, ...). Other formats go through Pillow.
* :func:`as_image_data` turns what a user passes (path, numpy array, PIL image, or anything
  ``np.asarray`` reads, such as dask and zarr arrays) into :class:`ImageData`: an (H, W, C) array
  in its own dtype and whether its channels are R, G, B(, A) or separate channels.
* A TIFF stack (``Z``, ``T`` or unnamed pages) is a sequence of planes: :func:`tiff_planes`
  counts them from the file's header and :class:`TiffPlane` reads one of them, only its pages
  (the dataset annotator makes each plane an item).

Nothing here maps values to display pixels; that is :mod:`ipyseg.display`.
"""

from __future__ import annotations

import math
import operator
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

TIFF_SUFFIXES = (".tif", ".tiff")
#: Where to send a stack (the dataset annotator: each plane is an item).
STACK_HINT = "to annotate every plane, use ipyseg.Annotator (each plane is an item)"


@dataclass(frozen=True)
class ImageFile:
    """An image file's pixels as stored, with the meaning of each axis.

    Attributes
    ----------
    array : ndarray
        The pixels (the first series of a TIFF, its full-resolution level), any dtype.
    axes : str
        One letter per axis of ``array``, tifffile's letters: ``Y`` rows, ``X`` columns,
        ``S`` colour samples (RGB), ``C`` channels, ``Z`` / ``T`` / ``Q`` / ``I`` planes.
    path : Path
    """

    array: np.ndarray
    axes: str
    path: Path


@dataclass(frozen=True)
class ImageData:
    """An image ready for display: channels last, the data's own dtype.

    Attributes
    ----------
    data : (H, W, C) ndarray
        Read-only, never a view of the caller's array. bool becomes uint8 0/255, float16
        becomes float32, int8 becomes int16; integers of other types whose values all lie in
        [0, 255] become uint8 (they are 8-bit images); everything else keeps its dtype.
    rgb : bool
        ``True``: the channels are R, G, B (and A when C == 4), shown as a colour photo with one
        display range. ``False``: C separate channels (C == 1 is a gray image).
    path : Path or None
        The file the image was read from.
    """

    data: np.ndarray
    rgb: bool
    path: Path | None = None

    @property
    def alpha(self) -> bool:
        """Whether the image has an alpha channel (RGBA)."""
        return self.rgb and self.data.shape[2] == 4


def _describe(value) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:200]


def read_image(path, name: str = "image") -> ImageFile:
    """Read an image file with its axes: TIFF through tifffile, other formats through Pillow.

    Parameters
    ----------
    path : str, path or TiffPlane
    name : str
        Argument name used in error messages.

    Returns
    -------
    ImageFile
        Pillow files have axes ``"YX"`` (gray) or ``"YXS"`` (RGB, RGBA). Palette and other
        modes are converted to RGB(A) as :func:`read_image_file` does.
    """
    if isinstance(path, TiffPlane):
        return path.read(name)
    path = checked_image_path(path, name)
    if path.suffix.lower() in TIFF_SUFFIXES:
        return read_tiff(path, name)

    arr = read_image_file(path, name)
    return ImageFile(arr, "YX" if arr.ndim == 2 else "YXS", path)


def read_tiff(path, name: str = "image") -> ImageFile:
    """Read a TIFF file with tifffile: the first series at full resolution, and its axes.

    Singleton axes are dropped (tifffile's default). A file whose pages form several images of
    different shapes raises ``ValueError``: those are separate items, not one image.
    """
    import tifffile

    path = Path(os.fspath(path))
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series
            if not series:
                raise ValueError(f"`{name}`: cannot read '{path}' as a TIFF image (it holds no image)")
            if len(series) > 1:
                shapes = ", ".join(str(tuple(s.shape)) for s in series[:4])
                raise ValueError(
                    f"`{name}`: '{path}' holds {len(series)} images of different shapes ({shapes}"
                    f"{', ...' if len(series) > 4 else ''}); SegmentWidget shows one image: {STACK_HINT}"
                )
            s = series[0]
            return ImageFile(s.asarray(), str(s.axes).upper(), path)
    except (tifffile.TiffFileError, OSError, KeyError, IndexError) as err:
        raise ValueError(f"`{name}`: cannot read '{path}' as a TIFF image ({err})") from err
    except ValueError as err:  # e.g. a compression no codec here decodes
        if str(err).startswith(f"`{name}`"):
            raise
        raise ValueError(f"`{name}`: cannot decode the TIFF image '{path}' ({err})") from err


# ------------------------------------------------------------------ TIFF stacks, plane by plane
#: Axis letters that belong to one image (rows, columns, channels, colour samples); any other
#: axis of a TIFF series (``Z``, ``T``, ``Q``, ``I``, ...) enumerates planes.
IMAGE_AXES = "YXCS"


@dataclass(frozen=True)
class _Series:
    """How one TIFF series splits into planes (from the header only)."""

    index: int  # the series' position in the file
    shape: tuple  # unsqueezed (tifffile's ``get_shape(False)``)
    axes: str
    plane_axes: tuple  # positions in ``shape`` that enumerate planes
    lead: int | None  # leading axes that enumerate the series' pages; None: read the series whole
    count: int  # planes

    def plane_shape(self) -> tuple:
        return tuple(self.shape[i] for i in self.plane_axes)


def _series_layouts(tif, image_ndim: int | None) -> list[_Series]:
    out = []
    for si, s in enumerate(tif.series):
        shape, axes = tuple(int(n) for n in s.get_shape(False)), str(s.get_axes(False)).upper()
        kept = [i for i, (n, a) in enumerate(zip(shape, axes, strict=True)) if n > 1 or a in "YX"]
        if image_ndim is None:
            plane_axes = tuple(i for i in kept if axes[i] not in IMAGE_AXES)
        else:
            plane_axes = tuple(kept[: max(0, len(kept) - image_ndim)])
        pages, page_size = len(s.pages), int(s.keyframe.size)
        lead = None
        for k in range(len(shape) + 1):
            if math.prod(shape[:k]) == pages and math.prod(shape[k:]) == page_size:
                lead = k
                break
        if lead is not None and (any(i >= lead for i in plane_axes) or any(a in "YX" for a in axes[:lead])):
            lead = None  # planes inside a page (volumetric tiles): read the series whole
        count = math.prod(shape[i] for i in plane_axes)
        out.append(_Series(si, shape, axes, plane_axes, lead, count))
    return out


def _open_tiff(path: Path, name: str):
    import tifffile

    try:
        return tifffile.TiffFile(path)
    except (tifffile.TiffFileError, OSError, KeyError, IndexError, ValueError) as err:
        raise ValueError(f"`{name}`: cannot read '{path}' as a TIFF image ({err})") from err


def tiff_planes(path, *, image_ndim: int | None = None) -> int:
    """How many planes a TIFF file holds (only its header is read).

    Parameters
    ----------
    path : str or path
    image_ndim : int, optional
        ``None``: the axes other than ``Y``, ``X``, ``C`` (channels) and ``S`` (colour samples)
        enumerate planes (``Z``, ``T``, unnamed pages ``Q``, ...). An integer ``n``: the last
        ``n`` non-singleton axes are one image and all axes before them enumerate planes (use 3
        when a ``channel_axis`` is given for each plane).

    Returns
    -------
    int
        1 for a single image; the planes of every series of the file, added up, otherwise.
    """
    path = Path(os.fspath(path))
    with _open_tiff(path, "path") as tif:
        if not tif.series:
            raise ValueError(f"`path`: cannot read '{path}' as a TIFF image (it holds no image)")
        return sum(s.count for s in _series_layouts(tif, image_ndim))


@dataclass(frozen=True)
class TiffPlane:
    """One plane of a TIFF stack, read on demand: only the pages that hold it are decoded.

    ``SegmentWidget``, :func:`as_image_data` and :func:`read_image` accept it where they accept a
    path. Planes are numbered across the file's series, in the order of their axes (the last
    plane axis fastest), as :func:`tiff_planes` counts them.

    Attributes
    ----------
    path : Path
        The TIFF file.
    index : int
        Plane number, ``0 <= index < tiff_planes(path, image_ndim=image_ndim)``.
    image_ndim : int or None
        See :func:`tiff_planes`.
    """

    path: Path
    index: int
    image_ndim: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "path", Path(os.fspath(self.path)))
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)) or self.index < 0:
            raise ValueError(f"`index` must be an integer >= 0; got {self.index!r}")
        object.__setattr__(self, "index", int(self.index))

    def __str__(self) -> str:
        return f"{self.path}#{self.index}"

    def _locate(self, tif, name: str):
        k = self.index
        for series in _series_layouts(tif, self.image_ndim):
            if k < series.count:
                return series, k
            k -= series.count
        total = sum(s.count for s in _series_layouts(tif, self.image_ndim))
        raise ValueError(f"`{name}`: '{self.path}' has {total} plane(s); plane {self.index} does not exist")

    def size(self, name: str = "image") -> tuple[int, int]:
        """``(H, W)`` of the plane (only the header is read)."""
        with _open_tiff(checked_image_path(self.path, name), name) as tif:
            series, _ = self._locate(tif, name)
        shape, axes = series.shape, series.axes
        if "Y" in axes and "X" in axes:
            return shape[axes.index("Y")], shape[axes.index("X")]
        return tuple(self.read(name).array.shape[:2])  # pragma: no cover - series without Y and X

    def read(self, name: str = "image") -> ImageFile:
        """The plane's pixels with their axes (the plane axes removed, singleton axes dropped)."""
        path = checked_image_path(self.path, name)
        import tifffile

        with _open_tiff(path, name) as tif:
            series, k = self._locate(tif, name)
            shape, axes = series.shape, series.axes
            fixed = dict(zip(series.plane_axes, np.unravel_index(k, series.plane_shape()), strict=True))
            try:
                if series.lead is not None:
                    lead = series.lead
                    grid = [[int(fixed[i])] if i in fixed else range(shape[i]) for i in range(lead)]
                    pages = np.ravel_multi_index(np.meshgrid(*grid, indexing="ij"), shape[:lead]).ravel()
                    arr = tif.asarray(key=[int(p) for p in pages], series=series.index)
                    free = [i for i in range(lead) if i not in fixed] + list(range(lead, len(shape)))
                    arr = arr.reshape([shape[i] for i in free])
                else:
                    arr = tif.series[series.index].asarray().reshape(shape)
                    arr = arr[tuple(int(fixed[i]) if i in fixed else slice(None) for i in range(len(shape)))]
                    free = [i for i in range(len(shape)) if i not in fixed]
            except (tifffile.TiffFileError, OSError, KeyError, IndexError, ValueError) as err:
                raise ValueError(f"`{name}`: cannot read plane {self.index} of '{path}' ({err})") from err
        keep = [j for j, i in enumerate(free) if shape[i] > 1 or axes[i] in "YX"]
        arr = arr.reshape([arr.shape[j] for j in keep])
        return ImageFile(arr, "".join(axes[free[j]] for j in keep), path)


def _stack_error(name: str, shape, axes: str | None = None, extra: str = "", path: Path | None = None) -> ValueError:
    what = f"shape {tuple(shape)}" + (f", axes '{axes}'" if axes else "")
    source = f" ('{path.name}')" if path is not None else ""
    return ValueError(
        f"`{name}`{source} is a stack of planes ({what}); SegmentWidget shows one 2-D image with channels: "
        f"pass one plane (e.g. image[i]){extra}, or {STACK_HINT}"
    )


def _from_axes(arr: np.ndarray, axes: str, name: str, path: Path):
    """Channels-last array and the default ``rgb`` from a file's axes; ``None`` axis: gray."""
    keep = [i for i, a in enumerate(axes) if arr.shape[i] > 1 or a in "YX"]
    arr = arr.reshape([arr.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    planes = [a for a in axes if a not in "YXCS"]
    if planes or ("C" in axes and "S" in axes) or "Y" not in axes or "X" not in axes:
        hint = ", `channel_axis=` to read an axis as channels" if len(axes) == 3 else ""
        raise _stack_error(name, arr.shape, axes, hint, path)
    order = [axes.index("Y"), axes.index("X")]
    rgb = False
    for letter in "CS":
        if letter in axes:
            order.append(axes.index(letter))
            rgb = letter == "S" and arr.shape[axes.index(letter)] in (3, 4)
    arr = np.transpose(arr, order)
    return (arr if arr.ndim == 3 else arr[:, :, None]), rgb


def _as_array(image, name: str) -> np.ndarray:
    """A numpy array from a PIL image or an array-like (dask, zarr, imageio, ...)."""
    if isinstance(image, np.ndarray):
        return np.asarray(image)  # a plain array: a masked array's hidden NaN must not slip through
    if hasattr(image, "mode") and hasattr(image, "getbands"):  # PIL image
        mode = image.mode
        if mode not in ("L", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            image = image.convert("RGBA" if "A" in mode else "RGB")
        return np.asarray(image)
    if hasattr(image, "__array__") or (hasattr(image, "shape") and hasattr(image, "dtype")):
        shape = getattr(image, "shape", None)
        if shape is not None and len(shape) > 3:  # a lazy stack: refuse before reading it all
            raise _stack_error(name, shape, None)
        try:
            return np.asarray(image)
        except Exception as err:  # noqa: BLE001 - any reader failure is the argument's problem
            raise TypeError(f"`{name}` could not be read as an array ({type(err).__name__}: {err})") from err
    raise TypeError(
        f"`{name}` must be a numpy array (or an array np.asarray can read, e.g. dask or zarr), a PIL image "
        f"or a path to an image file; got {_describe(image)}"
    )


def _channel_axis(channel_axis, ndim: int, name: str) -> int:
    try:
        axis = operator.index(channel_axis)
    except TypeError:
        raise TypeError(f"`channel_axis` must be an integer axis or None; got {channel_axis!r}") from None
    if isinstance(channel_axis, bool) or not -ndim <= axis < ndim:
        raise ValueError(f"`channel_axis` must be an axis of `{name}` (ndim {ndim}); got {channel_axis!r}")
    return axis % ndim


def _layout(arr: np.ndarray, channel_axis, rgb, name: str):
    """(H, W, C) array and whether it is RGB(A), from an array and the user's options."""
    if channel_axis is not None:
        if arr.ndim != 3:
            if arr.ndim > 3:
                raise _stack_error(name, arr.shape, None)
            raise ValueError(
                f"`{name}` with `channel_axis` must be 3-D (two image axes and a channel axis); got shape {arr.shape}"
            )
        arr = np.moveaxis(arr, _channel_axis(channel_axis, arr.ndim, name), -1)
        return arr, False
    if arr.ndim == 2:
        return arr[:, :, None], False
    if arr.ndim == 3:
        c = arr.shape[2]
        if c in (3, 4):
            return arr, True
        if c == 1:
            return arr, False
        raise ValueError(
            f"`{name}` has shape {arr.shape}: its last axis has {c} entries, so it is neither gray, RGB nor RGBA. "
            f"If an axis holds channels, say which: channel_axis=-1 (channels last) or channel_axis=0 (channels "
            f"first). If it is a stack of planes, pass one plane (e.g. image[i]), or {STACK_HINT}"
        )
    if arr.ndim > 3:
        raise _stack_error(name, arr.shape, None)
    raise ValueError(
        f"`{name}` must be 2-D (H, W) gray or 3-D (H, W, C) with channels; got {arr.ndim}-D array of shape {arr.shape}"
    )


def _check_lazy_shape(image, channel_axis, name: str) -> None:
    """Refuse an array-like (dask, zarr) from its ``shape`` alone, before it is read: a stack,
    a shape that is no image, fewer than 2 x 2 pixels.
    """
    try:
        shape = tuple(operator.index(n) for n in image.shape)
    except (AttributeError, TypeError):
        return  # no usable shape: np.asarray decides
    if not shape or min(shape) < 0:
        return
    probe = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=shape, strides=(0,) * len(shape))
    arr, _ = _layout(probe, channel_axis, None, name)
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"`{name}` must be at least 2 x 2 pixels; got shape {arr.shape[:2]}")


def _dtype(arr: np.ndarray, name: str) -> np.ndarray:
    """Normalise the dtype (see :class:`ImageData`) and refuse NaN / infinite floats."""
    kind = arr.dtype.kind
    if not arr.dtype.isnative:  # big-endian data (FITS, some TIFFs, PIL "I;16B"): native order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if kind == "f":
        if arr.dtype.itemsize < 4:
            arr = arr.astype(np.float32)
        lo, hi = arr.min(), arr.max()  # NaN propagates through both
        if not (np.isfinite(lo) and np.isfinite(hi)):
            what = "NaN" if np.isnan(lo) or np.isnan(hi) else "infinite"
            raise ValueError(
                f"`{name}` contains {what} values; float images must be finite (e.g. np.nan_to_num(image, nan=0.0))"
            )
        return arr
    if kind in "iu":
        if arr.dtype in (np.uint8, np.uint16, np.int16):
            return arr
        if arr.dtype == np.int8:
            return arr.astype(np.int16)
        if int(arr.min()) >= 0 and int(arr.max()) <= 255:
            return arr.astype(np.uint8)
        return arr
    raise TypeError(
        f"`{name}` has unsupported dtype {arr.dtype}; expected integers (uint8, uint16, ...), bool or finite floats"
    )


def as_image_data(image, *, channel_axis=None, rgb=None, name: str = "image") -> ImageData:
    """Validate an image and bring it to channels-last (H, W, C) data in its own dtype.

    Parameters
    ----------
    image : array_like, PIL image, str, path or TiffPlane
        2-D gray, 3-D (H, W, 3|4) RGB(A), or 3-D with a channel axis (``channel_axis``). Any
        integer dtype, bool, or finite floats (any range, negative values too). Objects that
        ``np.asarray`` reads (dask, zarr, imageio arrays) are read once. TIFF files are read
        with tifffile; their channel axis (OME-TIFF / ImageJ ``C``) and colour samples (``S``)
        are used when ``channel_axis`` is not given.
    channel_axis : int, optional
        The axis holding channels (for files: of ``ipyseg.io.read_image(path).array``). Default:
        the last axis when it has 3 or 4 entries (RGB / RGBA), else none (gray).
    rgb : bool, optional
        ``False`` reads 3 or 4 entries along the channel axis as separate channels rather than
        RGB(A). ``True`` requires 3 or 4 channels. Default: RGB(A) exactly when no
        ``channel_axis`` was given and the last axis has 3 or 4 entries (or a TIFF stores RGB).
    name : str
        Argument name used in error messages.

    Returns
    -------
    ImageData
    """
    if rgb is not None and not isinstance(rgb, (bool, np.bool_)):
        raise TypeError(f"`rgb` must be True, False or None; got {rgb!r}")
    path = None
    if isinstance(image, (str, os.PathLike, TiffPlane)):
        f = read_image(image, name)
        path, arr, owned = f.path, f.array, True
        if channel_axis is None:
            arr, layout_rgb = _from_axes(arr, f.axes, name, path)
        else:
            arr, layout_rgb = _layout(arr, channel_axis, rgb, name)
    else:
        if not isinstance(image, np.ndarray):
            _check_lazy_shape(image, channel_axis, name)
        arr, owned = _as_array(image, name), False  # np.asarray may return an object's own buffer
        arr, layout_rgb = _layout(arr, channel_axis, rgb, name)
    if rgb is not None:
        if rgb and arr.shape[2] not in (3, 4):
            raise ValueError(f"`rgb=True` needs 3 or 4 channels; `{name}` has {arr.shape[2]} (shape {arr.shape})")
        layout_rgb = bool(rgb) and arr.shape[2] in (3, 4)
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise ValueError(f"`{name}` must be at least 2 x 2 pixels; got shape {arr.shape[:2]}")
    if arr.shape[2] == 0:
        raise ValueError(f"`{name}` has no channels: its channel axis is empty (shape {arr.shape})")
    out = _dtype(arr, name)
    if out is arr and not owned:
        out = out.copy()  # never a view of the caller's array
    out = np.ascontiguousarray(out)
    out.flags.writeable = False
    return ImageData(out, bool(layout_rgb), path)


# ------------------------------------------------------------------------- files
SAMPLE_NAME = "coffee.jpg"


def sample_path() -> Path:
    """Path of the bundled sample photo (a cup of coffee by Rachel Michetti, from scikit-image, CC0)."""
    return Path(str(resources.files("ipyseg") / "data" / SAMPLE_NAME))


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def checked_image_path(path, name: str = "image") -> Path:
    """``path`` as a ``Path`` to an existing file, or an error that says what it is instead.

    A URL (nothing is downloaded), a folder (``ipyseg.Annotator`` annotates folders) or a
    missing file raise an error naming ``name``.
    """
    raw = os.fspath(path)
    raw = os.fsdecode(raw) if isinstance(raw, bytes) else raw
    if _URL.match(raw) and not os.path.exists(raw):
        raise ValueError(
            f"`{name}` looks like a URL ({raw!r}); ipyseg does not download anything: download the "
            f"file first (e.g. urllib.request.urlretrieve(url, 'photo.jpg')) and pass its path"
        )
    path = Path(raw)
    if path.is_dir():
        raise IsADirectoryError(
            f"`{name}`: '{path}' is a directory; pass one image file (ipyseg.Annotator annotates folders)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"`{name}`: no such image file: '{path}'")
    return path


def read_image_file(path, name: str = "image") -> np.ndarray:
    """Read an image file into an RGB(A) or gray uint8/uint16 array with Pillow.

    Errors name ``name`` and say what the path is and what to do: a folder, a URL (nothing is
    downloaded), a missing file, an unreadable file, an image above Pillow's decompression-bomb
    limit, a multi-page TIFF.
    """
    path = checked_image_path(path, name)
    if path.suffix.lower() in (".tif", ".tiff"):  # tifffile: 16-bit, float, multi-page (ipyseg/io.py)
        return read_tiff(path, name).array
    try:
        with Image.open(path) as im:
            pages = getattr(im, "n_frames", 1)
            if im.format == "TIFF" and pages > 1:
                raise ValueError(
                    f"`{name}`: '{path}' is a TIFF with {pages} pages; ipyseg reads single images only "
                    f"for now: pass one page as an array (im = PIL.Image.open(path); im.seek(i); np.asarray(im))"
                )
            im.load()
            if im.format == "PNG" and im.mode in ("RGB", "RGBA") and _png_bit_depth(path) == 16:
                return _read_png16(path, name)  # Pillow decodes 48/64-bit PNG to 8 bits per sample
            if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1", "LA"):
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            return np.asarray(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # The warning is an exception too when warnings are errors (e.g. pytest -W error).
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(found.group(1)):,} pixels" if found else "more pixels than allowed"
        raise ValueError(
            f"`{name}`: '{path}' has {size}, above Pillow's decompression-bomb limit "
            f"(PIL.Image.MAX_IMAGE_PIXELS = {Image.MAX_IMAGE_PIXELS:,}); if you trust the file, raise "
            f"the limit first: PIL.Image.MAX_IMAGE_PIXELS = None (no limit) or a larger number"
        ) from err
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"`{name}`: cannot read '{path}' as an image ({err})") from err


def _png_bit_depth(path: Path) -> int | None:
    """Bits per sample from a PNG's header (IHDR), or ``None`` if it cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(25)
    except OSError:
        return None
    return head[24] if len(head) == 25 and head[12:16] == b"IHDR" else None


def _read_png16(path: Path, name: str) -> np.ndarray:
    """A 16-bit RGB(A) PNG as (H, W, 3|4) uint16 RGB(A) (OpenCV keeps the 16 bits)."""
    data = np.fromfile(path, np.uint8)  # cv2.imread cannot open non-ASCII paths on every platform
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"`{name}`: cannot read '{path}' as a 16-bit RGB(A) PNG")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB if arr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
