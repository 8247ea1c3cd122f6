"""Kernel sums on a grid, vectorised over cells (loops run over kernel taps only).

Events are binned to sub-cells of side ``cell_m / subcells`` (``subcells`` odd, so the
middle sub-cell of each cell holds the cell centre); a kernel sampled at sub-cell
offsets is then summed at the cell centres. The position error of an event is at most
half a sub-cell diagonal (``cell_m / subcells / sqrt(2)``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xunfang.analyse.grid import Grid


def _subcell_index(grid: Grid, xy: np.ndarray, subcells: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat sub-cell index of each point (row-major over ``(ny * s, nx * s)``) and
    whether it lies inside the grid."""
    s = subcells
    fine_m = grid.cell_m / s
    col = np.floor((xy[:, 0] - grid.x0) / fine_m).astype(np.int64)
    row = np.floor((xy[:, 1] - grid.y0) / fine_m).astype(np.int64)
    nx, ny = grid.nx * s, grid.ny * s
    ok = (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
    return row * nx + col, ok


def fine_image(grid: Grid, xy: np.ndarray, weights: np.ndarray, subcells: int) -> np.ndarray:
    """(ny * s, nx * s) sums of ``weights`` per sub-cell (events outside are ignored)."""
    s = subcells
    idx, ok = _subcell_index(grid, xy, s)
    nx, ny = grid.nx * s, grid.ny * s
    img = np.bincount(idx[ok], weights=weights[ok], minlength=nx * ny)
    return img.astype(np.float64).reshape(ny, nx)


def centre_sum_points(
    grid: Grid,
    xy: np.ndarray,
    weights: np.ndarray,
    subcells: int,
    radius_m: float,
    kernel: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """:func:`centre_sum_2d` of :func:`fine_image` of the points ``xy`` (n, 2) metres with
    ``weights`` (n,) -> (ny, nx), the same sums bit for bit. With few points the fine
    image is not built: the masses of the sub-cells holding a point are summed in the
    points' order (as ``numpy.bincount`` sums the image) and the sparse sum takes them."""
    s = subcells
    n_fine = grid.ny * s * grid.nx * s
    if len(xy) * SPARSE_TERM_COST >= n_fine:
        return centre_sum_2d(grid, fine_image(grid, xy, weights, s), s, radius_m, kernel)
    idx, ok = _subcell_index(grid, xy, s)
    cells, inverse = np.unique(idx[ok], return_inverse=True)
    mass = np.bincount(inverse, weights=weights[ok], minlength=cells.size).astype(np.float64)
    keep = mass != 0.0
    taps = _taps(grid, s, radius_m, kernel)
    return _centre_sum_sparse(cells[keep], mass[keep], grid.nx * s, grid.ny, grid.nx, s, taps)


def _taps(
    grid: Grid, subcells: int, radius_m: float, kernel: Callable[[np.ndarray], np.ndarray]
) -> list[tuple[int, int, float]]:
    """The non-zero kernel taps ``(dy, dx, weight)`` in sub-cells, row by row."""
    fine_m = grid.cell_m / subcells
    r = int(np.ceil(radius_m / fine_m))
    taps: list[tuple[int, int, float]] = []
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            w = float(kernel(np.asarray(np.hypot(dx, dy) * fine_m)))
            if w != 0.0:
                taps.append((dy, dx, w))
    return taps


def _phases(fine: np.ndarray, grid: Grid, subcells: int, pad: int) -> np.ndarray:
    """(s, s, ny + 2 pad, nx + 2 pad): ``[a, b, pad + Y, pad + X] = fine[s Y + a, s X + b]``,
    zero in the margin. A shift of ``dy`` sub-cells is then a shift of whole cells in one
    phase, read row by row instead of every ``s``-th value (same sums, same order)."""
    s = subcells
    out = np.zeros((s, s, grid.ny + 2 * pad, grid.nx + 2 * pad))
    out[:, :, pad : pad + grid.ny, pad : pad + grid.nx] = fine.reshape(
        grid.ny, s, grid.nx, s
    ).transpose(1, 3, 0, 2)
    return out


def centre_sum_2d(
    grid: Grid,
    fine: np.ndarray,
    subcells: int,
    radius_m: float,
    kernel: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Sum ``kernel(distance_m)`` over sub-cell masses at each cell centre -> (ny, nx).

    ``kernel`` maps distances (metres) to weights and must be 0 beyond ``radius_m``.
    The result is that of the plain loop over kernel taps on the fine image, bit for
    bit: each cell adds its terms ``w * mass`` in the order of the taps. With few
    non-empty sub-cells (a year of one crime type on a city grid) only their terms are
    added (:func:`_centre_sum_sparse`; adding the zero terms changes no sum); otherwise
    one pass per non-zero tap over the sub-cells of one phase (:func:`_phases`).
    """
    s = subcells
    fine_m = grid.cell_m / s
    r = int(np.ceil(radius_m / fine_m))
    h = s // 2
    ny, nx = grid.ny, grid.nx
    taps = _taps(grid, s, radius_m, kernel)
    nonzero = np.flatnonzero(fine)
    # terms of the sparse sum (about nonzero * taps / s^2) against the dense one's
    if nonzero.size * len(taps) * SPARSE_TERM_COST < len(taps) * ny * nx * s * s:
        return _centre_sum_sparse(nonzero, fine.ravel()[nonzero], fine.shape[1], ny, nx, s, taps)
    pad = (r + h) // s + 1
    ph = _phases(fine, grid, s, pad)
    out = np.zeros((ny, nx))
    for dy, dx, w in taps:
        qy, ay = divmod(h + dy, s)
        qx, ax = divmod(h + dx, s)
        out += w * ph[ay, ax, pad + qy : pad + qy + ny, pad + qx : pad + qx + nx]
    return out


SPARSE_TERM_COST = 16.0
"""Cost of one term of :func:`_centre_sum_sparse` in terms of the dense loop's (one
value of one tap). On the example city's grid (150 m cells, 5 x 5 sub-cells, quartic
kernels of 150 and 400 m) the sparse sum took 0.015 against 0.066 s CPU with 0.14 % of
the sub-cells non-empty (60 days of burglary), 0.018 against 0.043 s with 0.66 % (a
year of burglary) and 0.037 against 0.045 s with 3.9 % (a year of all crime): it wins
below about one non-empty sub-cell in twenty, and is used below one in sixteen."""


def _centre_sum_sparse(
    nonzero: np.ndarray,
    mass: np.ndarray,
    fine_nx: int,
    ny: int,
    nx: int,
    s: int,
    taps: list[tuple[int, int, float]],
) -> np.ndarray:
    """:func:`centre_sum_2d` from the non-empty sub-cells ``nonzero`` (flat indices of
    the fine image, ``fine_nx`` sub-cells a row) and their ``mass`` only: for each tap
    ``(dy, dx, w)`` in order, the sub-cells of the phase it reads add ``w * mass`` to
    the cell whose centre lies ``(dy, dx)`` sub-cells away (one term per cell and tap).
    ``numpy.bincount`` adds the terms in the order given, so each cell sums its terms in
    tap order, as the dense loop does."""
    h = s // 2
    row, col = np.divmod(nonzero, fine_nx)
    phase = (row % s) * s + col % s
    order = np.argsort(phase, kind="stable")
    row, col, mass = row[order] // s, col[order] // s, mass[order]
    bounds = np.searchsorted(phase[order], np.arange(s * s + 1))
    target, value = [], []
    for dy, dx, w in taps:
        qy, ay = divmod(h + dy, s)
        qx, ax = divmod(h + dx, s)
        g = ay * s + ax
        lo, hi = bounds[g], bounds[g + 1]
        if lo == hi:
            continue
        cy, cx = row[lo:hi] - qy, col[lo:hi] - qx
        ok = (cy >= 0) & (cy < ny) & (cx >= 0) & (cx < nx)
        target.append((cy * nx + cx)[ok])
        value.append(w * mass[lo:hi][ok])
    if not target:
        return np.zeros((ny, nx))
    out = np.bincount(np.concatenate(target), weights=np.concatenate(value), minlength=ny * nx)
    return out.reshape(ny, nx)


def cell_mean_2d(
    grid: Grid,
    fine: np.ndarray,
    subcells: int,
    radius_m: float,
    kernel: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Mean over the ``subcells x subcells`` sub-cell centres of each cell of the sum of
    ``kernel(distance_m)`` over the sub-cell masses ``fine`` -> (ny, nx).

    ``kernel`` is sampled at sub-cell offsets up to ``radius_m`` (it must be 0 beyond
    it). The block mean of the fine convolution is computed on the cell grid: a mass at
    sub-cell phase ``(a, b)`` of its cell (``fine[s Y + a, s X + b]``) reaches the cell
    ``(Y + dY, X + dX)`` with the mean of the kernel over that cell's sub-cell centres,
    ``K_ab[dY, dX]`` (a box sum of the sampled kernel); each of the ``s^2`` phase images
    (cells, not sub-cells) is convolved with its ``K_ab`` in one batched real FFT and
    the results summed. The same sums as one FFT convolution of the fine image followed
    by the block mean (``scipy.signal.oaconvolve``, the version before), to rounding,
    on ``s^2`` times fewer points; no loop over events or cells. With fewer terms than
    sub-cells (non-empty sub-cells times the cells a mass reaches), as for weeks of one
    crime type on a city grid, each mass adds its terms to the cells it reaches instead
    (the same sums to rounding; cells no mass reaches are exactly 0).
    """
    from scipy import fft

    s = subcells
    fine_m = grid.cell_m / s
    r = int(np.ceil(radius_m / fine_m))
    off = np.arange(-r, r + 1) * fine_m
    taps = np.asarray(kernel(np.hypot(off[:, None], off[None, :])), dtype=np.float64)
    if not fine.any():
        return np.zeros((grid.ny, grid.nx))
    # box[u, v] = sum_{p, q < s} taps at offset (u - s + 1 + p - r, ...): the kernel summed
    # over the s x s sub-cell centres of a cell whose first one is at (u - s + 1 - r)
    n_box = 2 * r + s
    padded = np.pad(taps, s - 1)
    box = np.zeros((n_box, n_box))
    for p in range(s):
        for q in range(s):
            box += padded[p : p + n_box, q : q + n_box]
    reach = (r + s - 1) // s  # cells a mass reaches, each way
    d = np.arange(-reach, reach + 1)
    # index into box of the offset dY for phase a: s dY - a + r + s - 1
    idx = s * d[None, :] - np.arange(s)[:, None] + r + s - 1  # (s, 2 reach + 1)
    ok = (idx >= 0) & (idx < n_box)
    idx = np.clip(idx, 0, n_box - 1)
    phase_k = box[idx[:, None, :, None], idx[None, :, None, :]]  # (a, b, dY, dX)
    phase_k *= (ok[:, None, :, None] & ok[None, :, None, :]) / float(s * s)
    ny, nx = grid.ny, grid.nx
    nonzero = np.flatnonzero(fine)
    if nonzero.size * phase_k[0, 0].size <= fine.size:  # few masses: their terms alone
        row, col = np.divmod(nonzero, nx * s)
        cy, a = np.divmod(row, s)
        cx, b = np.divmod(col, s)
        ty = cy[:, None] + d[None, :]
        tx = cx[:, None] + d[None, :]
        oky = (ty >= 0) & (ty < ny)
        okx = (tx >= 0) & (tx < nx)
        value = phase_k[a, b] * fine.ravel()[nonzero][:, None, None]
        value *= oky[:, :, None] & okx[:, None, :]
        target = np.clip(ty, 0, ny - 1)[:, :, None] * nx + np.clip(tx, 0, nx - 1)[:, None, :]
        out = np.bincount(target.ravel(), weights=value.ravel(), minlength=ny * nx)
        return out.reshape(ny, nx)
    images = fine.reshape(ny, s, nx, s).transpose(1, 3, 0, 2)  # (a, b, Y, X)
    shape = (
        fft.next_fast_len(ny + 2 * reach, real=True),
        fft.next_fast_len(nx + 2 * reach, real=True),
    )
    spec = fft.rfft2(images, s=shape) * fft.rfft2(phase_k, s=shape)
    full = fft.irfft2(spec.sum(axis=(0, 1)), s=shape)
    return np.asarray(full[reach : reach + ny, reach : reach + nx])


def gaussian_cell_sums(
    grid: Grid,
    xy: np.ndarray,
    weights: np.ndarray,
    subcells: int,
    sigma: float,
    truncate: float,
) -> np.ndarray:
    """Per cell, the sum over its ``subcells x subcells`` sub-cells of the Gaussian
    smoothing of the sub-cell masses of the points ``xy`` (n, 2) metres with ``weights``
    (n,): ``scipy.ndimage.gaussian_filter(fine_image(...), sigma, mode="constant",
    truncate=truncate)`` summed over each cell's block, -> (n_cells,). ``sigma`` is in
    sub-cells.

    The filter is separable and the block sum linear, so a point in sub-cell phase
    ``(a, b)`` of cell ``(Y, X)`` adds ``w * k[a, dY] * k[b, dX]`` to the cell
    ``(Y + dY, X + dX)``, with ``k[a, d]`` the filter's taps (``ndimage``'s sampled
    Gaussian of radius ``int(truncate * sigma + 0.5)``, normalised to sum 1) summed over
    the ``subcells`` sub-cells of a block ``d`` cells away; mass off the grid is lost, as
    with ``mode="constant"``. One term per point and cell reached, no image of
    sub-cells: the same sums as the filter, to rounding.
    """
    s = subcells
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 / (float(sigma) * float(sigma)) * x**2)
    taps = taps / taps.sum()
    reach = (radius + s - 1) // s
    d = np.arange(-reach, reach + 1)
    # k[a, j]: taps[radius + s d_j + p - a] summed over p < s (0 beyond the radius)
    offset = (
        radius + s * d[None, :, None] + np.arange(s)[None, None, :] - np.arange(s)[:, None, None]
    )
    inside = (offset >= 0) & (offset <= 2 * radius)
    k = np.where(inside, taps[np.clip(offset, 0, 2 * radius)], 0.0).sum(axis=2)  # (s, 2 reach + 1)
    idx, ok = _subcell_index(grid, xy, s)
    row, col = np.divmod(idx[ok], grid.nx * s)
    w = np.asarray(weights, dtype=np.float64)[ok]
    cy, a = np.divmod(row, s)
    cx, b = np.divmod(col, s)
    ty = cy[:, None] + d[None, :]  # (n, m) target rows and their weights
    tx = cx[:, None] + d[None, :]
    wy = np.where((ty >= 0) & (ty < grid.ny), k[a], 0.0) * w[:, None]
    wx = np.where((tx >= 0) & (tx < grid.nx), k[b], 0.0)
    target = (
        np.clip(ty, 0, grid.ny - 1)[:, :, None] * grid.nx + np.clip(tx, 0, grid.nx - 1)[:, None, :]
    )
    value = wy[:, :, None] * wx[:, None, :]
    return np.bincount(target.ravel(), weights=value.ravel(), minlength=grid.n_cells)


def centre_sum_separable(
    grid: Grid,
    fine: np.ndarray,
    subcells: int,
    radius_m: float,
    kernel_1d: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """As :func:`centre_sum_2d` for a separable kernel ``k(dx) * k(dy)`` -> (ny, nx)."""
    s = subcells
    fine_m = grid.cell_m / s
    r = int(np.ceil(radius_m / fine_m))
    offsets = np.arange(-r, r + 1)
    k = np.asarray(kernel_1d(offsets * fine_m), dtype=np.float64)
    h = s // 2
    pad = np.pad(fine, r)
    # along x: (ny*s + 2r, nx)
    tmp = np.zeros((pad.shape[0], grid.nx))
    for i, dx in enumerate(offsets):
        if k[i] != 0.0:
            x0 = r + h + dx
            tmp += k[i] * pad[:, x0 : x0 + grid.nx * s : s]
    out = np.zeros((grid.ny, grid.nx))
    for i, dy in enumerate(offsets):
        if k[i] != 0.0:
            y0 = r + h + dy
            out += k[i] * tmp[y0 : y0 + grid.ny * s : s, :]
    return out


def knn_bandwidths(xy: np.ndarray, k: int, min_m: float, max_m: float) -> np.ndarray:
    """Per-event bandwidth: distance to the ``k``-th nearest other event, clipped to
    ``[min_m, max_m]`` metres (the variable bandwidth of Mohler et al. 2011, after
    Silverman 1986 section 5.3). (n,) float64 metres."""
    from scipy.spatial import cKDTree

    n = len(xy)
    if n <= 1:
        return np.full(n, float(max_m))
    kk = min(k, n - 1)
    dist, _ = cKDTree(xy).query(xy, k=kk + 1)
    d = dist[:, -1] if dist.ndim == 2 else dist
    return np.clip(np.asarray(d, dtype=np.float64), min_m, max_m)


def _sampled_gaussian_transfer(freq: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """(len(sigma), len(freq)) Fourier transform of the Gaussian *sampled at whole cells*
    and normalised to sum 1 (Poisson summation of the continuous transform): the
    kernel stays positive, without the ringing of a transform cut at the Nyquist
    frequency."""
    k = np.arange(-3, 4)[:, None, None]
    s2 = (2.0 * np.pi**2 * sigma**2)[None, :, None]
    t = np.exp(-s2 * (freq[None, None, :] - k) ** 2).sum(axis=0)
    dc = np.exp(-s2 * k.astype(np.float64) ** 2).sum(axis=0)
    return np.asarray(t / dc, dtype=np.float64)


class AdaptiveGaussian:
    """Sums of Gaussian kernels with per-event standard deviations over grid cells.

    Events sit at their cell centres; bandwidths are grouped into ``levels``
    log-spaced classes (each smoothed with its geometric mid-point); each class's
    image is convolved with its Gaussian (sampled at the cells, normalised to sum 1)
    in the Fourier domain (one batched real FFT of
    all classes, one inverse), so the cost depends on neither the bandwidths nor the
    number of events. The image is zero-padded by four of the largest standard
    deviations (wrap-around below ``exp(-8)`` of a kernel's peak). The classes and
    transfer functions are computed once; calling with new weights (e.g. each EM step)
    reuses them.

    Parameters
    ----------
    grid
        The grid.
    cells
        (n,) cell of each event.
    bandwidth_m
        (n,) standard deviation of each event's kernel, metres.
    levels
        Bandwidth classes.
    """

    def __init__(
        self, grid: Grid, cells: np.ndarray, bandwidth_m: np.ndarray, *, levels: int = 8
    ) -> None:
        from scipy import fft

        self.grid = grid
        self.n = len(cells)
        if self.n == 0:
            return
        lo, hi = float(bandwidth_m.min()), float(bandwidth_m.max())
        flat = hi <= lo * 1.0001
        edges = np.array([lo, lo * 1.0001]) if flat else np.geomspace(lo, hi, levels + 1)
        cls = np.clip(np.searchsorted(edges, bandwidth_m, side="right") - 1, 0, len(edges) - 2)
        used = np.unique(cls)
        sigma = np.sqrt(edges[used] * edges[used + 1]) / grid.cell_m  # cells
        self.pad = int(np.ceil(4.0 * sigma.max())) + 1
        self.shape = (
            fft.next_fast_len(grid.ny + 2 * self.pad, real=True),
            fft.next_fast_len(grid.nx + 2 * self.pad, real=True),
        )
        row, col = np.divmod(np.asarray(cells, dtype=np.int64), grid.nx)
        level = np.searchsorted(used, cls)
        self.flat_index = np.ravel_multi_index(
            (level, row + self.pad, col + self.pad), (len(used), *self.shape)
        )
        self.n_levels = len(used)
        ty = _sampled_gaussian_transfer(np.fft.fftfreq(self.shape[0]), sigma)
        tx = _sampled_gaussian_transfer(np.fft.rfftfreq(self.shape[1]), sigma)
        self.transfer = ty[:, :, None] * tx[:, None, :]

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """(n_cells,) kernel mass per cell for event ``weights`` (n,), >= 0."""
        from scipy import fft

        g = self.grid
        if self.n == 0:
            return np.zeros(g.n_cells)
        size = self.n_levels * self.shape[0] * self.shape[1]
        stack = np.bincount(self.flat_index, weights=weights, minlength=size)
        stack = stack.reshape(self.n_levels, *self.shape)
        # the real FFT of each class image (``rfft2``: along x, then along y), the rows of
        # the zero margin above and below the grid left out of the pass along x (their
        # transform is zero); the classes' products with their transfer functions summed
        # in class order, as ``(spec * transfer).sum(axis=0)``: the same values bit for bit
        rows = slice(self.pad, self.pad + g.ny)
        along_x = np.zeros((self.n_levels, self.shape[0], self.shape[1] // 2 + 1), complex)
        along_x[:, rows] = fft.rfft(stack[:, rows], axis=2)
        spec = fft.fft(along_x, axis=1, overwrite_x=True)
        total = spec[0] * self.transfer[0]
        for level in range(1, self.n_levels):
            total += spec[level] * self.transfer[level]
        smooth = fft.irfft2(total, s=self.shape)
        out = smooth[rows, self.pad : self.pad + g.nx].ravel()
        return np.maximum(out, 0.0)


def adaptive_gaussian(
    grid: Grid,
    cells: np.ndarray,
    weights: np.ndarray,
    bandwidth_m: np.ndarray,
    *,
    levels: int = 8,
) -> np.ndarray:
    """(n_cells,) sum of Gaussian kernels of per-event standard deviations (metres) of
    weighted events at their cell centres; see :class:`AdaptiveGaussian`."""
    return AdaptiveGaussian(grid, cells, bandwidth_m, levels=levels)(weights)
