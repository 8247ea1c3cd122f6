"""Two runs into one output folder: the second is refused, naming the first (found by a
new-user test: two `xunfang ingest --out out/race2` at once left one run's
ingest_report.json beside the other's rejected.csv). Files are written whole under unique
temporary names. Fixtures are synthetic or the repository's own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xunfang.errors import ValidationError
from xunfang.outputs import LOCK_NAME, OutputLock, temporary_path, write_text_atomic
from xunfang.serve.cli import app

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cn110_synthetic.csv"
XUNFANG = Path(sys.executable).with_name("xunfang")
HOLDER_COMMAND = "xunfang ingest first.csv --out race"


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """Another process holding ``tmp_path / 'race'``: (folder, its pid); it lets go on exit."""
    folder = tmp_path / "race"
    script = textwrap.dedent(
        f"""
        import sys
        from xunfang.outputs import OutputLock
        lock = OutputLock({str(folder)!r}, command={HOLDER_COMMAND!r}).acquire()
        print("held", flush=True)
        sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    try:
        yield folder, proc.pid
    finally:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stdout.close()


def test_a_second_process_is_refused_naming_folder_pid_and_command(
    holder: tuple[Path, int],
) -> None:
    folder, pid = holder
    with pytest.raises(ValidationError) as err:
        OutputLock(folder).acquire()
    message = str(err.value)
    assert f"output folder {folder} is in use by another xunfang run" in message
    assert f"(pid {pid}: {HOLDER_COMMAND})" in message
    assert (folder / LOCK_NAME).read_text() == f"{pid}\n{HOLDER_COMMAND}\n"


@pytest.mark.skipif(not XUNFANG.is_file(), reason="no xunfang command next to this Python")
def test_two_real_ingest_processes_into_one_folder(holder: tuple[Path, int]) -> None:
    folder, pid = holder
    argv = [str(XUNFANG), "ingest", str(FIXTURE), "--profile", "cn110", "--frame", "gcj02"]
    second = subprocess.run(
        [*argv, "--out", str(folder)], capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 2
    err = " ".join(second.stderr.split())  # rich wraps long lines
    assert f"in use by another xunfang run (pid {pid}: {HOLDER_COMMAND})" in err
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_NAME]  # nothing written


@pytest.mark.skipif(not XUNFANG.is_file(), reason="no xunfang command next to this Python")
def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / LOCK_NAME).write_text("999999999\nxunfang plan --out out (killed)\n")
    argv = [str(XUNFANG), "ingest", str(FIXTURE), "--profile", "cn110", "--frame", "gcj02"]
    for _ in range(2):  # the second run finds the folder free again
        done = subprocess.run(
            [*argv, "--out", str(folder)], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    # the lock file is removed when the run ends: the folder holds the outputs only
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["incidents.parquet", "ingest_report.json", "rejected.csv"]


def _commands(folder: Path, tmp_path: Path) -> dict[str, list[str]]:
    some = tmp_path / "some.toml"
    some.write_text("")
    out = ["--out", str(folder)]
    return {
        "ingest": ["ingest", str(FIXTURE), "--profile", "cn110", *out],
        "plan": ["plan", "--area", "district:1", *out],
        "plan city": ["plan", "--area", "district:all", *out],
        # (a plan folder beside the output: deploy refuses an --out inside its plan folder)
        "deploy": ["deploy", "--plan-dir", str(tmp_path / "plan"), "--roster", str(some), *out],
        "simulate run": ["simulate", "run", "--scenario", str(some), *out],
        "simulate sweep": ["simulate", "sweep", "--area", "district:1", "--booths", "5", *out],
        "forecast evaluate": ["forecast", "evaluate", "--area", "district:1", *out],
        "forecast predict": ["forecast", "predict", "--area", "district:1", *out],
        "forecast reproduce-opencp": ["forecast", "reproduce-opencp", *out],
        "forecast segments": ["forecast", "segments", "--area", "district:1", *out],
        "forecast nij": ["forecast", "nij", *out],
    }


def test_every_command_that_writes_a_folder_takes_the_lock(
    holder: tuple[Path, int], tmp_path: Path
) -> None:
    folder, pid = holder
    for name, argv in _commands(folder, tmp_path).items():
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2, (name, result.output)
        assert f"(pid {pid}: {HOLDER_COMMAND})" in " ".join(result.output.split()), name


def test_the_cli_releases_the_lock_when_a_command_ends(tmp_path: Path) -> None:
    folder = tmp_path / "twice"
    argv = ["ingest", str(FIXTURE), "--profile", "cn110", "--frame", "gcj02", "--out", str(folder)]
    for _ in range(2):  # in one process: the first run's lock is gone when it returns
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0, result.output
    lock = OutputLock(folder).acquire()
    assert (folder / LOCK_NAME).read_text().startswith(f"{os.getpid()}\n")
    lock.release()
    assert not (folder / LOCK_NAME).exists()


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_text("mine")
    with pytest.raises(ValidationError, match=r"report\.txt is a file, not a folder"):
        OutputLock(path).acquire()
    assert path.read_text() == "mine"


def test_temporary_names_are_unique_and_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "rejected.csv"
    with temporary_path(target) as a, temporary_path(target) as b:
        assert a != b and a.parent == b.parent == tmp_path
        assert a.name.startswith(".rejected.csv.") and a.suffix == ".tmp"
        a.write_text("a")
        b.write_text("b")
    assert target.read_text() == "a"  # the outer block ended last: its file is the one left
    with pytest.raises(RuntimeError), temporary_path(target) as c:
        c.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rejected.csv"]


def test_csv_files_for_people_carry_a_byte_order_mark(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "sites.csv", "name\n派出所\n")
    write_text_atomic(tmp_path / "summary.json", '{"name": "派出所"}')
    assert (tmp_path / "sites.csv").read_bytes() == b"\xef\xbb\xbfname\n" + "派出所\n".encode()
    assert (tmp_path / "summary.json").read_bytes().startswith(b'{"name"')
    # and the project's reader (pandas) reads the column name without the mark
    assert list(pd.read_csv(tmp_path / "sites.csv").columns) == ["name"]


def test_ingest_writes_rejected_csv_with_a_byte_order_mark_like_sites_csv(tmp_path: Path) -> None:
    out = tmp_path / "cn"
    argv = ["ingest", str(FIXTURE), "--profile", "cn110", "--frame", "gcj02", "--out", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    raw = (out / "rejected.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfreason,reason_text,field,")
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert os.path.getsize(out / "ingest_report.json") > 0


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_the_umask_allows(tmp_path: Path, umask: int, mode: int) -> None:
    """``0o666 & ~umask``, as open() gives (mkstemp alone made every output 0600, so a
    colleague in the group could not read the reports)."""
    from xunfang.ingest.sources import _write_text_atomic
    from xunfang.outputs import new_file_mode

    old = os.umask(umask)
    try:
        assert new_file_mode() == mode
        written = write_text_atomic(tmp_path / "report.html", "<p>x</p>")
        with temporary_path(tmp_path / "t.parquet") as tmp:
            tmp.write_bytes(b"x")
        _write_text_atomic(tmp_path / "source.json", "{}")  # data downloads' records
        with open(tmp_path / "plain.txt", "w") as f:  # what open() itself gives
            f.write("x")
    finally:
        os.umask(old)
    for name in (written.name, "t.parquet", "source.json", "plain.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_writing_into_another_commands_folder_warns(tmp_path: Path) -> None:
    """``ingest --out`` into a folder that holds a deploy's output: a warning names the
    command and its files (a plan into a deploy folder once mixed both silently); into
    its own earlier output, or an empty folder, no warning."""
    from xunfang.outputs import other_commands_output

    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "deploy_summary.json").write_text("{}", encoding="utf-8")
    (folder / "deployment.csv").write_text("x\n", encoding="utf-8")
    assert other_commands_output(folder, "plan") == {"deploy_summary.json": "deploy"}
    assert other_commands_output(folder, "deploy") == {}
    assert other_commands_output(tmp_path / "none", "plan") == {}
    argv = ["ingest", str(FIXTURE), "--profile", "cn110", "--frame", "gcj02", "--out"]
    result = CliRunner().invoke(app, [*argv, str(folder)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (
        f"warning: the output folder {folder} holds the output of xunfang deploy "
        "(deploy_summary.json): this ingest's files are written beside it" in text
    )
    # in Chinese, the same warning translated; into its own earlier output, no warning
    again = CliRunner().invoke(app, [*argv, str(folder), "--lang", "zh"])
    assert again.exit_code == 0 and "xunfang deploy 的输出（deploy_summary.json）" in again.output
    clean = tmp_path / "ingest"
    for _ in range(2):
        result = CliRunner().invoke(app, [*argv, str(clean)])
        assert result.exit_code == 0 and "warning" not in result.output


def test_a_folder_inside_one_another_process_writes_is_refused(
    holder: tuple[Path, int], tmp_path: Path
) -> None:
    # found by a new-user test: `plan --area district:7 --out OUT/district_7` wrote into the
    # district folder of a running city plan into OUT
    folder, pid = holder
    inner = folder / "district_7"
    with pytest.raises(ValidationError) as err:
        OutputLock(inner).acquire()
    message = " ".join(str(err.value).split())
    assert f"output folder {inner} is inside {folder.resolve()}, which another xunfang run" in (
        message
    )
    assert f"(pid {pid}: {HOLDER_COMMAND})" in message
    assert not (inner / LOCK_NAME).exists()  # our own claim given up
    assert not inner.exists()  # nor an empty folder left that the refused claim made
    # deeper too, and through the command line (exit 2, nothing written)
    result = CliRunner().invoke(
        app, ["ingest", str(FIXTURE), "--profile", "cn110", "--out", str(inner / "a" / "b")]
    )
    assert result.exit_code == 2, result.output
    assert f"(pid {pid}: {HOLDER_COMMAND})" in " ".join(result.output.split())
    assert not (inner / "a" / "b" / "incidents.parquet").exists()
    assert not inner.exists()
    # a sibling folder is free
    OutputLock(tmp_path / "elsewhere").acquire().release()


def test_a_folder_holding_one_another_process_writes_is_refused(
    holder: tuple[Path, int], tmp_path: Path
) -> None:
    # the other way round: a city run into tmp_path while a district run writes tmp_path/race
    folder, pid = holder
    with pytest.raises(ValidationError) as err:
        OutputLock(tmp_path).acquire()
    message = " ".join(str(err.value).split())
    assert f"output folder {tmp_path} holds {folder.resolve()}, which another xunfang run" in (
        message
    )
    assert f"(pid {pid}: {HOLDER_COMMAND})" in message


def test_a_left_lock_or_this_process_own_lock_in_a_parent_does_not_refuse(tmp_path: Path) -> None:
    # a lock file left by a killed run is no live lock
    (tmp_path / LOCK_NAME).write_text("999999999\nxunfang plan --out out (killed)\n")
    OutputLock(tmp_path / "district_7").acquire().release()
    # this process's own claim on the parent (a city run writing its districts) is no bar
    (tmp_path / LOCK_NAME).unlink()
    with OutputLock(tmp_path), OutputLock(tmp_path / "district_7") as inner:
        assert inner.held


def test_kpi_refuses_a_folder_holding_another_commands_report(tmp_path: Path) -> None:
    # found by a new-user test: `kpi --out` into a forecast folder overwrote its report.html
    kpi_fixture = FIXTURE.with_name("cn110_kpi_synthetic.csv")
    other = tmp_path / "fc"
    other.mkdir()
    (other / "forecast.geojson").write_text("{}", encoding="utf-8")
    (other / "report.html").write_text("<p>the forecast</p>", encoding="utf-8")
    argv = ["kpi", "--incidents", str(kpi_fixture), "--out", str(other)]
    for lang, words in (
        ("en", f"--out {other} holds another command's output (forecast.geojson, report.html)"),
        ("zh", f"--out {other} 中已有其他命令的输出（forecast.geojson, report.html）"),
    ):
        result = CliRunner().invoke(app, [*argv, "--lang", lang])
        assert result.exit_code == 2, result.output
        assert words in " ".join(result.output.split())
    assert (other / "report.html").read_text("utf-8") == "<p>the forecast</p>"
    assert not (other / "kpi.csv").exists()
    # a report.html alone (a plan's, no marker) is refused too
    (other / "forecast.geojson").unlink()
    assert CliRunner().invoke(app, argv).exit_code == 2
    # an empty folder, then the same kpi folder again, are written
    own = tmp_path / "kpi"
    own.mkdir()
    for _ in range(2):
        result = CliRunner().invoke(app, [*argv[:-1], str(own)])
        assert result.exit_code == 0, result.output


def _refused_runs(tmp_path: Path) -> dict[str, list[str]]:
    """A run of each command that writes a folder, refused for a bad argument or file."""
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("a = [\n", encoding="utf-8")
    missing = str(tmp_path / "missing.csv")
    kpi = ["kpi", "--incidents", str(FIXTURE), "--profile", "cn110"]
    return {
        "kpi --since": [*kpi, "--since", "notadate"],
        "kpi --standards": [*kpi, "--standards", str(bad_toml)],
        "ingest": ["ingest", missing],
        "plan": ["plan", "--area", "district:1", "--booths", "-3"],
        "deploy": ["deploy", "--plan-dir", str(tmp_path / "plan"), "--roster", str(bad_toml)],
        "simulate run": ["simulate", "run", "--scenario", str(tmp_path / "none.toml")],
        "simulate sweep": ["simulate", "sweep", "--area", "district:1", "--booths", "abc"],
        "forecast reproduce-opencp": ["forecast", "reproduce-opencp", "--incidents", missing],
        "forecast nij": ["forecast", "nij", "--incidents", missing],
    }


def test_a_refused_run_leaves_no_folder_it_created(tmp_path: Path) -> None:
    # found by a new-user test: `kpi --since notadate --out o1` and `ingest missing.csv
    # --out o2` were refused (exit 2) but left the empty folders o1 and o2 behind
    for name, argv in _refused_runs(tmp_path).items():
        out = tmp_path / "new" / name.replace(" ", "_")
        result = CliRunner().invoke(app, [*argv, "--out", str(out)])
        assert result.exit_code == 2, (name, result.output)
        assert not out.exists(), name
        assert not out.parent.exists(), name  # the parent this run created too
    # a folder that was there before the run is kept, empty or not
    before = tmp_path / "before"
    before.mkdir()
    (before / "mine").mkdir()
    result = CliRunner().invoke(app, [*_refused_runs(tmp_path)["ingest"], "--out", str(before)])
    assert result.exit_code == 2
    assert sorted(p.name for p in before.iterdir()) == ["mine"]
    # a parent holding a file is kept; the empty folder this run made inside it is not
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("x")
    out = tmp_path / "kept" / "a" / "b"
    assert (
        CliRunner().invoke(app, ["ingest", str(tmp_path / "no.csv"), "--out", str(out)]).exit_code
        == 2
    )
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["notes.txt"]


def test_remove_made_if_empty_keeps_folders_holding_files(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    lock = OutputLock(out).acquire()
    assert lock.made == (out, tmp_path / "a")
    (out / "empty" / "deeper").mkdir(parents=True)
    (out / "full").mkdir()
    (out / "full" / "t.csv").write_text("x")
    with pytest.raises(RuntimeError, match="release the lock"):
        lock.remove_made_if_empty()
    lock.release()
    assert lock.remove_made_if_empty() == (out / "empty" / "deeper", out / "empty")
    assert sorted(p.name for p in out.iterdir()) == ["full"]
    (out / "full" / "t.csv").unlink()
    with OutputLock(out) as again:
        assert again.made == ()  # the folder exists now: not this claim's to remove


def test_every_command_writing_a_report_refuses_another_commands_report(tmp_path: Path) -> None:
    """Found by a new-user test: ``plan --out`` into a deploy folder replaced the deploy's
    report.html after a mere warning ("... mixing the two"), while ``kpi`` refused the
    same case. One rule now: a command that writes report.html refuses a folder holding
    another command's report.html, before creating anything."""
    from xunfang.serve._common import refuse_out_with_other_report

    dep = tmp_path / "deploy"
    dep.mkdir()
    (dep / "deploy_summary.json").write_text("{}", encoding="utf-8")
    (dep / "report.html").write_text("<p>the deployment</p>", encoding="utf-8")
    for lang, words in (
        ("en", f"--out {dep} holds another command's output (deploy_summary.json, report.html)"),
        ("zh", f"--out {dep} 中已有其他命令的输出（deploy_summary.json, report.html）：plan"),
    ):
        result = CliRunner().invoke(app, ["plan", "--out", str(dep), "--lang", lang])
        assert result.exit_code == 2, result.output
        assert words in " ".join(result.output.split())
    assert (dep / "report.html").read_text("utf-8") == "<p>the deployment</p>"
    assert sorted(p.name for p in dep.iterdir()) == ["deploy_summary.json", "report.html"]
    # the same rule for the others: deploy into a plan's folder that is not its --plan-dir,
    # a simulation into a kpi folder
    plan = tmp_path / "plan"
    plan.mkdir()
    for name in ("plan_summary.json", "report.html"):
        (plan / name).write_text("{}", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"deploy would overwrite its report\.html"):
        refuse_out_with_other_report(plan, "deploy")
    kpi = tmp_path / "kpi"
    kpi.mkdir()
    for name in ("kpi.json", "report.html"):
        (kpi / name).write_text("{}", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"\(kpi.json, report.html\): simulate run"):
        refuse_out_with_other_report(kpi, "simulate run")
    # written: a command's own folder; its own report of an interrupted run (plan writes
    # plan_summary.json last); another command's folder without a report.html (a
    # warning says so); a command that writes no report.html
    refuse_out_with_other_report(plan, "plan")
    (plan / "plan_summary.json").unlink()
    refuse_out_with_other_report(plan, "plan")
    (dep / "report.html").unlink()
    refuse_out_with_other_report(dep, "plan")
    refuse_out_with_other_report(kpi, "ingest")


def test_a_run_ended_by_sigterm_releases_its_lock_and_leaves_no_empty_folder(
    tmp_path: Path,
) -> None:
    """SIGTERM (``timeout``, ``kill``) during a writing command: exit code 143, the lock
    released and the folder it made removed, as on any failure (a new-user test found
    a killed run's folder holding only its stale lock); the handler is restored after."""
    import signal

    from xunfang.serve._common import writes_output_folder

    @writes_output_folder
    def slow(*, out: str, lang: str = "en") -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to the main thread here

    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "new" / "out"
    with pytest.raises(SystemExit) as ended:
        slow(out=str(out))
    assert ended.value.code == 143
    assert not (tmp_path / "new").exists()
    assert signal.getsignal(signal.SIGTERM) is before
