"""Small pieces shared by the command-line modules and the reports."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from xunfang.config import missing_data_hint
from xunfang.errors import DataFileError, ValidationError
from xunfang.outputs import OutputLock, write_text_atomic

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
"""Attribution every map and report drawn from OpenStreetMap data carries."""

err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def fail(exc: BaseException) -> typer.Exit:
    """Print ``error: <message>`` to standard error; the caller raises the returned exit
    (code 2).

    When the error is a missing file inside the data directory (the environment's, or
    ./data by default), the message goes on to say where xunfang looked and how to set
    ``XUNFANG_DATA_DIR`` (:func:`xunfang.config.data_dir_hint`)."""
    message = str(exc)
    hint = _missing_data_hint(exc)
    if hint and hint not in message:
        message = f"{message}; {hint}"
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=2)


def _missing_data_hint(exc: BaseException) -> str:
    """:func:`xunfang.config.missing_data_hint` for a :class:`DataFileError`, else ``""``."""
    return missing_data_hint(exc.path) if isinstance(exc, DataFileError) else ""


def osm_annotation() -> dict[str, Any]:
    """A plotly layout annotation with the OpenStreetMap attribution, bottom right."""
    return {
        "text": OSM_ATTRIBUTION,
        "xref": "paper",
        "yref": "paper",
        "x": 1,
        "y": 0,
        "xanchor": "right",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 10, "color": "#555"},
    }


def write_atomic(path: Path, text: str, *, encoding: str | None = None) -> Path:
    """Write ``text`` to ``path`` through a unique temporary file renamed when complete, so
    that a failed or interrupted run never leaves a half-written file under the real name
    (:func:`xunfang.outputs.write_text_atomic`). A ``.csv`` is written as UTF-8 with a
    byte-order mark (for spreadsheets) unless ``encoding`` says otherwise."""
    return write_text_atomic(path, text, encoding=encoding)


def writes_output_folder(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command that writes the output folder given as its ``out`` argument: the
    command runs holding that folder (:class:`xunfang.outputs.OutputLock`,
    ``<out>/.xunfang.lock``), released when it returns or fails.

    Every command that writes an output folder (``ingest``, ``plan``, ``deploy``,
    ``simulate run``/``sweep``, ``forecast ...``, and so the city runs) is decorated with
    this one helper, so that two runs into one folder cannot mix their files.

    Raises
    ------
    typer.Exit
        Code 2, after printing the error, when another process is writing ``out`` (the
        message names the folder, that process's id and its command) or ``out`` is a file.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        out = kwargs["out"]
        if not isinstance(out, str | os.PathLike):
            raise TypeError(f"{command.__name__}: out must be a path, got {out!r}")
        try:
            lock = OutputLock(Path(out)).acquire()
        except (ValidationError, OSError) as exc:
            raise fail(exc) from exc
        try:
            return command(*args, **kwargs)
        finally:
            lock.release()

    return run
