"""Size budgets for rasters: refuse a raster too large for the settings, the disk or memory.

A raster is checked from its header (no pixel is read), so a DEM of any size fails with
one clear input error (:class:`layers.errors.LayerSchemaError`) naming the file, the size
found and the limit, instead of running out of memory or disk half-way through.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from layers.errors import LayerSchemaError

__all__ = [
    "PIPELINE_BYTES_PER_CELL",
    "available_memory_bytes",
    "check_memory_for_cells",
    "check_raster_budget",
    "fmt_bytes",
    "raster_shape",
]

#: Peak memory of ``anju run`` per DEM cell (bytes): the DEM, its filled copy, slope, the
#: speed surface, one travel-time grid per destination kind and the search work arrays are
#: held at once (measured: 1.6 GB peak on the 8-million-cell ``--scale 2`` demo county).
PIPELINE_BYTES_PER_CELL = 200


def fmt_bytes(n: float) -> str:
    """``n`` bytes as a short human size (``1.5 GB``)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000.0
    return f"{n:,.1f} TB"  # pragma: no cover - loop always returns


def available_memory_bytes() -> int:
    """Memory the process may still take: ``psutil``'s available memory, else the
    physical memory (``os.sysconf``); ``ANJU_MEMORY_BYTES`` overrides both."""
    raw = os.environ.get("ANJU_MEMORY_BYTES")
    if raw:
        try:
            return int(float(raw))
        except ValueError:
            pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is a dependency of the venv
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_raster_budget(
    path: str | os.PathLike[str],
    *,
    max_cells: int | None = None,
    free_disk_bytes_needed: int = 0,
    out_dir: str | os.PathLike[str] | None = None,
    label: str | None = None,
) -> tuple[int, int]:
    """Refuse a raster larger than ``max_cells`` or an output that would not fit on disk.

    Parameters
    ----------
    path : path-like
        The raster (any GDAL format); only its header is read.
    max_cells : int, optional
        Largest number of cells (width x height) allowed; None: no cell limit.
    free_disk_bytes_needed : int, default 0
        Bytes the outputs need on the disk holding ``out_dir``.
    out_dir : path-like, optional
        Where the outputs go (default: the raster's folder).
    label : str, optional
        How the message names the raster (default: its path).

    Returns
    -------
    (height, width) : tuple of int
        The raster's size.

    Raises
    ------
    LayerSchemaError
        If the raster cannot be opened, has more cells than ``max_cells``, or the disk has
        less free space than ``free_disk_bytes_needed``; the message names the file, the
        size found and the limit.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    name = label or str(path)
    try:
        with rasterio.open(path) as src:
            h, w = int(src.height), int(src.width)
    except RasterioIOError as exc:
        raise LayerSchemaError(f"{name}: cannot be read as a raster ({exc})") from exc
    cells = h * w
    if max_cells is not None and cells > max_cells:
        raise LayerSchemaError(
            f"{name}: the raster is {w:,} x {h:,} = {cells:,} cells, above the limit of "
            f"{max_cells:,} cells; use a larger limit, a coarser grid, or clip it"
        )
    if free_disk_bytes_needed > 0:
        where = Path(out_dir) if out_dir is not None else Path(path).resolve().parent
        probe = where
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free < free_disk_bytes_needed:
            raise LayerSchemaError(
                f"{name}: the raster is {w:,} x {h:,} cells; its outputs need up to "
                f"{fmt_bytes(free_disk_bytes_needed)} of disk in {where}, found only "
                f"{fmt_bytes(free)} free; free some space or write elsewhere"
            )
    return h, w


def check_memory_for_cells(
    label: str,
    shape: tuple[int, int],
    *,
    bytes_per_cell: int = PIPELINE_BYTES_PER_CELL,
    available: int | None = None,
) -> None:
    """Refuse a grid whose in-memory processing needs more memory than is available.

    Parameters
    ----------
    label : str
        How the message names the raster (its file).
    shape : (int, int)
        ``(height, width)`` of the grid.
    bytes_per_cell : int, default :data:`PIPELINE_BYTES_PER_CELL`
        Peak memory per cell of the processing.
    available : int, optional
        Bytes available (default :func:`available_memory_bytes`).

    Raises
    ------
    LayerSchemaError
        If ``cells * bytes_per_cell`` exceeds the available memory; the message gives the
        size, the need, the limit and the block-wise commands that handle such a raster.
    """
    h, w = (int(v) for v in shape)
    need = h * w * int(bytes_per_cell)
    avail = available_memory_bytes() if available is None else int(available)
    if need > avail:
        raise LayerSchemaError(
            f"{label}: the DEM is {w:,} x {h:,} = {h * w:,} cells after the "
            f"clip to the county; the whole-county run needs about {fmt_bytes(need)} of memory "
            f"({bytes_per_cell} bytes a cell), but only {fmt_bytes(avail)} is available. "
            "Use coarser cells or a smaller area, or compute slope and travel time block by "
            "block with `anju blocks slope` / `anju blocks travel`, whose memory does not "
            "grow with the raster"
        )


def raster_shape(spec: object) -> str:
    """`` (W x H cells, N million)`` of a single raster file from its header, for messages;
    an empty string for a list of tiles, a pattern or an unreadable file."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != 1:
            return ""
        spec = spec[0]
    try:
        import rasterio

        with rasterio.open(str(spec)) as src:
            h, w = int(src.height), int(src.width)
    except Exception:  # noqa: BLE001 - only decorates a message
        return ""
    return f" ({w:,} x {h:,} = {h * w:,} cells)"
