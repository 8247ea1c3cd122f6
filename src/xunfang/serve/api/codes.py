"""Configurable lists of the command centre: disposition codes (处警结果) and KPI time
standards, read from small TOML files (``src/xunfang/data/dispositions.toml`` and
``kpi_standards.toml`` by default; ``XUNFANG_DISPOSITIONS`` / ``XUNFANG_KPI_STANDARDS``
name others). Errors name the file and the key to fix."""

from __future__ import annotations

import functools
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from xunfang.errors import DataFileError, read_toml_text

_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
DEFAULT_DISPOSITIONS = "dispositions.toml"
DEFAULT_STANDARDS = "kpi_standards.toml"
PACKAGE_DATA = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class Disposition:
    """One result code and its labels."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class KpiStandards:
    """Time standards, seconds, and the longest KPI window, days."""

    acknowledge_s: float = 30.0
    depart_s: float = 60.0
    arrive_s: float = 300.0
    feedback_s: float = 1800.0
    alert_ack_s: float = 60.0
    max_window_days: float = 31.0

    def steps_s(self) -> dict[str, float]:
        """Seconds per timed step (``acknowledge``, ``depart``, ``arrive``, ``feedback``:
        :data:`xunfang.store.kpi_sql.STEPS`), as the live and the history KPIs take them."""
        return {
            "acknowledge": self.acknowledge_s,
            "depart": self.depart_s,
            "arrive": self.arrive_s,
            "feedback": self.feedback_s,
        }


def _read(path: Path | None, default: str) -> tuple[str, dict[str, object]]:
    if path is None:
        path = PACKAGE_DATA / default
    try:
        text = read_toml_text(path)
    except OSError as exc:
        raise DataFileError(path, f"cannot read ({exc.strerror})") from exc
    try:
        return str(path), tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(path, f"not valid TOML: {exc}") from exc


@functools.cache
def load_dispositions(path: Path | None = None) -> dict[str, Disposition]:
    """The disposition codes, in file order.

    Raises
    ------
    DataFileError
        If the file is missing, not TOML, has no ``[codes.*]`` table, or a code is not
        1-32 letters/digits/``_``/``-`` or lacks a ``zh`` or ``en`` label.
    """
    name, doc = _read(path, DEFAULT_DISPOSITIONS)
    codes = doc.get("codes")
    if not isinstance(codes, dict) or not codes:
        raise DataFileError(name, "needs [codes.<code>] tables with zh and en labels")
    out: dict[str, Disposition] = {}
    problems = []
    for code, labels in codes.items():
        if not _CODE.match(code):
            problems.append(f"codes.{code}: a code is 1-32 letters, digits, '_' or '-'")
            continue
        if not isinstance(labels, dict) or not all(
            isinstance(labels.get(k), str) and labels[k].strip() for k in ("zh", "en")
        ):
            problems.append(f"codes.{code}: needs non-empty zh and en labels")
            continue
        out[code] = Disposition(code, labels["zh"], labels["en"])
    if problems:
        raise DataFileError(name, "; ".join(problems))
    return out


@functools.cache
def load_standards(path: Path | None = None) -> KpiStandards:
    """The KPI time standards.

    Raises
    ------
    DataFileError
        If a key is unknown or a value is not a positive, finite number (TOML's ``inf``
        would make every call within the standard).
    """
    name, doc = _read(path, DEFAULT_STANDARDS)
    known = set(KpiStandards.__dataclass_fields__)
    problems = [
        f"{k}: unknown key (known: {', '.join(sorted(known))})" for k in doc if k not in known
    ]
    values: dict[str, float] = {}
    for k, v in doc.items():
        if k not in known:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < math.inf:
            problems.append(f"{k}: must be a positive number, got {v!r}")
        else:
            values[k] = float(v)
    if problems:
        raise DataFileError(name, "; ".join(problems))
    return KpiStandards(**values)
