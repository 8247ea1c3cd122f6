"""Continuous-space prospective hotspotting (metres, sub-cell sample means) on a
hand-worked grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS

from xunfang.analyse.forecast import ContinuousProspective, Window
from xunfang.analyse.grid import Grid
from xunfang.errors import ValidationError
from xunfang.ingest.incidents import IncidentTable

UTM = CRS.from_epsg(32616)
TZ = "America/Chicago"


def _table(rows: list[tuple[float, float, str]]) -> IncidentTable:
    local = pd.to_datetime([r[2] for r in rows]).tz_localize(TZ)
    frame = pd.DataFrame(
        {
            "occurred_at": local.tz_convert("UTC"),
            "time_precision": "minute",
            "x_m": [r[0] for r in rows],
            "y_m": [r[1] for r in rows],
        }
    )
    return IncidentTable(frame, UTM, TZ)


def test_two_events_on_two_cells_hand_worked() -> None:
    """Two 90 m cells side by side, 3 x 3 sample points each (30 m apart, at x = 15, 45,
    75 | 105, 135, 165 and y = 15, 45, 75). Bandwidth 100 m, distance unit 30 m: the
    spatial weight is 1 / (1 + d / 30) for d < 100 m.

    A at (45, 45), 7 days old: time weight 1 / (1 + 1 week) = 1/2.
    B at (165, 45), 3.5 days old: 1 / (1 + 0.5) = 2/3.

    Cell 0, samples vs A: d = 0 (once), 30 (4 times), 42.43 (4 times):
    (1 + 4 * 1/2 + 4 * 1/(1 + sqrt 2)) / 9 = 4.65685 / 9 = 0.517428; x 1/2 = 0.258714.
    Cell 0 vs B: only d = 90 (1/4) and 94.87 (twice, 0.240253) are within 100 m:
    0.730506 / 9 = 0.081167; x 2/3 = 0.054111. Cell 0: 0.312826.
    Cell 1 vs A: d = 60 (1/3), 67.08 (2 x 0.309017), 90 (1/4), 94.87 (2 x 0.240253):
    1.681873 / 9 = 0.186875; x 1/2 = 0.093437.
    Cell 1 vs B: d = 0, 30 (3 times: 1/2), 42.43 (twice), 60, 67.08 (twice):
    4.279794 / 9 = 0.475533; x 2/3 = 0.317022. Cell 1: 0.410459.
    Scaled to the event rate: 2 events in the 14 days of history -> 1/7 expected in
    the day, shared 0.312826 : 0.410459.
    """
    grid = Grid.from_bounds((0.0, 0.0, 179.0, 89.0), 90.0, UTM)
    assert (grid.nx, grid.ny) == (2, 1)
    t = _table([(45.0, 45.0, "2024-01-08 00:00"), (165.0, 45.0, "2024-01-11 12:00")])
    m = ContinuousProspective(
        grid=grid, bandwidth_m=100.0, bandwidth_weeks=8, distance_unit_m=30.0, subcells=3
    ).fit(t, start=pd.Timestamp("2024-01-01", tz=TZ), end=pd.Timestamp("2024-01-15", tz=TZ))
    risk = m.predict(Window.local("2024-01-15", 0, 24, TZ)).risk
    score = np.array([0.312826, 0.410459])
    np.testing.assert_allclose(risk, score / score.sum() / 7.0, rtol=2e-5)


def test_bad_subcells() -> None:
    grid = Grid.from_bounds((0.0, 0.0, 179.0, 89.0), 90.0, UTM)
    t = _table([(45.0, 45.0, "2024-01-08 00:00")])
    with pytest.raises(ValidationError, match="subcells"):
        ContinuousProspective(grid=grid, subcells=4).fit(t)
    with pytest.raises(ValidationError, match="distance_unit_m"):
        ContinuousProspective(grid=grid, distance_unit_m=0.0).fit(t)


@pytest.mark.parametrize(("ny", "nx", "n_mass"), [(4, 5, 25), (12, 11, 6)])
def test_cell_mean_is_the_mean_over_sample_points_of_the_kernel_sums(
    ny: int, nx: int, n_mass: int
) -> None:
    """``cell_mean_2d`` against its definition summed point by point: on grids of 90 m
    cells with 3 x 3 sub-cells of 30 m, masses at random sub-cells, the kernel
    1 / (1 + d / 30) for d < 100 m. A mass's terms cover 5 x 5 cells (100 m is 4
    sub-cells: 2 cells each way), so 25 masses on 4 x 5 cells (625 terms, 180 sub-cells)
    take the batched FFT of the phase images and 6 on 12 x 11 (150 terms, 1,188
    sub-cells) the sum of each mass's terms."""
    from xunfang.analyse.forecast._kernels import cell_mean_2d

    grid = Grid.from_bounds((0.0, 0.0, nx * 90.0 - 1.0, ny * 90.0 - 1.0), 90.0, UTM)
    assert (grid.ny, grid.nx) == (ny, nx)
    s, fine_m = 3, 30.0
    rng = np.random.default_rng(3)
    fine = np.zeros((grid.ny * s, grid.nx * s))
    fine.ravel()[rng.choice(fine.size, n_mass, replace=False)] = rng.uniform(0.5, 2.0, n_mass)

    def kern(d: np.ndarray) -> np.ndarray:
        return np.where(d < 100.0, 1.0 / (1.0 + d / 30.0), 0.0)

    out = cell_mean_2d(grid, fine, s, 100.0, kern)
    # sub-cell (i, j) sits at ((j + 1/2) 30, (i + 1/2) 30); cell (Y, X) averages its 9
    py, px = np.nonzero(fine)
    want = np.zeros((grid.ny, grid.nx))
    for big_y in range(grid.ny):
        for big_x in range(grid.nx):
            for p in range(s):
                for q in range(s):
                    d = np.hypot((big_y * s + p) - py, (big_x * s + q) - px) * fine_m
                    want[big_y, big_x] += (fine[py, px] * kern(d)).sum() / s**2
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    zero = cell_mean_2d(grid, np.zeros_like(fine), s, 100.0, kern)
    assert zero.tolist() == [[0.0] * nx] * ny
