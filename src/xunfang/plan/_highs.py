"""One way to make a HiGHS solver for every model in xunfang.plan."""

from __future__ import annotations

from typing import Any

import highspy
import numpy as np
from scipy import sparse

from xunfang.errors import SolverError


def new_highs() -> Any:
    """A silent HiGHS instance.

    The Python wrapper class ``highspy.Highs`` prints a two-line banner when constructed,
    before any option can be set; its core base class does not (falls back to the public
    class if a future highspy drops the private name).

    The ``threads`` option is deliberately left alone: HiGHS keeps one global task scheduler
    per process, and a model that asks for a different thread count than the scheduler was
    started with is refused at ``run()`` (model status "Not Set"). Every model here uses the
    default.
    """
    cls = getattr(highspy, "_Highs", None) or highspy.Highs
    h = cls()
    h.setOptionValue("output_flag", False)
    return h


def pass_model(
    h: Any,
    a: sparse.csc_matrix,
    col_cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    integrality: np.ndarray,
    *,
    maximise: bool,
) -> None:
    """Load a (mixed-integer) linear model with a column-wise sparse matrix into ``h``.

    ``integrality`` is (n_col,) int32, 1 for integer columns. Bounds may be ``±highspy.kHighsInf``.

    Raises
    ------
    SolverError
        If HiGHS rejects the model.
    """
    n_row, n_col = a.shape
    status = h.passModel(
        int(n_col),
        int(n_row),
        int(a.nnz),
        int(highspy.MatrixFormat.kColwise),
        -1 if maximise else 1,  # HiGHS ObjSense: kMaximize = -1, kMinimize = 1
        0.0,
        np.ascontiguousarray(col_cost, dtype=np.float64),
        np.ascontiguousarray(col_lower, dtype=np.float64),
        np.ascontiguousarray(col_upper, dtype=np.float64),
        np.ascontiguousarray(row_lower, dtype=np.float64),
        np.ascontiguousarray(row_upper, dtype=np.float64),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(np.float64),
        np.ascontiguousarray(integrality, dtype=np.int32),
    )
    if status == highspy.HighsStatus.kError:
        raise SolverError(f"HiGHS rejected the model ({n_row} rows, {n_col} columns)")
