"""Regular square grids over a study area, in the analysis CRS (metres).

Cells are numbered row-major from the lower-left corner: ``cell = row * nx + col`` with
``col = floor((x - x0) / cell_m)`` and ``row = floor((y - y0) / cell_m)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from xunfang.errors import ValidationError
from xunfang.units import require_projected


@dataclass(frozen=True)
class Grid:
    """A square grid.

    Attributes
    ----------
    x0, y0
        Lower-left corner, metres in ``crs``.
    cell_m
        Cell side, metres.
    nx, ny
        Number of columns and rows.
    crs
        Projected CRS.
    mask
        (ny * nx,) bool: cells inside the study area (all True for a plain rectangle).
    """

    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int
    crs: CRS
    mask: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells in the rectangle (``nx * ny``)."""
        return self.nx * self.ny

    @property
    def n_active(self) -> int:
        """Number of cells inside the study area."""
        return int(self.mask.sum())

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell, km²."""
        return self.cell_m**2 / 1e6

    @classmethod
    def from_bounds(
        cls,
        bounds: tuple[float, float, float, float],
        cell_m: float,
        crs: CRS | str,
        *,
        offset_m: tuple[float, float] = (0.0, 0.0),
    ) -> Grid:
        """A rectangle grid covering ``bounds`` (minx, miny, maxx, maxy), metres.

        The grid is anchored at ``(floor(minx), floor(miny)) - offset_m`` so that a shift
        of half a cell (grid-offset sensitivity) keeps covering the same bounds.

        Raises
        ------
        ValidationError
            If ``cell_m`` is not positive or the bounds have zero area.
        """
        crs = require_projected(crs, "grid")
        if not (cell_m > 0 and np.isfinite(cell_m)):
            raise ValidationError(f"cell_m must be positive, got {cell_m}")
        minx, miny, maxx, maxy = bounds
        if not (maxx > minx and maxy > miny):
            raise ValidationError(f"grid bounds {bounds} have zero area; a grid needs an area")
        x0 = float(np.floor(minx)) - offset_m[0]
        y0 = float(np.floor(miny)) - offset_m[1]
        nx = int(np.floor((maxx - x0) / cell_m)) + 1
        ny = int(np.floor((maxy - y0) / cell_m)) + 1
        return cls(x0, y0, float(cell_m), nx, ny, crs, np.ones(nx * ny, dtype=bool))

    @classmethod
    def from_polygon(
        cls,
        polygon: BaseGeometry,
        cell_m: float,
        crs: CRS | str,
        *,
        offset_m: tuple[float, float] = (0.0, 0.0),
    ) -> Grid:
        """A grid over a polygon (metres); ``mask`` marks cells that intersect it."""
        grid = cls.from_bounds(polygon.bounds, cell_m, crs, offset_m=offset_m)
        boxes = grid.cell_boxes(np.arange(grid.n_cells))
        shapely.prepare(polygon)
        mask = shapely.intersects(polygon, boxes)
        return cls(grid.x0, grid.y0, grid.cell_m, grid.nx, grid.ny, grid.crs, mask)

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        """Cell index of each point; -1 outside the rectangle or for NaN.

        Parameters
        ----------
        xy
            (n, 2) metres in ``crs``.
        """
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        with np.errstate(invalid="ignore"):
            col = np.floor((xy[:, 0] - self.x0) / self.cell_m)
            row = np.floor((xy[:, 1] - self.y0) / self.cell_m)
        ok = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        out = np.full(len(xy), -1, dtype=np.int64)
        out[ok] = row[ok].astype(np.int64) * self.nx + col[ok].astype(np.int64)
        return out

    def in_area(self, xy: np.ndarray) -> np.ndarray:
        """Whether each point lies in an active cell (``mask``): shape (n,) bool; ``False``
        outside the rectangle or for NaN.

        Parameters
        ----------
        xy
            (n, 2) metres in ``crs``.
        """
        cell = self.cell_of(xy)
        inside = cell >= 0
        inside[inside] = self.mask.ravel()[cell[inside]]
        return inside

    def centres(self, cells: np.ndarray | None = None) -> np.ndarray:
        """(n, 2) cell centres, metres (all cells when ``cells`` is None)."""
        cells = np.arange(self.n_cells) if cells is None else np.asarray(cells)
        row, col = np.divmod(cells, self.nx)
        return np.column_stack(
            [self.x0 + (col + 0.5) * self.cell_m, self.y0 + (row + 0.5) * self.cell_m]
        )

    def cell_boxes(self, cells: np.ndarray) -> np.ndarray:
        """Shapely polygons of the given cells (array of geometries, metres)."""
        row, col = np.divmod(np.asarray(cells), self.nx)
        x = self.x0 + col * self.cell_m
        y = self.y0 + row * self.cell_m
        return shapely.box(x, y, x + self.cell_m, y + self.cell_m)

    def to_image(self, values: np.ndarray) -> np.ndarray:
        """Reshape per-cell values (n_cells,) to an image (ny, nx), row 0 at the bottom."""
        return np.asarray(values).reshape(self.ny, self.nx)
