"""The local cluster's workers run with glibc's own malloc thresholds (no dask trim setting)."""

from __future__ import annotations

import os

from xunfang.serve.cli_plan_all import dask_client


def _trim_setting() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_cluster_workers_keep_malloc_defaults() -> None:
    with dask_client(None, 1) as client:
        settings = client.run(_trim_setting)
    assert list(settings.values()) == [None]  # dask's default would give '65536'
