"""The analysis grid: the DEM's shape, transform and metric CRS, shared by every raster.

Every raster of a run (DEM, slope, speed, travel minutes, suitability) lies on this one
grid (DESIGN.md, CRS policy); :func:`cells` finds the cells of points on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.transform import rowcol

__all__ = ["Grid", "cells"]


@dataclass(frozen=True)
class Grid:
    """Shape (rows, cols), affine transform and CRS of the analysis grid."""

    shape: tuple[int, int]
    transform: Affine
    crs: CRS | None

    @property
    def cellsize(self) -> tuple[float, float]:
        """Cell width and height in CRS units (metres)."""
        return (abs(self.transform.a), abs(self.transform.e))

    def coarsened(self, factor: int) -> Grid:
        """The grid of ``factor`` x ``factor`` blocks (the remainder rows/cols dropped)."""
        h, w = self.shape
        return Grid(
            (h // factor, w // factor), self.transform * Affine.scale(factor, factor), self.crs
        )


def cells(grid: Grid, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column of each point, and whether it lies on the grid.

    Parameters
    ----------
    grid : Grid
    xs, ys : array
        Coordinates in the grid's CRS.

    Returns
    -------
    (rows, cols, inside)
        Integer arrays and a boolean mask; rows/cols outside the grid are not clipped.
    """
    r, c = rowcol(grid.transform, np.asarray(xs, float), np.asarray(ys, float))
    r, c = np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64)
    inside = (r >= 0) & (r < grid.shape[0]) & (c >= 0) & (c < grid.shape[1])
    return r, c, inside
