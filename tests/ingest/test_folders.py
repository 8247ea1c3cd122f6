"""A folder of incident files is read the same way by every command: its incident files in
name order, the other files named in a note (found by a new-user test: `xunfang ingest DIR`
was refused while `forecast --incidents DIR` read it). Fixtures are synthetic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.incidents import incident_inputs, ingest
from xunfang.serve.cli import app
from xunfang.serve.cli_forecast import expand_paths

HEADER = "接警单编号,报警时间,报警类别,经度,纬度,事发地址"
NOW = pd.Timestamp("2024-03-10 12:00", tz="UTC")


def _export(path: Path, ids: range) -> Path:
    rows = [
        f"J{i:04d},2024-03-0{1 + i % 5} 08:00:00,盗窃,121.48{i:02d},31.2300,路{i}号" for i in ids
    ]
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode("gb18030"))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "exports"
    d.mkdir()
    _export(d / "110_2024-03-02.csv", range(10, 13))  # 3 rows
    _export(d / "110_2024-03-01.csv", range(0, 2))  # 2 rows
    (d / "README.md").write_text("exported by the 110 system\n")
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (d / "older").mkdir()  # subfolders are not searched
    _export(d / "older" / "110_2023.csv", range(50, 60))
    return d


def test_ingest_reads_a_folder_in_name_order_and_names_what_it_left_out(folder: Path) -> None:
    _, _, report = ingest([folder], "cn110", now=NOW)
    assert [Path(f["path"]).name for f in report.files] == [
        "110_2024-03-01.csv",
        "110_2024-03-02.csv",
    ]
    assert report.rows_accepted == 5
    assert report.notes == (
        f"folder {folder}: read its 2 incident file(s) in name order; 1 other file(s) not "
        "read: README.md",
    )
    assert report.notes_zh[0].startswith(f"文件夹 {folder}：已按文件名顺序读取其中 2 个")


def test_the_ingest_command_takes_a_folder(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["ingest", str(folder), "--profile", "cn110", "--frame", "gcj02", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out / "incidents.parquet")) == 5
    assert "README.md" in " ".join(result.output.split())


def test_a_folder_without_incident_files_is_refused_naming_what_is_read(tmp_path: Path) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "notes.pdf").write_bytes(b"%PDF-1.7")
    with pytest.raises(DataFileError, match=r"docs: is a folder with no incident files \(read: "):
        ingest([d], "cn110")
    with pytest.raises(DataFileError, match=r"found notes\.pdf\)"):
        ingest([d], "cn110")


def test_every_command_resolves_inputs_alike(folder: Path, tmp_path: Path) -> None:
    # forecast's --incidents and plan's/deploy's go through the same function
    assert expand_paths([folder]) == incident_inputs([folder]) == [folder]
    pattern = str(folder / "110_*.csv")
    assert [p.name for p in incident_inputs([pattern])] == [
        "110_2024-03-01.csv",
        "110_2024-03-02.csv",
    ]
    with pytest.raises(ValidationError, match=r"--incidents .*nothing_\*\.csv: no file matches"):
        incident_inputs([str(tmp_path / "nothing_*.csv")])
    # a folder written by `xunfang ingest` stands for its table
    done = tmp_path / "ingested"
    done.mkdir()
    (done / "incidents.parquet").write_bytes(b"PAR1")
    (done / "ingest_report.json").write_text("{}")
    (done / "rejected.csv").write_text("reason\n")
    assert incident_inputs([done]) == [done / "incidents.parquet"]
