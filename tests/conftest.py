"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _network_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Road networks built by the tests are cached in a folder of this session, not in
    the user's ``~/.cache/xunfang`` (unless XUNFANG_CACHE_DIR names one)."""
    if "XUNFANG_CACHE_DIR" not in os.environ:
        os.environ["XUNFANG_CACHE_DIR"] = str(tmp_path_factory.mktemp("xunfang-cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data directory (XUNFANG_DATA_DIR, else ../shared/data); skips when absent."""
    path = Path(os.environ.get("XUNFANG_DATA_DIR", _DEFAULT_DATA))
    if not (path / "chicago").is_dir():
        pytest.skip(f"real data not found at {path}")
    return path
