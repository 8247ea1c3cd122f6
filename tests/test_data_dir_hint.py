"""Where the data were looked for, said when they are missing (found by a new-user test:
without XUNFANG_DATA_DIR the CLI looked in ./data while `make demo` uses ../shared/data,
and the error did not say so)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from xunfang.config import data_dir_hint, missing_data_hint
from xunfang.serve.cli import app

SET_IT = (
    "set XUNFANG_DATA_DIR (or --data-dir) to the folder that holds chicago/ (as `make demo` "
    "does: XUNFANG_DATA_DIR=../shared/data beside the repository), or download it with "
    "`xunfang data fetch chicago` (for the cities `xunfang data fetch --help` lists)"
)
SET_IT_ANY_CITY = (
    "set XUNFANG_DATA_DIR (or --data-dir) to the folder that holds your city's folder (as "
    "`make demo` does: XUNFANG_DATA_DIR=../shared/data beside the repository), or download "
    "it with `xunfang data fetch CITY` (for the cities `xunfang data fetch --help` lists)"
)


def test_the_hint_says_where_and_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XUNFANG_DATA_DIR", raising=False)
    assert data_dir_hint(Path("data")) == (
        f"looked in the data directory {tmp_path}/data (the default: ./data of the current "
        f"folder, as XUNFANG_DATA_DIR is not set), which does not exist; {SET_IT_ANY_CITY}"
    )
    assert data_dir_hint(Path("data"), "chicago").endswith(SET_IT)  # the city is named
    (tmp_path / "mine").mkdir()
    assert data_dir_hint(tmp_path / "mine").startswith(
        f"looked in the data directory {tmp_path}/mine (from --data-dir); set"
    )
    monkeypatch.setenv("XUNFANG_DATA_DIR", str(tmp_path / "mine"))
    assert f"{tmp_path}/mine (from XUNFANG_DATA_DIR);" in data_dir_hint(tmp_path / "mine")


def test_only_files_missing_in_the_data_directory_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XUNFANG_DATA_DIR", str(tmp_path / "data"))
    missing = tmp_path / "data" / "chicago" / "boundaries" / "police_districts.geojson"
    assert missing_data_hint(missing).startswith(f"looked in the data directory {tmp_path}/data")
    tail = " (for the cities `xunfang data fetch --help` lists)"
    assert missing_data_hint(missing).endswith(f"fetch chicago`{tail}")  # the file's city
    portland = tmp_path / "data" / "portland" / "calls.csv"
    # no fetcher knows portland/: the hint names the folder and offers no fetch
    assert missing_data_hint(portland).endswith(
        "holds portland/ (as `make demo` does: "
        "XUNFANG_DATA_DIR=../shared/data beside the repository)"
    )
    assert missing_data_hint(tmp_path / "data" / "chicago" / "incidents" / "*.csv*") != ""
    assert missing_data_hint(tmp_path / "my_export.csv") == ""  # the user's own path
    missing.parent.mkdir(parents=True)
    missing.write_text("{}")
    assert missing_data_hint(missing) == ""  # there: not a data-directory problem


def test_a_command_without_data_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XUNFANG_DATA_DIR", raising=False)
    monkeypatch.delenv("XUNFANG_CITY", raising=False)
    result = CliRunner().invoke(app, ["areas", "district"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"{tmp_path}/data/chicago/boundaries/police_districts.geojson: boundary file" in text
    assert (
        f"looked in the data directory {tmp_path}/data (the default: ./data of the current "
        f"folder, as XUNFANG_DATA_DIR is not set), which does not exist; {SET_IT}"
    ) in text


def test_the_hint_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xunfang.serve._common import data_dir_hint_text

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XUNFANG_DATA_DIR", raising=False)
    assert data_dir_hint_text(data_dir_hint(Path("data"), "chicago")) == (
        f"已在数据目录 {tmp_path}/data（默认值：当前文件夹下的 ./data，因为未设置 "
        "XUNFANG_DATA_DIR）中查找，该目录不存在；请将 XUNFANG_DATA_DIR（或 --data-dir）设为包含 "
        "chicago/ 的文件夹（如 `make demo` 的做法：仓库旁的 "
        "XUNFANG_DATA_DIR=../shared/data），或用 `xunfang data fetch chicago` 下载（可下载的"
        "城市见 `xunfang data fetch --help`）"
    )
    (tmp_path / "mine").mkdir()
    assert data_dir_hint_text(data_dir_hint(tmp_path / "mine")).startswith(
        f"已在数据目录 {tmp_path}/mine（来自 --data-dir）中查找；请将 XUNFANG_DATA_DIR（或 "
        "--data-dir）设为存放城市文件夹的目录（如"
    )
    assert data_dir_hint_text("something else") == "something else"
    # through the CLI, in Chinese from end to end
    result = CliRunner().invoke(app, ["areas", "district", "--lang", "zh"])
    text = "".join(result.output.split())
    assert result.exit_code == 2 and "已在数据目录" in text and "looked in" not in text


def test_no_fetch_is_offered_for_a_folder_no_fetcher_knows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """shanghai-osm/ is an OSM extract with no registered source: `xunfang data fetch
    shanghai-osm` fails, so the hint must not suggest it (found by a new-user test)."""
    from xunfang.serve._common import data_dir_hint_text

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XUNFANG_DATA_DIR", raising=False)
    hint = data_dir_hint(Path("data"), "shanghai-osm")
    assert hint.endswith(
        "set XUNFANG_DATA_DIR (or --data-dir) to the folder that holds shanghai-osm/ (as "
        "`make demo` does: XUNFANG_DATA_DIR=../shared/data beside the repository)"
    )
    assert data_dir_hint_text(hint).endswith(
        "设为包含 shanghai-osm/ 的文件夹（如 `make demo` 的做法：仓库旁的 "
        "XUNFANG_DATA_DIR=../shared/data）"
    )
