"""Output folders: one writer at a time, every file written whole, CSVs that people open.

* :class:`OutputLock`: the claim of one process on an output folder, an advisory
  ``flock`` on ``<folder>/.xunfang.lock`` holding the holder's process id and command.
  Every command that writes an output folder takes it (through
  ``xunfang.serve._common.writes_output_folder``), so that two runs into the same
  ``--out`` cannot leave one run's report beside the other's table: the second is
  refused at once, naming the folder and the first run. A folder inside one that another
  process is writing (``OUT/district_7`` of a city run into ``OUT``), or holding one, is
  refused the same way (:func:`live_lock_holder`).
* :func:`temporary_path` and :func:`write_text_atomic`: a file is written under a unique
  temporary name in its own folder (:func:`tempfile.mkstemp`) and renamed over the real
  name when complete, so a failed run leaves no half file and two writers never share a
  temporary name. The file gets the mode :func:`open` would give it (``0o666`` less the
  umask, e.g. 0644 under umask 022), not :func:`tempfile.mkstemp`'s private 0600: the
  outputs are reports and tables for colleagues, not secrets.
* :data:`CSV_ENCODING`: every CSV written for people is UTF-8 with a byte-order mark, the
  form spreadsheet programs (Excel) need to read Chinese text right; pandas and the
  project's own readers read it as plain UTF-8.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from xunfang.errors import ValidationError

LOCK_NAME = ".xunfang.lock"
"""Name of the lock file inside an output folder."""

CSV_ENCODING = "utf-8-sig"
"""Encoding of every CSV written for people: UTF-8 with a byte-order mark."""


def _this_command() -> str:
    """This process's command line, as the user typed it (at most 300 characters)."""
    argv = list(sys.argv) or ["python"]
    argv[0] = Path(argv[0]).name
    line = shlex.join(argv)
    return line if len(line) <= 300 else line[:297] + "..."


class OutputLock:
    """The exclusive claim of one process on an output folder.

    An advisory ``flock`` (non-blocking) on ``<folder>/.xunfang.lock``, whose content is
    the holder's process id and command line, removed when the holder releases it. The
    operating system releases the lock when the holder exits however it ends (even
    ``kill -9``), so a lock file left behind by a killed run is simply taken over. On
    systems without ``fcntl`` (Windows) no lock is taken.

    Parameters
    ----------
    folder
        The output folder; created (with its parents) when missing.
    command
        What to record as the holder's command (default: this process's command line).

    Raises
    ------
    ValidationError
        From :meth:`acquire`, when another process (or another claim in this process)
        holds the folder, a folder it lies in (e.g. ``OUT`` of a city run, for
        ``OUT/district_7``) or one of its subfolders; the message names the folders, that
        process's id and its command.
    """

    _held_here: ClassVar[set[Path]] = set()
    """Folders (resolved) whose lock this process holds: its own claims do not refuse it."""

    def __init__(self, folder: str | Path, *, command: str | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command if command is not None else _this_command()
        self._fd: int | None = None
        self.made: tuple[Path, ...] = ()
        """The folders :meth:`acquire` created (``folder`` and missing parents), deepest
        first; :meth:`remove_made_if_empty` removes them after a refused run."""

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> OutputLock:
        """Take the lock at once (no waiting) and record our process id and command."""
        if self._fd is not None:
            return self
        if self.folder.exists() and not self.folder.is_dir():
            raise ValidationError(f"--out {self.folder} is a file, not a folder")
        # the folders made here, deepest first: a refused claim removes them again
        made = [f for f in (self.folder, *self.folder.parents) if not f.exists()]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.made = tuple(made)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        try:
            self._claim(fcntl)
        except BaseException:
            for f in made:
                with contextlib.suppress(OSError):  # not empty: something else wrote it
                    f.rmdir()
            self.made = ()
            raise
        return self

    def _claim(self, fcntl: Any) -> None:
        """Take the ``flock`` of :meth:`acquire` on the existing folder."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lines = os.pread(fd, 4096, 0).decode("utf-8", "replace").splitlines()
                os.close(fd)
                pid = lines[0].strip() if lines and lines[0].strip() else "unknown"
                cmd = lines[1].strip() if len(lines) > 1 and lines[1].strip() else "unknown"
                raise ValidationError(
                    f"output folder {self.folder} is in use by another xunfang run (pid "
                    f"{pid}: {cmd}); wait for it to finish or give another --out (lock "
                    f"{self.path})"
                ) from None
            # the holder removes the file when done: a lock on a removed file is no lock
            mine = os.fstat(fd)
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{self.command}\n".encode(), 0)
        self._fd = fd
        # checked while holding our own lock: of two runs starting at once into a folder and
        # a folder inside it, the later one to look sees the other's lock
        try:
            self._refuse_nested_live_lock()
        except BaseException:
            self.release()
            raise
        OutputLock._held_here.add(self.folder.resolve())

    def _refuse_nested_live_lock(self) -> None:
        """Refuse a folder inside one that another process is writing (a live lock in a
        parent folder, e.g. ``OUT/district_7`` of a city run into ``OUT``), or a folder
        with a subfolder another process is writing (a city run into ``OUT`` while a
        district run writes ``OUT/district_7``)."""
        here = self.folder.resolve()
        for parent in here.parents:
            holder = live_lock_holder(parent)
            if holder is not None:
                pid, cmd = holder
                raise ValidationError(
                    f"output folder {self.folder} is inside {parent}, which another xunfang "
                    f"run is writing (pid {pid}: {cmd}); its files there would be mixed "
                    f"with this run's: wait for it to finish or give an --out outside {parent} "
                    f"(lock {parent / LOCK_NAME})"
                )
        for lock in sorted(here.glob(f"*/{LOCK_NAME}")):
            holder = live_lock_holder(lock.parent)
            if holder is not None:
                pid, cmd = holder
                raise ValidationError(
                    f"output folder {self.folder} holds {lock.parent}, which another xunfang "
                    f"run is writing (pid {pid}: {cmd}); this run would write beside or over "
                    f"its files: wait for it to finish or give another --out (lock {lock})"
                )

    def release(self) -> None:
        """Give the lock up: remove the lock file (still holding it, so that a process
        that opened it meanwhile sees it gone and tries again), then close it."""
        if self._fd is not None:
            OutputLock._held_here.discard(self.folder.resolve())
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def remove_made_if_empty(self) -> tuple[Path, ...]:
        """Remove the folders :meth:`acquire` created, for a run that was refused or failed
        before writing anything: first the empty folders inside ``folder`` (deepest first;
        this run made them, as it made ``folder``), then ``folder`` and the parents it
        created, each only when empty. A folder holding any file is kept, with the folders
        above it. Call it after :meth:`release` (the lock file is gone).

        Returns
        -------
        tuple of Path
            The folders removed.
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: release the lock before removing its folder")
        removed: list[Path] = []
        if not self.made:
            return ()
        inner = sorted(
            (d for d in self.folder.rglob("*") if d.is_dir() and not d.is_symlink()),
            key=lambda d: len(d.parts),
            reverse=True,
        )
        for f in (*inner, *self.made):
            try:
                f.rmdir()
            except FileNotFoundError:
                continue
            except OSError:  # not empty: keep it and the folders holding it
                if f in self.made:
                    break
                continue
            removed.append(f)
        self.made = ()
        return tuple(removed)

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def live_lock_holder(folder: str | Path) -> tuple[str, str] | None:
    """The process writing ``folder`` now, by its lock (:class:`OutputLock`): (process id,
    command) as the lock file records them, or None when the folder has no lock file, its
    lock file is left from a run that ended (nobody holds the ``flock``), this process
    holds it, or the file cannot be read.

    The test takes a shared ``flock`` without waiting and gives it up at once; it never
    changes the file.
    """
    f = Path(folder)
    path = f / LOCK_NAME
    if not path.is_file():
        return None
    try:
        if f.resolve() in OutputLock._held_here:
            return None
        import fcntl
    except (ImportError, OSError):  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            lines = os.pread(fd, 4096, 0).decode("utf-8", "replace").splitlines()
            pid = lines[0].strip() if lines and lines[0].strip() else "unknown"
            cmd = lines[1].strip() if len(lines) > 1 and lines[1].strip() else "unknown"
            return pid, cmd
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def new_file_mode() -> int:
    """The permission bits :func:`open` gives a new file: ``0o666 & ~umask``.

    The umask is read from ``/proc/self/status`` (Linux) without changing it; elsewhere
    it is set and restored at once (:func:`os.umask` has no read-only form).
    """
    umask = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
                break
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


OUTPUT_MARKERS: dict[str, str] = {
    "plan_summary.json": "plan",
    "city_summary.json": "plan",
    "deploy_summary.json": "deploy",
    "city_deploy_summary.json": "deploy",
    "comparison.csv": "simulate run",
    "city_simulation_summary.json": "simulate run",
    "sweep.csv": "simulate sweep",
    "incidents.parquet": "ingest",
    "kpi.json": "kpi",
    "forecast.geojson": "forecast predict",
}
"""A file only one command writes -> that command (``xunfang <command>``): how an output
folder tells which command's output it holds (:func:`other_commands_output`)."""


def other_commands_output(folder: str | Path, command: str) -> dict[str, str]:
    """The files of ``folder`` that another command than ``command`` wrote (by
    :data:`OUTPUT_MARKERS`): file name -> that command; empty for a new or empty folder
    or one holding only ``command``'s own output.

    Parameters
    ----------
    folder
        The ``--out`` folder about to be written.
    command
        The command about to write it, as in :data:`OUTPUT_MARKERS` (``plan``, ``deploy``,
        ...).
    """
    f = Path(folder)
    if not f.is_dir():
        return {}
    return {
        name: owner
        for name, owner in OUTPUT_MARKERS.items()
        if owner != command and (f / name).is_file()
    }


@contextlib.contextmanager
def temporary_path(path: str | Path) -> Iterator[Path]:
    """A unique temporary file beside ``path`` to write into.

    The temporary file is created empty by :func:`tempfile.mkstemp` in ``path``'s folder
    (so the rename is atomic and two writers never share a name), named
    ``.<name>.<random>.tmp``. When the block ends normally the file replaces ``path``;
    when it raises (or on Ctrl-C), the temporary file is removed and ``path`` untouched.
    Its mode is :func:`new_file_mode` (as :func:`open` would create it), not mkstemp's 0600.

    Parameters
    ----------
    path
        The final file; its folder is created when missing.

    Yields
    ------
    Path
        The temporary file.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, new_file_mode())
    finally:
        os.close(fd)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        tmp.replace(final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def csv_encoding_for(path: str | Path) -> str:
    """The encoding a text file of this name is written in: :data:`CSV_ENCODING` for
    ``.csv`` (a spreadsheet opens it), UTF-8 for anything else (HTML, JSON, GeoJSON)."""
    return CSV_ENCODING if Path(path).name.lower().endswith(".csv") else "utf-8"


def write_text_atomic(path: str | Path, text: str, *, encoding: str | None = None) -> Path:
    """Write ``text`` to ``path`` whole (see :func:`temporary_path`).

    Parameters
    ----------
    path
        The file.
    text
        Its content.
    encoding
        Default: :func:`csv_encoding_for` (UTF-8 with a byte-order mark for a ``.csv``,
        plain UTF-8 otherwise).

    Returns
    -------
    Path
        ``path``.
    """
    with temporary_path(path) as tmp:
        tmp.write_text(text, encoding=encoding or csv_encoding_for(path))
    return Path(path)
