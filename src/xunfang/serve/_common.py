"""Small pieces shared by the command-line modules and the reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
"""Attribution every map and report drawn from OpenStreetMap data carries."""

err_console = Console(stderr=True)


def fail(exc: BaseException) -> typer.Exit:
    """Print ``error: <message>`` to standard error; the caller raises the returned exit
    (code 2)."""
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(code=2)


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


def write_atomic(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` through a temporary file renamed when complete, so that a
    failed or interrupted run never leaves a half-written file under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding=encoding)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return path
