"""Patrol sectors on a synthetic 8 x 8 street grid: contiguous, every node in exactly one
sector, the booth inside its own, and the heaviest sector lighter than the nearest-booth start."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from xunfang.errors import ValidationError
from xunfang.plan.sectors import patrol_sectors, sector_polygons

N = 8  # 8 x 8 grid, 100 m blocks, 10 s per block


def _grid() -> tuple[sparse.csr_matrix, np.ndarray, list[tuple[int, int]]]:
    idx = np.arange(N * N).reshape(N, N)
    edges = [(idx[r, c], idx[r, c + 1]) for r in range(N) for c in range(N - 1)]
    edges += [(idx[r, c], idx[r + 1, c]) for r in range(N - 1) for c in range(N)]
    u, v = np.array(edges).T
    m = sparse.csr_matrix(
        (np.full(2 * u.size, 10.0), (np.r_[u, v], np.r_[v, u])), shape=(N * N, N * N)
    )
    xy = np.column_stack([(np.arange(N * N) % N) * 100.0, (np.arange(N * N) // N) * 100.0])
    return m, xy, edges


def _contiguous(m: sparse.csr_matrix, labels: np.ndarray, s: int) -> bool:
    members = np.flatnonzero(labels == s)
    sub = m[np.ix_(members, members)]
    n_comp, _ = csgraph.connected_components(sub, directed=False)
    return n_comp == 1


def test_sectors_contiguous_cover_every_node_once_and_balance() -> None:
    m, _, _ = _grid()
    w = np.ones(N * N)
    w[:16] = 6.0  # the two bottom rows are busy: 96 of 144
    sites = np.array([0, 7, 63])  # two booths at the busy bottom corners, one at the top
    sp = patrol_sectors(m, sites, w, tolerance=0.15)
    # every node in exactly one sector (labels is one value per node, none left out)
    assert sp.labels.shape == (N * N,) and (sp.labels >= 0).all()
    assert sp.workload.sum() == pytest.approx(w.sum())
    for s, site in enumerate(sites):
        assert sp.labels[site] == s
        assert _contiguous(m, sp.labels, s)
        assert _contiguous(m, sp.labels_start, s)
    # nearest-booth start: the top booth gets the upper rows' ones only; balancing lowers the
    # heaviest sector towards the mean 48 (the bound: mean, since no node outweighs it)
    assert sp.lower_bound == pytest.approx(48.0)
    assert sp.workload.max() < sp.workload_start.max()
    assert sp.max_deviation[0] < sp.max_deviation[1]


def test_sector_polygons_one_per_booth() -> None:
    m, xy, edges = _grid()
    w = np.ones(N * N)
    sites = np.array([0, 63])
    sp = patrol_sectors(m, sites, w)
    box = shapely.box(-50, -50, 750, 750)
    u, v = np.array(edges).T
    g = sector_polygons(
        xy, sp.labels, box, "EPSG:32616", ["B01", "B02"], sp.workload, sp.workload_start, (u, v)
    )
    assert g["name"].tolist() == ["B01", "B02"]
    assert g.geometry.area.sum() == pytest.approx(box.area)
    assert g["workload"].sum() == pytest.approx(64.0)


def test_bad_sites_are_refused() -> None:
    m, _, _ = _grid()
    with pytest.raises(ValidationError, match="without repeats"):
        patrol_sectors(m, [0, 0], np.ones(N * N))
    with pytest.raises(ValidationError, match="node_weight"):
        patrol_sectors(m, [0], np.ones(3))


def test_sector_union_is_the_overlay_union() -> None:
    """The coverage union of a sector's cells is the overlay union's polygon (equal after
    normalising); overlapping cells (not a coverage) fall back to the overlay union."""
    from xunfang.plan.sectors import _union_cells

    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 1000, (200, 2))
    area = shapely.Polygon([(0, 0), (1000, 0), (1000, 700), (400, 1000), (0, 1000)])
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=area, ordered=True)
    )
    cells = shapely.intersection(cells, area)
    for mine in (pts[:, 0] < 500, pts[:, 1] > 300, np.arange(200) % 7 == 0):
        got = _union_cells(cells[mine])
        want = shapely.union_all(cells[mine])
        assert shapely.equals_exact(shapely.normalize(got), shapely.normalize(want), tolerance=0)
    assert _union_cells(cells).area == pytest.approx(area.area)
    # two squares overlapping by half: the union is 1.5 squares, not the 2 of a coverage
    overlap = np.array([shapely.box(0, 0, 10, 10), shapely.box(5, 0, 15, 10)])
    assert _union_cells(overlap).area == pytest.approx(150.0)
