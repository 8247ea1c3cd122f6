"""Station/site CSV files in GBK (as Excel in China saves them) are read by the incident
reader's encoding rule; a file no rule decides is refused in words, in Chinese with
``--lang zh``. Fixtures are synthetic, written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from xunfang.errors import DataFileError
from xunfang.ingest.sites import read_sites
from xunfang.serve._common import error_text


def test_gbk_station_file_is_read_by_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_bytes(
        "名称,经度,纬度\r\n东方路派出所,121.47,31.23\r\n外滩派出所,121.48,31.24\r\n".encode("gbk")
    )
    sites = read_sites(path)
    assert list(sites["name"]) == ["东方路派出所", "外滩派出所"]
    assert sites.geometry.x.tolist() == [121.47, 121.48]


def test_gbk_station_file_with_a_utf8_line_reads_both(tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_bytes(
        "名称,经度,纬度\n东方路派出所,121.47,31.23\n".encode("gbk")
        + "外滩派出所,121.48,31.24\n".encode()
    )
    assert list(read_sites(path)["name"]) == ["东方路派出所", "外滩派出所"]


def test_utf8_station_file_with_a_gb18030_line_reads_both(tmp_path: Path) -> None:
    # mostly UTF-8 (header and two stations), one station pasted in as GB18030: the file
    # is now told UTF-8 (most of its non-ASCII lines are), and its GB18030 line still read
    path = tmp_path / "stations.csv"
    path.write_bytes(
        "名称,经度,纬度\n东方路派出所,121.47,31.23\n南京东路派出所,121.49,31.24\n".encode()
        + "外滩派出所,121.48,31.24\n".encode("gb18030")
    )
    assert list(read_sites(path)["name"]) == ["东方路派出所", "南京东路派出所", "外滩派出所"]


def test_undecidable_station_file_names_what_to_do_in_en_and_zh(tmp_path: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_bytes(b"name,lon,lat\n" + "Привет мир,121.1,31.1\n".encode("cp1251"))
    with pytest.raises(DataFileError) as info:
        read_sites(path)
    message = str(info.value)
    assert message == (
        f"{path}, row 2: site file is not UTF-8 and line 2 is neither UTF-8 nor GB18030: "
        "a site file is read as UTF-8, UTF-16 or GB18030/GBK (told from its bytes); "
        "save it as UTF-8"
    )
    assert error_text(message, "zh") == (
        f"{path} 第 2 行：点位文件不是 UTF-8 编码，且第 2 行既不是 UTF-8 也不是 GB18030："
        "点位文件按 UTF-8、UTF-16 或 GB18030/GBK 读取（由字节判断）；请另存为 UTF-8"
    )
