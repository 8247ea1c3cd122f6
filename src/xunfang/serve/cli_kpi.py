"""``xunfang kpi``: the 签收/出警/到场/反馈 KPIs of a call history (a 110 export's step
times), with the live KPIs' definitions and standards.

The work is done by :mod:`xunfang.analyse.kpi_history`; the standards are read by
:func:`xunfang.serve.api.codes.load_standards`, the same as ``xunfang serve``'s KPIs.
Writes ``kpi.csv`` (the table), ``kpi.json`` (the table and what it was computed on) and
``report.html`` in English or Chinese. Only aggregates are written: no id, name, phone or
address of a call.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from xunfang import __version__, strict_json
from xunfang.analyse.kpi_history import BLANK, DURATION_CAP_S, KpiHistory, kpi_history
from xunfang.errors import ValidationError, XunfangError
from xunfang.ingest.city import unstated_frame_note
from xunfang.ingest.incidents import (
    PROFILES,
    incident_inputs,
    ingest,
    ingested_table_paths,
    profile_from_toml,
    read_incident_table,
)
from xunfang.ingest.messages import text as ingest_text
from xunfang.ingest.notes import note_text
from xunfang.ingest.profiles import CN110_STEPS, STEP_COLUMNS
from xunfang.ingest.readers import BAD_BYTES
from xunfang.serve._common import (
    LangOpt,
    check_lang_option,
    fail,
    write_atomic,
    writes_output_folder,
)
from xunfang.serve.api.codes import DEFAULT_STANDARDS, PACKAGE_DATA, load_standards
from xunfang.store.kpi_sql import STEPS

__all__ = ["KpiSource", "kpi_cmd", "load_history", "render_kpi_html", "write_kpi"]

_out = Console(width=None if sys.stdout.isatty() else 200)
FRAMES = ("wgs84", "gcj02", "bd09")

STEP_LABEL = {
    "acknowledge": {"en": "签收 acknowledge", "zh": "签收"},
    "depart": {"en": "出警 depart", "zh": "出警"},
    "arrive": {"en": "到场 arrive", "zh": "到场"},
    "feedback": {"en": "反馈 feedback", "zh": "反馈"},
}
STEP_SPAN = {
    "acknowledge": {"en": "dispatched -> acknowledged", "zh": "派警 -> 签收"},
    "depart": {"en": "dispatched -> en route", "zh": "派警 -> 出警"},
    "arrive": {"en": "call received -> first unit on scene", "zh": "报警 -> 到达现场"},
    "feedback": {"en": "on scene -> cleared with a result", "zh": "到达现场 -> 反馈"},
}
DIMENSION_LABEL = {
    "overall": {"en": "overall", "zh": "总体"},
    "type_group": {"en": "by call type group", "zh": "按警情类别"},
    "priority": {"en": "by priority", "zh": "按警情级别"},
    "unit": {"en": "by handling unit", "zh": "按处警单位"},
    "hour": {"en": "by hour of the call (local)", "zh": "按报警时段（当地时间）"},
}
HEADS = {
    "en": (
        "group",
        "step",
        "standard s",
        "calls",
        "measured",
        "not recorded",
        f"over {DURATION_CAP_S / 3600:g} h",
        "within",
        "share within",
        "mean s",
        "p90 s",
        "max s",
    ),
    "zh": (
        "分组",
        "环节",
        "标准（秒）",
        "警情数",
        "有记录",
        "未记录",
        f"超 {DURATION_CAP_S / 3600:g} 小时",
        "达标",
        "达标率",
        "平均（秒）",
        "P90（秒）",
        "最长（秒）",
    ),
}


@dataclass(frozen=True)
class KpiSource:
    """What the KPIs were computed on.

    Attributes
    ----------
    frame
        The calls (an incident table's frame), after ``since``/``until``.
    timezone
        IANA zone of the calls.
    inputs
        The paths given.
    files
        The files read (for an ingested folder: the files it was ingested from).
    rows_read, rows_accepted
        Rows of the files, and rows ingest accepted (the others are in its report).
    step_times
        The ingest report's ``step_times`` (columns read, step times set aside).
    notes, notes_zh
        The ingest notes about step times, in English and Chinese.
    """

    frame: pd.DataFrame
    timezone: str
    inputs: tuple[str, ...]
    files: tuple[str, ...]
    rows_read: int
    rows_accepted: int
    step_times: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    notes_zh: tuple[str, ...] = ()
    rows_before_window: int = 0
    precision: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per column (``received_at`` for the call time, the step columns), rows per time
    precision (``second``, ``minute``, ...), over the accepted rows."""
    sources: dict[str, list[str]] = field(default_factory=dict)
    """Per column of the table (``unit``, ``handling_unit``, ``priority``, ...), the file
    columns it was read from."""
    data_period: tuple[str, str] | None = None
    """The first and last call time of all the calls read, before ``since``/``until``
    (local ISO 8601); None when there are none."""
    frame_note: str | None = None
    """Raw files of a Chinese profile read without ``--frame``: the ingest note that their
    coordinates were read as WGS-84 (:func:`xunfang.ingest.city.unstated_frame_note`);
    None for ingested tables, a stated frame or another profile."""


def _sources(files: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for f in files:
        for col, role in f.get("columns", {}).items():
            out.setdefault(str(role), set()).add(str(col))
    return {k: sorted(v) for k, v in out.items()}


def _step_notes(report: dict[str, Any], lang: str) -> list[str]:
    out = []
    for item in report.get("step_times", {}).get("set_aside", []):
        fields = {
            "file": item["file"],
            "field": item["field"],
            "other": item["other"],
            "n": item["rows"],
            "row": item["first_row"],
            "value": item["value"],
        }
        out.append(ingest_text(f"step_{item['reason']}", lang, **fields))
    for item in report.get("step_times", {}).get("not_read", []):
        said = ingest_text("alternate_unread", lang, cols=item["cols"], read=item["read"])
        out.append(f"{item['file']}: {said}")
    return out


def _local_time(value: str | None, tz: str, option: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        t = pd.Timestamp(dt.datetime.fromisoformat(value.strip()))
    except ValueError as exc:
        raise ValidationError(
            f"{option}: {value!r} is not a date (use YYYY-MM-DD or 'YYYY-MM-DD HH:MM')"
        ) from exc
    return t.tz_localize(tz) if t.tzinfo is None else t


def load_history(
    inputs: list[Path],
    *,
    profile: str = "cn110",
    mapping: Path | None = None,
    frame: str | None = None,
    encoding: str | None = None,
    bad_bytes: str = "refuse",
    since: str | None = None,
    until: str | None = None,
) -> KpiSource:
    """The calls of ``inputs``: ingested folders (or their ``incidents.parquet``) read as
    written, or raw files ingested now with ``profile`` (or ``mapping``); then only the
    calls received in ``[since, until)`` (local dates or times of the calls' zone).

    Raises
    ------
    ValidationError
        If ingested tables and raw files are mixed, or a date cannot be read, or
        ``since`` is not before ``until``.
    DataFileError
        As :func:`xunfang.ingest.incidents.ingest` raises it for a raw file.
    """
    paths = incident_inputs(inputs)
    ingested = ingested_table_paths(paths)
    if ingested:
        frames, files, tz = [], [], None
        read = accepted = 0
        notes: list[str] = []
        notes_zh: list[str] = []
        steps: dict[str, Any] = {"columns": {}, "set_aside": []}
        frame_note = None  # said when the folder was ingested
        file_infos: list[dict[str, Any]] = []
        precision: dict[str, dict[str, int]] = {}
        for p in ingested:
            t = read_incident_table(p)
            tz = tz or t.timezone
            frames.append(t.frame)
            rep_path = p.parent / "ingest_report.json"
            rep = strict_json.loads(rep_path.read_text("utf-8")) if rep_path.is_file() else {}
            files += [str(f.get("path")) for f in rep.get("files", [])] or [str(p)]
            file_infos += rep.get("files", [])
            read += int(rep.get("rows_read", len(t.frame)))
            accepted += int(rep.get("rows_accepted", len(t.frame)))
            st = rep.get("step_times", {})
            for k, v in st.get("columns", {}).items():
                steps["columns"][k] = sorted(set(steps["columns"].get(k, [])) | set(v))
            steps["set_aside"] += st.get("set_aside", [])
            for col, counts in {
                "received_at": rep.get("time_precision", {}),
                **st.get("precision", {}),
            }.items():
                for k, v in counts.items():
                    precision.setdefault(col, {})[k] = precision.get(col, {}).get(k, 0) + v
            notes += _step_notes(rep, "en")
            notes_zh += _step_notes(rep, "zh")
        calls = pd.concat(frames, ignore_index=True)
        timezone = str(tz)
    else:
        prof = profile_from_toml(mapping) if mapping else profile
        if isinstance(prof, str) and prof not in PROFILES:
            raise ValidationError(f"--profile must be one of {', '.join(sorted(PROFILES))}")
        frame_note = unstated_frame_note(prof, frame)
        table, _, report = ingest(
            paths,
            prof,
            encoding=encoding,
            frame=frame,  # type: ignore[arg-type]
            bad_bytes="reject-row" if bad_bytes == "reject-row" else "refuse",
        )
        rep = report.to_dict()
        calls, timezone = table.frame, table.timezone
        files = [str(f["path"]) for f in report.files]
        file_infos = list(report.files)
        read, accepted = report.rows_read, report.rows_accepted
        steps = report.step_times
        precision = {"received_at": dict(report.time_precision), **steps.get("precision", {})}
        notes, notes_zh = _step_notes(rep, "en"), _step_notes(rep, "zh")
    start = _local_time(since, timezone, "--since")
    stop = _local_time(until, timezone, "--until")
    if start is not None and stop is not None and not start < stop:
        raise ValidationError(f"--since {since} must be before --until {until}")
    n_all = len(calls)
    data_period = _local_period(calls["occurred_at"], timezone)
    keep = pd.Series(True, index=calls.index)
    if start is not None:
        keep &= calls["occurred_at"] >= start
    if stop is not None:
        keep &= calls["occurred_at"] < stop
    return KpiSource(
        frame=calls.loc[keep].reset_index(drop=True),
        timezone=timezone,
        inputs=tuple(str(p) for p in inputs),
        files=tuple(files),
        rows_read=read,
        rows_accepted=accepted,
        step_times=steps,
        notes=tuple(notes),
        notes_zh=tuple(notes_zh),
        rows_before_window=n_all,
        sources=_sources(file_infos),
        precision=precision,
        data_period=data_period,
        frame_note=frame_note,
    )


def _num(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.{digits}f}"
    return f"{float(value):,.0f}" if isinstance(value, float) else f"{value:,}"


def _share(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{float(value):.1%}"  # type: ignore[arg-type]


def _group_label(dim: str, key: str, lang: str) -> str:
    if key == BLANK:
        return "（空）" if lang == "zh" else key
    if dim == "overall":
        return "全部" if lang == "zh" else "all"
    if dim == "hour":
        return f"{int(key):02d}:00–{int(key):02d}:59"
    if dim == "type_group" and lang == "zh":  # the taxonomy's Chinese name, with its key
        from xunfang.ingest.taxonomy import load_taxonomy

        label = load_taxonomy().label(key, "zh")
        return f"{label}（{key}）" if label != key else key
    return key


def _cells(row: pd.Series, lang: str) -> list[str]:
    return [
        _group_label(str(row["dimension"]), str(row["group"]), lang),
        STEP_LABEL[str(row["step"])][lang],
        _num(row["standard_s"]),
        _num(int(row["calls"])),
        _num(int(row["measured"])),
        _num(int(row["not_recorded"])),
        _num(int(row["too_long"])),
        _num(int(row["within"])),
        _share(row["share_within"]),
        _num(row["mean_s"]),
        _num(row["p90_s"]),
        _num(row["max_s"]),
    ]


def _local_period(times: pd.Series, timezone: str) -> tuple[str, str] | None:
    """First and last of ``times`` in ``timezone``, ISO 8601; None when empty."""
    if times.empty:
        return None
    local = pd.to_datetime(times, utc=True).dt.tz_convert(timezone)
    return (local.min().isoformat(), local.max().isoformat())


def _period(src: KpiSource) -> tuple[str, str] | None:
    return _local_period(src.frame["occurred_at"], src.timezone)


def summary(
    src: KpiSource,
    kpi: KpiHistory,
    *,
    standards_file: str,
    since: str | None,
    until: str | None,
    command: str = "",
) -> dict[str, Any]:
    """``kpi.json``: what the table was computed on, the definitions, and its rows."""
    return {
        "command": command,
        "xunfang": __version__,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "inputs": list(src.inputs),
        "files": list(src.files),
        "rows_read": src.rows_read,
        "rows_accepted": src.rows_accepted,
        "rows_rejected_by_ingest": src.rows_read - src.rows_accepted,
        "calls": kpi.calls,
        "calls_outside_window": src.rows_before_window - kpi.calls,
        "since": since,
        "until": until,
        "period": list(p) if (p := _period(src)) else None,
        "data_period": list(src.data_period) if src.data_period else None,
        "window_empty": kpi.calls == 0 and (since is not None or until is not None),
        "timezone": src.timezone,
        "standards_file": standards_file,
        "standards_s": kpi.standards_s,
        "definitions": {
            name: {"from": start, "to": end, "standard_s": kpi.standards_s[name]}
            for name, (start, end) in STEPS.items()
        },
        "received_at_is": "occurred_at (the call time, 报警时间)",
        "not_recorded_rule": "a call lacking either end of a step is not recorded for it: "
        "never measured, never within the standard",
        "p90": "nearest rank: sorted durations d, d[ceil(0.9 n) - 1]",
        "step_columns": src.step_times.get("columns", {}),
        "step_times_set_aside": src.step_times.get("set_aside", []),
        "recorded": kpi.recorded,
        "duration_cap_s": DURATION_CAP_S,
        "too_long_rule": "a duration longer than duration_cap_s is a wrong date, not a "
        "measurement: counted as too_long, kept out of measured, within, mean, p90 and max",
        "too_long": kpi.too_long,
        "time_precision": src.precision,
        "unit_column": kpi.unit_column,
        "unit_source": src.sources.get(kpi.unit_column or "", []),
        "has_priority": kpi.has_priority,
        "priority_source": src.sources.get("priority", []) if kpi.has_priority else [],
        "rows": kpi.table.to_dict(orient="records"),
    }


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.92em}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
th{background:#f4f4f4}.muted{color:#666;font-size:.9em}
"""

_TXT: dict[str, dict[str, str]] = {
    "title": {"en": "Call-handling KPIs from history", "zh": "接处警考核指标（历史数据）"},
    "lead": {
        "en": "{calls:,} calls received {period} ({tz}) · xunfang {version} · {generated}",
        "zh": "{period}（{tz}）接报的 {calls:,} 起警情 · xunfang {version} · {generated}",
    },
    "h_def": {"en": "Definitions and standards", "zh": "指标定义与标准"},
    "p_def": {
        "en": "The live KPIs' definitions (xunfang serve): within = duration <= standard "
        "(durations rounded to the millisecond); share within = within / measured. A call "
        "lacking either end of a step is counted as not recorded for that step, never as "
        "within the standard. p90: nearest rank (a duration that occurred).",
        "zh": "与实时考核（xunfang serve）定义相同：用时 <= 标准即达标（用时精确到毫秒）；"
        "达标率 = 达标 / 有记录。某环节起止时间缺一的警情计为“未记录”，不计为达标。"
        "P90 取最近秩（实际出现过的用时）。",
    },
    "step": {"en": "step", "zh": "环节"},
    "span": {"en": "from -> to", "zh": "起止"},
    "standard": {"en": "standard", "zh": "标准"},
    "columns": {"en": "columns read", "zh": "读取的列"},
    "none": {"en": "(not in the export)", "zh": "（导出中没有）"},
    "h_data": {"en": "What it was computed on", "zh": "计算所用数据"},
    "files": {"en": "Files: {files}", "zh": "文件：{files}"},
    "rows": {
        "en": "{read:,} rows read, {accepted:,} accepted by ingest ({rejected:,} rejected: "
        "see the ingest report); {calls:,} calls in the window{window}.",
        "zh": "读取 {read:,} 行，导入接受 {accepted:,} 行（拒绝 {rejected:,} 行：见导入报告）；"
        "统计区间内 {calls:,} 起警情{window}。",
    },
    "standards_file": {"en": "Standards: {path}", "zh": "考核标准文件：{path}"},
    "unit_col": {
        "en": "Units: {src} (column {col} of the table).",
        "zh": "单位：{src}（数据表的 {col} 列）。",
    },
    "no_unit": {"en": "No unit column: no table by unit.", "zh": "没有单位列：不按单位统计。"},
    "no_priority": {
        "en": "No priority column (警情级别 etc.): no table by priority.",
        "zh": "没有警情级别列：不按级别统计。",
    },
    "coarse": {
        "en": "{col}: {counts}. A duration between times recorded to the minute (or "
        "coarser) is only as exact as they are (up to 59 s off): weigh the within counts of "
        "the short standards (签收 30 s, 出警 60 s) accordingly.",
        "zh": "{col}：{counts}。以分钟（或更粗）记录的时间之间的用时误差可达 59 秒："
        "较短标准（签收 30 秒、出警 60 秒）的达标数须相应看待。",
    },
    "h_aside": {"en": "Step times set aside at ingest", "zh": "导入时置空的环节时间"},
    "p_aside": {
        "en": "These calls are kept; the step time is left empty and counts as not recorded.",
        "zh": "这些警情均保留；该环节时间置空，计为“未记录”。",
    },
    "too_long": {
        "en": "{step}: {n:,} calls longer than {hours:g} h{where}: not a measurement (a wrong "
        "date), kept out of within, mean, p90 and max.",
        "zh": "{step}：{n:,} 起警情用时超过 {hours:g} 小时{where}：不是考核测量（日期有误），"
        "不计入达标、平均、P90 和最长。",
    },
    "too_long_at": {"en": ", e.g. row {row} of {file}", "zh": "，例如 {file} 第 {row} 行"},
    "empty_window": {
        "en": "warning: the window [{since}, {until}) holds no calls: the data's calls run "
        "from {first} to {last} ({tz}); every figure is 0. Give --since/--until within that "
        "period.",
        "zh": "警告：统计区间 [{since}, {until}) 内没有警情：数据中的警情时间为 {first} 至 "
        "{last}（{tz}）；各项均为 0。请将 --since/--until 设在此期间内。",
    },
    "frame_kpi": {
        "en": "The frame does not change the KPIs: they are computed from the call and "
        "step times; the coordinates are only checked (a row without valid coordinates is "
        "rejected by ingest).",
        "zh": "坐标系不影响考核指标：指标只由报警和各环节时间算出；坐标只做检查（没有有效坐标"
        "的行被导入拒绝）。",
    },
    "not_recorded_all": {
        "en": "{step}: no call has both ends recorded ({span}): not recorded, not a result.",
        "zh": "{step}：没有警情同时记录了起止时间（{span}）：未记录，不是考核结果。",
    },
}


def _t(key: str, lang: str, **kw: object) -> str:
    return _TXT[key][lang].format(**kw)


def _clock(iso: str) -> str:
    """``2026-03-02T08:00:00+08:00`` -> ``2026-03-02 08:00:00``."""
    return iso[:19].replace("T", " ")


def empty_window_warning(info: dict[str, Any], lang: str) -> str | None:
    """The warning when ``--since``/``--until`` leave no call of the data: the window, and
    the data's first and last call time (``info``: :func:`summary`). None otherwise."""
    if not info.get("window_empty") or not info.get("data_period"):
        return None
    first, last = info["data_period"]
    return _t(
        "empty_window",
        lang,
        since=info["since"] or "…",
        until=info["until"] or "…",
        first=_clock(first),
        last=_clock(last),
        tz=info["timezone"],
    )


def frame_note_text(note: str | None, lang: str) -> str | None:
    """The ingest note on the coordinates' frame (:attr:`KpiSource.frame_note`) in
    ``lang``, followed by what it means for the KPIs (nothing: they use times only)."""
    if note is None:
        return None
    return f"{note_text(note, lang)} {_t('frame_kpi', lang)}"


def missing_steps_warning(step_columns: dict[str, Any], lang: str) -> str | None:
    """The terminal warning when the input has none of the step columns' times (every
    step not recorded): the columns missing, by the names ``cn110`` reads first, and how
    to name them. None when at least one step column was read."""
    if any(c in step_columns for c in STEP_COLUMNS):
        return None
    names = [f"{c} ({CN110_STEPS[c][0]})" for c in STEP_COLUMNS]
    if lang == "zh":
        return (
            "警告：输入中没有任何环节时间列（缺少 "
            + "、".join(CN110_STEPS[c][0] for c in STEP_COLUMNS)
            + "）：所有环节均计为“未记录”，没有考核结果；如列名不同，请在 --mapping 文件的 "
            "[layout.steps] 中指定"
        )
    return (
        "warning: the input has no step time columns (missing: "
        + ", ".join(names)
        + "): every step is not recorded, no KPI result; name the columns under "
        "[layout.steps] in a --mapping file if they differ"
    )


def too_long_notes(kpi: KpiHistory, lang: str) -> list[str]:
    """One line per step with durations longer than
    :data:`~xunfang.analyse.kpi_history.DURATION_CAP_S`, naming the first such call."""
    out = []
    for name, item in kpi.too_long.items():
        where = ""
        if item.get("row") is not None:
            where = _t("too_long_at", lang, row=item["row"], file=item.get("file") or "?")
        out.append(
            _t(
                "too_long",
                lang,
                step=STEP_LABEL[name][lang],
                n=item["calls"],
                hours=DURATION_CAP_S / 3600,
                where=where,
            )
        )
    return out


def render_kpi_html(info: dict[str, Any], kpi: KpiHistory, lang: str = "en") -> str:
    """``report.html``: the definitions and standards, the tables by dimension and what
    they were computed on, in ``lang`` (``en`` or ``zh``); text escaped."""
    e = html.escape
    period = info["period"]
    span = f"{period[0][:16]} – {period[1][:16]}".replace("T", " ") if period else "—"
    parts = [
        f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        f'<meta charset="utf-8"><title>{e(_t("title", lang))}</title>'
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(_t('title', lang))}</h1>",
        '<p class="muted">'
        + e(
            _t(
                "lead",
                lang,
                calls=info["calls"],
                period=span,
                tz=info["timezone"],
                version=__version__,
                generated=info["generated_at"],
            )
        )
        + "</p>",
    ]
    if (empty := empty_window_warning(info, lang)) is not None:
        parts.append(f"<p><strong>{e(empty)}</strong></p>")
    if info.get("command"):
        parts.append(f'<p class="muted"><code>{e(info["command"])}</code></p>')
    parts.append(f"<h2>{e(_t('h_def', lang))}</h2><p>{e(_t('p_def', lang))}</p>")
    parts.append(
        "<table><tr>"
        + "".join(f"<th>{e(_t(k, lang))}</th>" for k in ("step", "span", "standard", "columns"))
        + "</tr>"
    )
    cols = info["step_columns"]
    for name, (start, end) in STEPS.items():
        read = [", ".join(cols.get(c, [])) for c in (start, end)]
        shown = " / ".join(r or _t("none", lang) for r in read)
        parts.append(
            f"<tr><td>{e(STEP_LABEL[name][lang])}</td><td>{e(STEP_SPAN[name][lang])}</td>"
            f"<td>{kpi.standards_s[name]:g} s</td><td>{e(shown)}</td></tr>"
        )
    parts.append("</table>")
    for name in STEPS:
        if kpi.recorded[name] == 0:
            parts.append(
                "<p>"
                + e(
                    _t(
                        "not_recorded_all",
                        lang,
                        step=STEP_LABEL[name][lang],
                        span=STEP_SPAN[name][lang],
                    )
                )
                + "</p>"
            )
    parts += [f"<p>{e(n)}</p>" for n in too_long_notes(kpi, lang)]
    for dim, sub in kpi.table.groupby("dimension", sort=False):
        parts.append(f"<h2>{e(DIMENSION_LABEL[str(dim)][lang])}</h2><table><tr>")
        parts.append("".join(f"<th>{e(h)}</th>" for h in HEADS[lang]) + "</tr>")
        for _, row in sub.iterrows():
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in _cells(row, lang)) + "</tr>")
        parts.append("</table>")
    aside = info["notes_zh"] if lang == "zh" else info["notes_en"]
    if aside:
        parts.append(f"<h2>{e(_t('h_aside', lang))}</h2><p>{e(_t('p_aside', lang))}</p><ul>")
        parts += [f"<li>{e(n)}</li>" for n in aside]
        parts.append("</ul>")
    window = ""
    if info["since"] or info["until"]:
        window = f" [{info['since'] or '…'}, {info['until'] or '…'})"
    parts += [
        f"<h2>{e(_t('h_data', lang))}</h2><ul>",
        f"<li>{e(_t('files', lang, files=', '.join(info['files'])))}</li>",
        "<li>"
        + e(
            _t(
                "rows",
                lang,
                read=info["rows_read"],
                accepted=info["rows_accepted"],
                rejected=info["rows_rejected_by_ingest"],
                calls=info["calls"],
                window=window,
            )
        )
        + "</li>",
        f"<li>{e(_t('standards_file', lang, path=info['standards_file']))}</li>",
    ]
    if (frame_said := frame_note_text(info.get("frame_note"), lang)) is not None:
        parts.append(f"<li>{e(frame_said)}</li>")
    parts += [
        "<li>"
        + e(
            _t("unit_col", lang, col=kpi.unit_column, src=", ".join(info["unit_source"]) or "?")
            if kpi.unit_column
            else _t("no_unit", lang)
        )
        + "</li>",
    ]
    if not kpi.has_priority:
        parts.append(f"<li>{e(_t('no_priority', lang))}</li>")
    sources = {**info["step_columns"]}
    for col, counts in info["time_precision"].items():
        coarse = {k: v for k, v in counts.items() if k != "second" and v}
        if coarse:
            words = ", ".join(f"{v:,} {k}" for k, v in coarse.items())
            name = "/".join(sources.get(col, [col]))
            parts.append(f"<li>{e(_t('coarse', lang, col=name, counts=words))}</li>")
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def write_kpi(out: Path, info: dict[str, Any], kpi: KpiHistory, lang: str = "en") -> None:
    """``kpi.csv`` (UTF-8 with BOM), ``kpi.json`` and ``report.html`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "kpi.csv", kpi.table.to_csv(index=False))
    write_atomic(out / "kpi.json", strict_json.dumps(info, indent=2, ensure_ascii=False))
    write_atomic(out / "report.html", render_kpi_html(info, kpi, lang))


def print_kpi(kpi: KpiHistory, lang: str = "en") -> None:
    """The overall rows on the console."""
    table = Table(title=DIMENSION_LABEL["overall"][lang], header_style="bold")
    for h in HEADS[lang][1:]:
        table.add_column(h, justify="right")
    for _, row in kpi.table[kpi.table["dimension"] == "overall"].iterrows():
        table.add_row(*_cells(row, lang)[1:])
    _out.print(table)


def _command() -> str:
    return "xunfang " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@writes_output_folder
def kpi_cmd(
    incidents: Annotated[
        list[Path],
        typer.Option(
            "--incidents",
            help="A 110 export (CSV, Excel) or a folder written by `xunfang ingest`; "
            "repeat for several.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/kpi"),
    profile: Annotated[
        str, typer.Option(help=f"Column profile of raw files: {', '.join(sorted(PROFILES))}.")
    ] = "cn110",
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="TOML mapping of a generic source (replaces --profile)."),
    ] = None,
    frame: Annotated[
        str | None, typer.Option(help="Frame of the lon/lat columns: wgs84, gcj02 or bd09.")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding (default: UTF-8 or GB18030 as the bytes decide)."),
    ] = None,
    bad_bytes: Annotated[
        str, typer.Option("--bad-bytes", help="refuse or reject-row, as in `xunfang ingest`.")
    ] = "refuse",
    since: Annotated[
        str | None,
        typer.Option(help="First day (or time) of calls counted, local: YYYY-MM-DD."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Calls before this day (or time), local, are counted: YYYY-MM-DD."),
    ] = None,
    standards: Annotated[
        Path | None,
        typer.Option(
            help="TOML of the time standards (default: $XUNFANG_KPI_STANDARDS, else the "
            "packaged kpi_standards.toml, as `xunfang serve`)."
        ),
    ] = None,
    lang: LangOpt = "en",
) -> None:
    """签收/出警/到场/反馈 KPIs of a call history: per step calls measured, within the
    standard, mean, p90 and max seconds, overall and by type group, priority, handling unit
    and hour (kpi.csv, kpi.json, report.html)."""
    check_lang_option(lang)
    try:
        if frame is not None and frame.lower().replace("-", "") not in FRAMES:
            raise ValidationError(f"--frame must be one of {', '.join(FRAMES)}, got {frame!r}")
        if bad_bytes not in BAD_BYTES:
            raise ValidationError(f"--bad-bytes must be one of {', '.join(BAD_BYTES)}")
        env = os.environ.get("XUNFANG_KPI_STANDARDS")
        std_path = standards or (Path(env) if env else None)
        std = load_standards(std_path)
        src = load_history(
            incidents,
            profile=profile,
            mapping=mapping,
            frame=frame.lower().replace("-", "") if frame else None,
            encoding=encoding,
            bad_bytes=bad_bytes,
            since=since,
            until=until,
        )
        kpi = kpi_history(src.frame, std.steps_s(), src.timezone)
        info = summary(
            src,
            kpi,
            standards_file=str(std_path or PACKAGE_DATA / DEFAULT_STANDARDS),
            since=since,
            until=until,
            command=_command(),
        )
        info["notes_en"], info["notes_zh"] = list(src.notes), list(src.notes_zh)
        info["frame_note"] = src.frame_note
        write_kpi(out, info, kpi, lang)
    except (XunfangError, OSError, ValueError) as exc:
        raise fail(exc, lang, ingest_options=True) from exc
    if (frame_said := frame_note_text(src.frame_note, lang)) is not None:
        _out.print(frame_said, markup=False, style="yellow")
    print_kpi(kpi, lang)
    if (empty := empty_window_warning(info, lang)) is not None:
        _out.print(empty, markup=False, style="yellow")
    missing = missing_steps_warning(info["step_columns"], lang)
    if missing is not None:
        _out.print(missing, markup=False, style="yellow")
    for note in too_long_notes(kpi, lang):
        _out.print("  " + note, markup=False)
    for note in src.notes_zh if lang == "zh" else src.notes:
        _out.print("  " + note, markup=False)
    _out.print(
        f"已写出 {out}/kpi.csv、kpi.json、report.html。"
        if lang == "zh"
        else f"Wrote {out}/kpi.csv, kpi.json, report.html."
    )
