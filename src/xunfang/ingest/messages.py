"""Words of ingest's own output (terminal summary, rejection reasons) in English and Chinese.

The machine-readable codes (``missing_coordinates``, ...) stay the same in every language;
these are their display texts. ``--lang zh`` picks the Chinese ones.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = [
    "LANGS",
    "column_text",
    "expected_text",
    "reason_text",
    "rejection_summary_text",
    "text",
]

LANGS = ("en", "zh")

_REASONS: dict[str, dict[str, str]] = {
    "en": {
        "field_count": "more or fewer fields than the header (row not read)",
        "undecodable": "bytes not valid in the file's encoding (row not read)",
        "missing_coordinates": "no coordinates",
        "invalid_coordinates": "coordinates that are not numbers or out of range",
        "swapped_coordinates": "longitude and latitude look swapped",
        "unparseable_time": "time in no listed format",
        "implausible_time": "time too early to be real (a placeholder?)",
        "outside_area": "outside the area",
        "future_time": "time in the future",
        "duplicate_id": "id already used by an earlier row",
        "duplicate_id_conflict": "id used by an earlier row with another time or place",
    },
    "zh": {
        "field_count": "字段数与表头不一致（该行未读取）",
        "undecodable": "含有不符合文件编码的字节（该行未读取）",
        "missing_coordinates": "缺少坐标",
        "invalid_coordinates": "坐标不是数字或超出范围",
        "swapped_coordinates": "经度和纬度疑似填反",
        "unparseable_time": "时间格式无法识别",
        "implausible_time": "时间早得不合理（疑似占位值）",
        "outside_area": "位于区域之外",
        "future_time": "时间晚于当前时间",
        "duplicate_id": "编号与前面的行重复",
        "duplicate_id_conflict": "编号与前面的行重复，但时间或地点不同",
    },
}

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Ingest report",
        "rows": "rows",
        "files": "files",
        "rows_read": "rows read",
        "accepted": "accepted",
        "rejected": "rejected",
        "unmapped": "type not in taxonomy (kept as 'other')",
        "ambiguous": "local time at a clock change (kept)",
        "piled": "rows piled on one point (left out of hotspots)",
        "piled_kept": "rows piled on one point (kept: --keep-piled)",
        "pile_at": "{rows:,} rows ({share:.1%}) on one point: {lon:.6f}, {lat:.6f}",
        "masked": "kept only masked: {cols}",
        "example": "e.g. {file} row {row}, field {field!r}: {value!r}; expected {expected}",
        "unmapped_example": (
            "type not in taxonomy: {file} row {row}, field {field!r}: {value!r} ({rows:,} "
            "row(s)); expected {expected}"
        ),
        "done": "{n:,} incidents in {s:.1f} s ({crs}, {tz}) -> {path}",
        "none": "no usable rows: rejected.csv and ingest_report.json say why -> {path}",
        "precision": "time precision",
        "step_rows": "step time read",
        "step_aside": "step time left empty",
        "dropped": "column(s) {cols} recognised and not read: free text often names the caller",
        "alternate_unread": (
            "column(s) {cols} not read: they name the same field as {read}, which was read "
            "(rename or remove the one you do not want, or name it in a --mapping file)"
        ),
        "utf8_lines": "line(s) {lines} are UTF-8 in a GB18030 file: read as UTF-8",
        "gb18030_lines": "line(s) {lines} are GB18030 in a UTF-8 file: read as GB18030",
        "folder_left_out": (
            "folder {folder}: read its {n} incident file(s) in name order; {k} other "
            "file(s) not read: {names}"
        ),
        "reading": "reading {n} file(s)",
        "mojibake": (
            "{n} of {of} text cells with non-ASCII characters look decoded in the wrong "
            "encoding (e.g. {value!r}, read as {enc}): check --encoding (gb18030 for a "
            "Chinese export, or leave it out to detect it)"
        ),
        "mostly_other": (
            "{n:,} of {of:,} accepted rows ({share:.0%}) are of no known type (group "
            "'other'): check the type column, --encoding and --taxonomy"
        ),
        "lost_digits": (
            "{n} cell(s) of column {col!r} hold a number longer than Excel's 15 significant "
            "digits (row(s) {rows}; e.g. {value}): the workbook lost their last digits. "
            "Format the column as text where the file is made, or send a CSV"
        ),
        "excel_serial": (
            "{n} cell(s) of time column {col!r} held an Excel serial date (a number such as "
            "45370.5, a date cell formatted as a number; row(s) {rows}): read as the date "
            "and time it stands for"
        ),
        "no_id": "rows without an id (given FILE:ROW)",
        "no_id_note": (
            "{file}: {n} row(s) had no {col}: each was given the id {file}:ROW, its file and "
            "row (row(s) {rows})"
        ),
        "lost_id_digits": (
            "{n} id(s) of column {col!r} lost their last digits in Excel: those rows are "
            "identified by file and row instead, and not checked for duplicates"
        ),
        "span_outliers": (
            "{n} accepted row(s) lie more than {days} days from the median time "
            "(e.g. {file} row {row}: {time}); the period {start} - {end} looks wrong"
        ),
        "cleaned": "control or bidi characters removed from text",
        "truncated": "text longer than the cap, cut",
        "truncated_note": (
            "{file}: {n} cell(s) of field {field!r} longer than {max:,} characters cut to "
            "{max:,} (row(s) {rows}; the longest {longest:,})"
        ),
        "mostly_outside": (
            "{n} of {of} located rows ({share:.0%}) fall outside {area}: the area was read in "
            "frame {frame}, the incidents in {inc}; if the boundary file is in another frame, "
            "give it with --boundary-frame, if the incidents are, with --frame"
        ),
        "second": "second",
        "minute": "minute",
        "hour": "hour",
        "day": "day",
        "step_before": (
            "{file}: {field} before {other}: {n} rows, e.g. row {row} (the step time is left "
            "empty, the call kept)"
        ),
        "step_unreadable": (
            "{file}: {field} in no listed format: {n} rows, e.g. row {row}: {value!r} (the "
            "step time is left empty, the call kept)"
        ),
        "step_future": (
            "{file}: {field} later than the ingest time: {n} rows, e.g. row {row}: {value!r} "
            "(the step time is left empty, the call kept)"
        ),
    },
    "zh": {
        "title": "导入报告",
        "rows": "行数",
        "files": "文件数",
        "rows_read": "读取行数",
        "accepted": "接受",
        "rejected": "拒绝",
        "unmapped": "类别不在分类表中（保留为“其他”）",
        "ambiguous": "夏令时切换时刻的本地时间（保留）",
        "piled": "堆积在同一点的行（热点分析中排除）",
        "piled_kept": "堆积在同一点的行（已保留：--keep-piled）",
        "pile_at": "{rows:,} 行（{share:.1%}）位于同一点：{lon:.6f}, {lat:.6f}",
        "masked": "仅保留脱敏值：{cols}",
        "example": "例：{file} 第 {row} 行，字段 {field!r}：{value!r}；应为 {expected}",
        "unmapped_example": (
            "类别不在分类表中：{file} 第 {row} 行，字段 {field!r}：{value!r}（共 {rows:,} 行）；"
            "应为 {expected}"
        ),
        "done": "{n:,} 条警情，用时 {s:.1f} 秒（{crs}，{tz}）-> {path}",
        "none": "没有可用的行：原因见 rejected.csv 和 ingest_report.json -> {path}",
        "precision": "时间精度",
        "step_rows": "读取的环节时间",
        "step_aside": "置空的环节时间",
        "dropped": "已识别但不读取的列：{cols}（自由文本常含报警人姓名）",
        "alternate_unread": (
            "未读取的列：{cols}：与已读取的 {read} 是同一字段（请重命名或删除不要的一列，"
            "或在 --mapping 文件中指定）"
        ),
        "utf8_lines": "GB18030 文件中第 {lines} 行为 UTF-8 编码：已按 UTF-8 读取",
        "gb18030_lines": "UTF-8 文件中第 {lines} 行为 GB18030 编码：已按 GB18030 读取",
        "folder_left_out": (
            "文件夹 {folder}：已按文件名顺序读取其中 {n} 个警情文件；另有 {k} 个文件未读取：{names}"
        ),
        "reading": "正在读取 {n} 个文件",
        "mojibake": (
            "{of} 个含非 ASCII 字符的文本单元格中有 {n} 个疑似按错误编码解码（例：{value!r}，"
            "按 {enc} 读取）：请检查 --encoding（中文导出文件用 gb18030，或不指定以自动识别）"
        ),
        "mostly_other": (
            "{of:,} 条已接受的行中有 {n:,} 条（{share:.0%}）类别无法识别（归入“其他”）："
            "请检查类别列、--encoding 和 --taxonomy"
        ),
        "lost_digits": (
            "列 {col!r} 有 {n} 个单元格是超过 Excel 15 位有效数字的数值（第 {rows} 行；"
            "例：{value}）：工作簿已丢失其末尾数字。请在导出处把该列设为文本格式，或改用 CSV"
        ),
        "excel_serial": (
            "时间列 {col!r} 有 {n} 个单元格是 Excel 日期序列号（如 45370.5，即设成数字格式的日期；"
            "第 {rows} 行）：已按其代表的日期和时间读取"
        ),
        "no_id": "无编号的行（以“文件名:行号”为编号）",
        "no_id_note": ("{file}：{n} 行没有{col}：已以“{file}:行号”作为其编号（第 {rows} 行）"),
        "lost_id_digits": (
            "列 {col!r} 有 {n} 个编号在 Excel 中丢失了末尾数字：这些行改用文件名和行号标识，"
            "不做重复检查"
        ),
        "span_outliers": (
            "{n} 条已接受的行与时间中位数相差超过 {days} 天"
            "（例：{file} 第 {row} 行：{time}）；时间范围 {start} - {end} 可能有误"
        ),
        "cleaned": "文本中已删除控制字符或双向控制字符",
        "truncated": "超长文本已截断",
        "truncated_note": (
            "{file}：字段 {field!r} 有 {n} 个单元格超过 {max:,} 个字符，已截断为 {max:,} 个"
            "（第 {rows} 行；最长 {longest:,} 个字符）"
        ),
        "mostly_outside": (
            "{of} 条有坐标的行中 {n} 条（{share:.0%}）位于 {area} 之外：区域按 {frame} 坐标系读取，"
            "警情按 {inc} 读取；如边界文件是其他坐标系，请用 --boundary-frame 指定，"
            "如警情是其他坐标系，请用 --frame 指定"
        ),
        "step_before": (
            "{file}：{field} 早于 {other}：{n} 行，例如第 {row} 行（该环节时间置空，警情保留）"
        ),
        "step_unreadable": (
            "{file}：{field} 时间格式无法识别：{n} 行，例如第 {row} 行：{value!r}（该环节时间置空，"
            "警情保留）"
        ),
        "step_future": (
            "{file}：{field} 晚于导入时间：{n} 行，例如第 {row} 行：{value!r}（该环节时间置空，"
            "警情保留）"
        ),
        "second": "秒",
        "minute": "分",
        "hour": "小时",
        "day": "日",
    },
}


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"language {lang!r} is not one of {', '.join(LANGS)}")
    return lang


_COUNTED: dict[str, dict[str, str]] = {
    "en": {
        "field_count": (
            "{row_fields} fields where the header has {header_fields} (row not read: its "
            "cells cannot be matched to the columns)"
        ),
    },
    "zh": {
        "field_count": (
            "该行有 {row_fields} 个字段，表头有 {header_fields} 个（该行未读取：无法确定各单元格"
            "对应的列）"
        ),
    },
}


def reason_text(
    reason: str,
    lang: str = "en",
    *,
    row_fields: object = None,
    header_fields: object = None,
) -> str:
    """Display text of a rejection reason code (the code itself when unknown).

    ``row_fields`` and ``header_fields`` (a ``field_count`` row's field counts; None or NA
    when not known) give that reason's text with both counts.
    """
    counted = _COUNTED[_lang(lang)].get(reason)
    if counted is not None and not (pd.isna(row_fields) or pd.isna(header_fields)):
        return counted.format(row_fields=row_fields, header_fields=header_fields)
    return _REASONS[_lang(lang)].get(reason, reason)


def text(key: str, lang: str = "en", **fields: object) -> str:
    """A message of ingest's output in ``lang``, formatted with ``fields``.

    Raises
    ------
    ValueError
        If ``lang`` is not ``en`` or ``zh``.
    KeyError
        If ``key`` is not a message.
    """
    if _lang(lang) == "zh":
        # row/line lists end "... and 20 more" (readers._line_list): "第 2, 3 及另外 20 行"
        fields = {
            k: _AND_MORE.sub(r" 及另外 \1", v) if isinstance(v, str) else v
            for k, v in fields.items()
        }
    return _TEXT[_lang(lang)][key].format(**fields)


_AND_MORE = re.compile(r" and (\d+) more$")


_EXPECTED_ZH: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^degrees \((.+?)\), lon -180\.\.180, lat -90\.\.90$"),
        "经纬度（{0}），经度 -180..180，纬度 -90..90",
    ),
    (
        re.compile(
            r"^(.+) in that order: the two columns look swapped \((.+) would be a valid "
            r"position\)$",
            re.DOTALL,
        ),
        "按 {0} 的顺序填写：两列疑似填反（对调后 {1} 是有效位置）",
    ),
    (re.compile(r"^numbers in (.+)$"), "{0} 中的数值"),
    (re.compile(r"^a time not after now \(UTC\)$"), "不晚于当前时间（UTC）的时间"),
    (
        re.compile(
            r"^a time after (\S+ \S+) UTC \(an earlier time is a placeholder such as "
            r"1900-01-01, not when the incident happened\)$"
        ),
        "晚于 {0}（UTC）的时间（更早的时间是占位值，如 1900-01-01，而不是警情发生的时间）",
    ),
    (re.compile(r"^a position inside the area$"), "位于区域内的位置"),
    (
        re.compile(
            r"^bytes valid in the file's encoding \(the row was not read; --bad-bytes "
            r"reject-row\)$"
        ),
        "符合文件编码的字节（该行未读取；--bad-bytes reject-row）",
    ),
    (
        re.compile(
            r"^(\d+) fields, as many as the header \(an unquoted separator in a cell shifts "
            r"every later cell; the row was not read\)$"
        ),
        "{0} 个字段，与表头相同（单元格中未加引号的分隔符会使其后各列错位；该行未读取）",
    ),
    (
        re.compile(r"^a position inside (\S+)\.\.(\S+) E, (\S+)\.\.(\S+) N$"),
        "东经 {0}..{1}、北纬 {2}..{3} 范围内的位置",
    ),
    (re.compile(r"^a position inside (.+)$", re.DOTALL), "位于 {0} 内的位置"),
    (re.compile(r"^a time not after (.+) \(UTC\)$"), "不晚于 {0}（UTC）的时间"),
    (
        re.compile(
            r"^an id not used by an earlier row \(an earlier row has this id with another "
            r"time or position\)$"
        ),
        "前面的行未使用过的编号（前面有一行使用此编号，但时间或位置不同）",
    ),
    (re.compile(r"^an id not used by an earlier row$"), "前面的行未使用过的编号"),
    (
        re.compile(r"^a type the taxonomy maps \(kept as 'other'; add it to a --taxonomy file\)$"),
        "分类表中有的类别（已保留为“其他”；可在 --taxonomy 文件中添加）",
    ),
)

_ZERO_ZERO = re.compile(
    r"^a position other than 0, 0 \((.+)\): 0, 0 is read as no position, the placeholder "
    r"many exports write$",
    re.DOTALL,
)

_COLUMNS_ZH = {
    "caller_name": "报警人姓名",
    "caller_phone": "联系电话",
    # the blamed "field" of a row that was not read (xunfang.ingest.incidents)
    "(field count)": "（字段数）",
    "(encoding)": "（编码）",
}


def expected_text(expected: str, lang: str = "en") -> str:
    """What a rejected row's field should have held (the ``expected`` of an example in
    ``ingest_report.json``, kept in English there) in ``lang``; a list of time formats
    introduced in ``lang``, any other form as it is."""
    if _lang(lang) == "en":
        return expected
    zero = _ZERO_ZERO.match(expected)
    if zero:  # the range inside is itself a message
        return (
            f"0, 0 以外的位置（{expected_text(zero.group(1), lang)}）：0, 0 视为没有位置，"
            "是许多导出文件写入的占位值"
        )
    for pattern, zh in _EXPECTED_ZH:
        m = pattern.match(expected)
        if m:
            return zh.format(*m.groups())
    if expected.startswith("%"):  # the time formats a column was read in
        return "以下时间格式之一：" + expected
    return expected


_SUMMARY_PART = re.compile(r"(\d+) rows?: (.+?)(?: in field (.+?))? \(([^()]+)\)", re.DOTALL)
_ROWS = re.compile(r"(?:^|, )(?:(\S.*?) )?rows? ([\d, -]+?)(?: and (\d+) more)?(?=, \D|$)")


def _rows_zh(where: str) -> str:
    """``rows 2-13`` -> ``第 2-13 行``; ``a.csv rows 2-5, b.csv row 7`` -> ``a.csv 第 2-5
    行，b.csv 第 7 行``; ``... and 4 more`` -> ``... 及另外 4 行``."""
    parts = []
    for m in _ROWS.finditer(where):
        file, rows, more = m.groups()
        parts.append(
            (f"{file} " if file else "") + f"第 {rows} 行" + (f" 及另外 {more} 行" if more else "")
        )
    return "，".join(parts) if parts else where


def rejection_summary_text(summary: str, lang: str = "en") -> str:
    """The rejected rows in words (:func:`xunfang.ingest.incidents.rejection_summary`, as
    raised: English) in ``lang``: ``12 rows: time in no listed format in field 报警时间 (rows
    2-13)`` -> ``12 行时间格式无法识别（字段 报警时间，第 2-13 行）``; a part it cannot read
    is kept as it is."""
    if _lang(lang) == "en":
        return summary
    words = {_REASONS["en"][k]: _REASONS["zh"][k] for k in _REASONS["en"]}
    out = []
    for part in summary.split("; "):
        m = _SUMMARY_PART.fullmatch(part)
        if m is None or m.group(2) not in words:
            out.append(part)
            continue
        n, reason, fld, where = m.groups()
        field = f"字段 {column_text(fld, lang)}，" if fld else ""
        out.append(f"{n} 行{words[reason]}（{field}{_rows_zh(where)}）")
    return "；".join(out)


def column_text(column: str, lang: str = "en") -> str:
    """A column of the incident table named in ``lang`` (``caller_phone`` -> ``联系电话``);
    other columns as they are."""
    return _COLUMNS_ZH.get(column, column) if _lang(lang) == "zh" else column
