"""Write a forecast evaluation to a folder: per-window CSV, summary CSV, JSON and a
self-contained HTML report with charts (plotly.js embedded once, opens offline)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape as html_escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from xunfang import __version__, strict_json
from xunfang.analyse.evaluate import EvaluationRun
from xunfang.ingest.incidents import IngestReport
from xunfang.serve._common import LANGS, write_atomic

OPENCP_SEPT2014: dict[str, dict[float, float]] = {
    "BURGLARY": {0.01: 0.117, 0.05: 0.359, 0.20: 0.753},
    "all": {0.01: 0.159, 0.05: 0.421, 0.20: 0.840},
}
"""Mean daily hit rate of open_cp's best predictor at each coverage on the September 2014
example-city split (test days 2014-09-23..29; issue 3, item 5)."""

OPENCP_PROSPECTIVE_S_PER_DAY = 15.0
"""open_cp's prospective predictor, seconds per day for burglary (issue 3, item 5)."""

_PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
    "#ad494a",
]


_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Hotspot forecast evaluation", "zh": "热点预测评估"},
    "title_windows": {
        "en": "Hotspot forecast evaluation: {window} windows",
        "zh": "热点预测评估：{window}时段",
    },
    "all_types": {"en": "all types", "zh": "全部类别"},
    "lead": {
        "en": "{types} · {area} ({km2:.1f} km², {cells:,} cells of {cell_m:g} m, {crs}) · "
        "{n} {window} windows {first} – {last} · {in_area}{selected:,} incidents of these "
        "types of {input:,} accepted (the whole input, all dates) · xunfang {version} · "
        "{generated}",
        "zh": "{types} · {area}（{km2:.1f} 平方公里，{cells:,} 个 {cell_m:g} 米网格，{crs}）· "
        "{n} 个{window}时段 {first} – {last} · {in_area}所选类别警情 {selected:,} 起（接受 "
        "{input:,} 起，全部输入、全部日期）· xunfang {version} · {generated}",
    },
    "command": {"en": "Command", "zh": "命令"},
    "h_reference": {
        "en": "Against the reference (open_cp, same split)",
        "zh": "与参考结果对比（open_cp，相同划分）",
    },
    "p_reference": {
        "en": "Mean daily hit rate; the reference row is open_cp's best predictor at each "
        "coverage.",
        "zh": "日均命中率；参考行为 open_cp 在各覆盖率下的最佳预测器。",
    },
    "h_hit": {"en": "Hit rate", "zh": "命中率"},
    "p_hit": {
        "en": "Share of the window's incidents inside the flagged cells; mean over windows.",
        "zh": "时段内警情落在标记网格内的比例；各时段平均。",
    },
    "h_spread": {"en": "Spread over windows", "zh": "各时段间的离散程度"},
    "p_spread": {
        "en": "Mean hit rate with its 95 % Student-t interval over the {n} windows (and the "
        "standard deviation over windows), unshifted grid.",
        "zh": "{n} 个时段的平均命中率及其 95% Student-t 置信区间（以及各时段间的标准差），"
        "未平移网格。",
    },
    "h_paired": {
        "en": "Against naive counts (<code>{baseline}</code>), window by window",
        "zh": "逐时段与简单计数（<code>{baseline}</code>）对比",
    },
    "p_paired": {
        "en": "Mean per-window difference in hit rate, its 95 % t interval, the paired t-test "
        "and the Wilcoxon signed-rank test (two-sided); <em>better</em>/<em>worse</em> need "
        "both tests below 0.05. <em>too few incidents to tell apart</em>: twice the noise "
        "that the windows' incident counts alone produce (binomial) exceeds 10 % of naive "
        "counts' hit rate, so a difference of that size could be noise. <em>too few windows "
        "that differ to test</em>: the Wilcoxon test leaves out the windows where the two "
        "hit rates are equal; with fewer than 6 windows that differ it cannot give "
        "p < 0.05 whatever the hit rates (its smallest p is 2 / 2<sup>n</sup>: 0.125 for 4 "
        "windows), so no verdict is given.",
        "zh": "每时段命中率之差的均值、其 95% t 置信区间、配对 t 检验和 Wilcoxon 符号秩检验"
        "（双侧）；<em>更好</em>/<em>更差</em>要求两项检验的 p 值都低于 0.05。"
        "<em>警情太少，无法区分</em>：仅由各时段警情数产生的噪声（二项分布）的两倍超过简单计数"
        "命中率的 10%，这样大小的差异可能只是噪声。<em>命中率不同的时段太少，无法检验</em>："
        "Wilcoxon 检验不计两种方法命中率相同的时段；命中率不同的时段少于 6 个时，"
        "无论命中率如何，Wilcoxon 检验都得不到 p < 0.05（其最小 p 值为 2 / 2<sup>n</sup>，"
        "4 个时段时为 0.125），因此不下结论。",
    },
    "h_selection": {"en": "Automatic selection", "zh": "自动选择"},
    "p_selection": {
        "en": "For each test window the method and its parameters were chosen by rolling-origin "
        "validation on the windows before it (never on the window itself): the simplest "
        "candidate whose mean validation score (mean hit rate at 1, 5 and 20 %) is within one "
        "standard error of the best (Hastie, Tibshirani &amp; Friedman, ESL 7.10; standard "
        "error of the paired per-window differences). Candidates are listed simplest first. "
        "The preferred candidate (<code>gbm</code> by default; <code>auto:prefer=none</code>: "
        "none) replaces that choice when it is itself within one standard error and its mean "
        "score is no lower: on days never chosen on, the learned forecaster was the more "
        "accurate. All validation scores: <code>selection.csv</code>, "
        "<code>selection_scores.csv</code>, <code>selection.json</code>.",
        "zh": "每个测试时段的方法及其参数，都由该时段之前各时段上的滚动起点验证选出（从不使用该"
        "时段本身）：选取平均验证得分（1%、5% 和 20% 覆盖率下的平均命中率）与最佳者相差不超过"
        "一个标准误的最简单候选（Hastie、Tibshirani 与 Friedman，ESL 7.10；标准误取自逐时段"
        "配对差值）。候选按由简到繁排列。若优先候选（默认 <code>gbm</code>；<code>auto:prefer=none"
        "</code> 表示不设优先）本身也在一个标准误之内且平均得分不低于该候选，则改选优先候选："
        "在未参与选择的日期上，学习型预测更准确。全部验证得分见 <code>selection.csv</code>、"
        "<code>selection_scores.csv</code>、<code>selection.json</code>。",
    },
    "h_pai_pei": {"en": "PAI and PEI", "zh": "PAI 与 PEI"},
    "h_pai": {"en": "PAI (mean)", "zh": "PAI（均值）"},
    "p_pai": {
        "en": "Hit rate divided by the share of the area flagged.",
        "zh": "命中率除以标记面积占比（预测精度指数）。",
    },
    "h_pei": {"en": "PEI (mean)", "zh": "PEI（均值）"},
    "p_pei": {
        "en": "Incidents captured divided by the most the same number of cells could have "
        "captured.",
        "zh": "捕获的警情数除以相同数量网格最多可能捕获的警情数（预测效率指数）。",
    },
    "h_daily": {"en": "Window by window", "zh": "逐时段"},
    "h_offset": {"en": "Grid-offset sensitivity", "zh": "网格偏移敏感性"},
    "p_offset": {
        "en": "The same run on the grid shifted by half a cell in x and y (mean hit rate).",
        "zh": "把网格在 x、y 方向各平移半个网格后重新计算（平均命中率）。",
    },
    "h_methods": {"en": "Methods and run time", "zh": "方法与运行时间"},
    "h_notes": {"en": "Notes", "zh": "说明"},
    "fig_hit": {"en": "Hit rate (mean, IQR over windows)", "zh": "命中率（均值，各时段四分位距）"},
    "fig_pai": {"en": "PAI (mean, IQR over windows)", "zh": "PAI（均值，各时段四分位距）"},
    "fig_daily": {
        "en": "Hit rate per window at {pct} of the area",
        "zh": "各时段命中率（标记 {pct} 面积）",
    },
    "axis_share": {"en": "share of the area flagged (%)", "zh": "标记面积占比（%）"},
    "hit_rate": {"en": "hit rate", "zh": "命中率"},
    "pai": {"en": "pai", "zh": "PAI"},
    "method": {"en": "method", "zh": "方法"},
    "offset": {"en": "offset {m:g} m", "zh": "偏移 {m:g} 米"},
    "difference": {"en": "difference", "zh": "差值"},
    "opencp_best": {"en": "open_cp best", "zh": "open_cp 最佳"},
    "timing": {"en": "fit + predict, s per window", "zh": "拟合+预测（每时段秒数）"},
    "coverage": {"en": "coverage", "zh": "覆盖率"},
    "windows": {"en": "windows", "zh": "时段数"},
    "windows_differ": {"en": "windows that differ", "zh": "命中率不同的时段数"},
    "events_per_window": {"en": "incidents / window", "zh": "每时段警情数"},
    "t_p": {"en": "t-test p", "zh": "t 检验 p 值"},
    "wilcoxon_p": {"en": "Wilcoxon p", "zh": "Wilcoxon p 值"},
    "noise_se": {"en": "count noise (se)", "zh": "计数噪声（标准误）"},
    "diff_ci": {"en": "difference [95 % CI]", "zh": "差值 [95% 置信区间]"},
    "verdict": {"en": "verdict", "zh": "结论"},
    "candidate": {"en": "candidate", "zh": "候选"},
    "group": {"en": "type group", "zh": "类别组"},
    "complexity": {"en": "complexity", "zh": "复杂度"},
    "chosen_windows": {"en": "chosen (windows)", "zh": "被选中（时段数）"},
    "best_windows": {"en": "best (windows)", "zh": "最佳（时段数）"},
    "within_1se": {"en": "within 1 SE (windows)", "zh": "在 1 个标准误内（时段数）"},
    "score_mean": {"en": "mean validation score", "zh": "平均验证得分"},
    "validation_s": {"en": "validation s (mean)", "zh": "验证用时（秒，均值）"},
    "note_ties": {
        "en": "Tie rule: cells whose risk equals the risk at the cut-off are chosen at random; "
        "hit rate, PAI and PEI are the exact expected values over that choice.",
        "zh": "并列规则：风险等于截断值的网格随机选取；"
        "命中率、PAI 和 PEI 是该随机选取下的精确期望值。",
    },
    "note_coverage": {
        "en": "Coverage k = floor(share x {n:,} active cells); the share of the area is over "
        "the active cells of the study area.",
        "zh": "覆盖网格数 k = floor(占比 × {n:,} 个有效网格)；面积占比按研究区域内的有效网格计算。",
    },
    "note_pai": {
        "en": "PAI = hit rate / share of area (Chainey et al. 2008); PEI = incidents captured "
        "/ the most any k cells could capture in that window (Hunt 2016, NIJ 2017). When a "
        "window has no more incidents than flagged cells, the best k cells capture all of them "
        "and PEI equals the hit rate.",
        "zh": "PAI = 命中率 / 面积占比（Chainey 等 2008）；PEI = 捕获的警情数 / 该时段任意 k 个"
        "网格最多能捕获的警情数（Hunt 2016，NIJ 2017）。当某时段的警情数不多于标记网格数时，"
        "最佳的 k 个网格能捕获全部警情，PEI 等于命中率。",
    },
    "note_rolling": {
        "en": "Rolling origin: each window is forecast from the incidents before its start "
        "(look-back {days} days); nothing after the window start is used.",
        "zh": "滚动起点：每个时段只用其开始之前的警情预测（回看 {days} 天）；"
        "不使用时段开始之后的任何数据。",
    },
    "all": {"en": "all", "zh": "全部"},
    "note_outside": {
        "en": "{n:,} test incidents fell outside the study area (offset {off:g} m): not scored.",
        "zh": "{n:,} 起测试警情位于研究区域之外（偏移 {off:g} 米）：不计分。",
    },
    "note_not_evaluated": {
        "en": "{method} not evaluated (the other methods are): {reason}",
        "zh": "{method} 未参与评估（其他方法照常评估）：{reason}",
    },
    "note_left_out": {
        "en": "{method}: scored on {n} of {total} test windows; not on {k} ({windows}), "
        "which it could not forecast: {reason}. Its means are over its own windows; the "
        "paired test against naive counts uses only the windows both scored.",
        "zh": "{method}：{total} 个测试时段中对 {n} 个计分；{k} 个时段（{windows}）无法预测，"
        "未计分：{reason}。其均值只按其自身计分的时段计算；与简单计数的配对检验只用两者都计分"
        "的时段。",
    },
    "note_pai_cells": {
        "en": "PAI {pct}: – (not computed): {pct} of the {n:,} active cells is less than one "
        "cell, so nothing is flagged at that coverage (its hit rate is 0 by construction); "
        "use a larger area or a smaller --cell-m.",
        "zh": "PAI {pct}：–（无法计算）：{n:,} 个有效网格的 {pct} 不足一个网格，该覆盖率下不标记"
        "任何网格（其命中率按定义为 0）；请用更大的区域或更小的 --cell-m。",
    },
    "note_pai_empty": {
        "en": "PAI {pct} of {method}: – (not computed): no scored window (none held a test "
        "incident in the area).",
        "zh": "{method} 的 PAI {pct}：–（无法计算）：没有可计分的时段（没有一个时段在区域内有测试"
        "警情）。",
    },
    "note_date_only": {
        "en": "{n:,} test incidents known only to the day were left out of the sub-day windows.",
        "zh": "{n:,} 起只精确到日期的测试警情未计入小于一天的时段。",
    },
}
"""The evaluation report's words in English and Chinese (``--lang``); the CSV and JSON
column names stay English in every language."""

WINDOW_ZH = {"day": "每日", "night": "夜间（22-06）", "week": "每周"}
"""The window kinds of ``--window`` in Chinese (an ``HH-HH`` window as it is)."""

VERDICT_ZH = {
    "better": "更好",
    "worse": "更差",
    "too few incidents to tell apart": "警情太少，无法区分",
    "no significant difference": "无显著差异",
    "the same in every window": "各时段完全相同",
}
"""The paired tests' fixed verdicts in Chinese (all of them: :func:`verdict_text`)."""

_TOO_FEW_WINDOWS = re.compile(
    r"too few windows that differ to test: (\d+) of (\d+) windows differ "
    r"\(needs ≥ (\d+) for p < (.+)\)"
)
""":data:`xunfang.analyse.evaluate.TOO_FEW_WINDOWS` as filled in."""


def verdict_text(verdict: str, lang: str = "en") -> str:
    """A paired test's verdict (``paired.csv``) in ``lang``.

    Examples
    --------
    >>> verdict_text(
    ...     "too few windows that differ to test: 5 of 14 windows differ "
    ...     "(needs ≥ 6 for p < 0.05)",
    ...     "zh",
    ... )
    '命中率不同的时段太少，无法检验：14 个时段中 5 个不同（p < 0.05 至少需要 6 个）'
    """
    if lang != "zh":
        return verdict
    m = _TOO_FEW_WINDOWS.fullmatch(verdict)
    if m:
        differ, windows, n, alpha = m.groups()
        return (
            f"命中率不同的时段太少，无法检验：{windows} 个时段中 {differ} 个不同"
            f"（p < {alpha} 至少需要 {n} 个）"
        )
    return VERDICT_ZH.get(verdict, verdict)


METHOD_ZH = {
    "naive": "简单计数：按网格统计过去警情数",
    "kde": "回顾性核密度估计（KDE）：过去警情的空间平滑",
    "prospective": "前瞻热点（Bowers 等 2004）：近期、邻近的警情权重更高",
    "prospective-continuous": "连续前瞻热点：在连续空间中按时间和距离衰减加权",
    "sepp": "自激点过程（ETAS/SEPP，Mohler 等 2011）：背景风险加上警情引发的近期重复风险",
    "gbm": "梯度提升树：由历史警情和场所图层（道路、派出所、学校）特征学习风险",
    "stack": "堆叠集成：多个方法的加权组合",
    "auto": "自动选择：按此前时段的验证得分选取方法",
}
"""What each forecast method is, in Chinese, by the name its spec starts with."""


_CONTEXT_MISSING_ZH = {
    "stations: the city names no stations file": "派出所：城市未给出派出所文件",
    "stations: the stations file holds no station": "派出所：派出所文件中没有派出所",
    "schools: the city names no schools file (give one to place_layers)": (
        "学校：城市未给出学校文件（请在 place_layers 中给出）"
    ),
    "roads: the city has no road network": "道路：城市没有路网",
    "major roads: no motorway/trunk/primary/secondary piece in the roads": (
        "主干道：路网中没有高速/快速/主干/次干道路"
    ),
    "junctions: no node of degree 3 or more in the roads": "路口：路网中没有三岔及以上的路口",
    "place layers: no study area of a city (give --area with --city, or --boundary FILE)": (
        "场所图层：没有城市的研究区（请给出 --area 和 --city，或 --boundary FILE）"
    ),
    "place layers: not built (--no-place; the default for the whole city)": (
        "场所图层：未构建（--no-place；全市范围时的默认设置）"
    ),
}


def context_note_text(note: str, lang: str = "en") -> str:
    """The sentence of what ``gbm``'s context held
    (:func:`xunfang.analyse.evaluate.study_contexts`) in ``lang``: the English note as
    it is, or its Chinese translation (a part not known here stays in English).

    Examples
    --------
    ``gbm context: type mix of 156 incidents of all types; place layers junctions, road_m;
    left out: roads: the city has no road network.`` under ``zh`` reads ``gbm 背景特征：156
    起各类警情的类型构成；场所图层 junctions、road_m；未使用：道路：城市没有路网。``
    """
    import re

    m = re.fullmatch(
        r"gbm context: type mix of ([\d,]+) incidents of all types; place layers (.*?)"
        r"(?:; left out: (.*))?\.",
        note,
        flags=re.S,
    )
    if lang != "zh" or m is None:
        return note
    layers = "、".join(p.strip() for p in m.group(2).split(",")) if m.group(2) != "none" else "无"
    out = f"gbm 背景特征：{m.group(1)} 起各类警情的类型构成；场所图层 {layers}"
    if m.group(3):
        parts = [_CONTEXT_MISSING_ZH.get(p.strip(), p.strip()) for p in m.group(3).split("; ")]
        out += "；未使用：" + "；".join(parts)
    return out + "。"


def text(key: str, lang: str = "en", **kw: Any) -> str:
    """The report's text ``key`` in ``lang`` with ``kw`` filled in.

    Raises
    ------
    KeyError
        If ``key`` is not in the catalogue or ``lang`` is not ``en`` or ``zh``.
    """
    return _TEXT[key][lang].format(**kw)


def window_text(window: str, lang: str = "en") -> str:
    """A ``--window`` kind in ``lang`` (``day`` -> ``每日``)."""
    return WINDOW_ZH.get(window, window) if lang == "zh" else window


AREA_ZH = {"bounding rectangle": "全部警情的外接矩形"}
"""The study areas the forecast names itself, in Chinese (without ``--area``: the bounding
rectangle of the incidents, :func:`xunfang.analyse.evaluate.study_grid`); an area's
own name as it is."""


def area_text(area: str, lang: str = "en") -> str:
    """A forecast's study-area name in ``lang`` (``bounding rectangle`` -> ``全部警情的外接
    矩形``; ``district:1`` as it is)."""
    return AREA_ZH.get(area, area) if lang == "zh" else area


def window_label_text(label: str, lang: str = "en") -> str:
    """A window's label (``2026-12-03 day``: its date and ``--window`` kind) in ``lang``
    (``2026-12-03 每日``)."""
    date, sep, kind = label.rpartition(" ")
    return f"{date}{sep}{window_text(kind, lang)}" if sep else label


def method_text(label: str, description: str, lang: str = "en") -> str:
    """A method's description (``Forecaster.describe()``) for the report, with what the
    method is in Chinese in front of it for ``lang`` ``zh``."""
    if lang != "zh":
        return description
    base = label.split(":")[0].split("+")[0].strip().lower()
    return f"{METHOD_ZH[base]}。{description}" if base in METHOD_ZH else description


_FIT_FAILURES_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), zh)
    for pattern, zh in (
        (
            r"auto: no validation window before (.+?) with (\S+) days of history before it: "
            r"give more history",
            "auto：{0} 之前没有一个验证时段在其之前有 {1} 天的历史：请提供更多历史数据",
        ),
        (
            r"auto: none of the (\d+) validation windows before (.+?) holds an incident: give "
            r"more history",
            "auto：{1} 之前的 {0} 个验证时段中都没有警情：请提供更多历史数据",
        ),
        (
            r"auto: no candidate could forecast the validation windows before (.+?): (.+)",
            "auto：没有一个候选方法能预测 {0} 之前的验证时段：{1}",
        ),
    )
)
"""Why a method could not forecast a test window (the :class:`ValidationError` of its
fit, :attr:`Evaluation.not_evaluated` and :attr:`Evaluation.windows_left_out`) in
Chinese."""
_WINDOW_LABEL = re.compile(r"\d{4}-\d{2}-\d{2} (?:day|night|week|\d{2}-\d{2})\b")
"""A window label (:func:`window_label_text`) inside a sentence."""


def fit_failure_text(reason: str, lang: str = "en") -> str:
    """Why a method could not forecast a window, in ``lang``: for ``zh`` the Chinese of a
    known reason (window labels as ``2014-01-20 每日``), else the reason as raised.

    Examples
    --------
    >>> fit_failure_text(
    ...     "auto: no validation window before 2014-01-20 day with 28 days of history "
    ...     "before it: give more history",
    ...     "zh",
    ... )
    'auto：2014-01-20 每日 之前没有一个验证时段在其之前有 28 天的历史：请提供更多历史数据'
    """
    if lang != "zh":
        return reason
    for pattern, zh in _FIT_FAILURES_ZH:
        m = pattern.fullmatch(reason)
        if m:
            said = zh.format(*m.groups())
            return _WINDOW_LABEL.sub(lambda w: window_label_text(w[0], "zh"), said)
    # the forecasters' own errors (gbm's or stack's too short a history, ...): one table
    from xunfang.analyse.forecast.select import error_text as forecast_error_text

    return forecast_error_text(reason, lang)


def left_out_notes(run: EvaluationRun, lang: str = "en") -> list[str]:
    """One sentence per method scored on only some test windows
    (:attr:`~xunfang.analyse.evaluate.Evaluation.windows_left_out`): on how many, which
    it could not forecast and why (the reason of the last such window, the nearest to
    the first it could)."""
    ev = run.evaluation
    total = len(ev.settings.get("windows", ())) or None
    out = []
    for method, bad in ev.windows_left_out.items():
        labels = list(bad)
        shown = ", ".join(labels) if len(labels) <= 3 else f"{labels[0]} – {labels[-1]}"
        if lang == "zh":
            shown = _WINDOW_LABEL.sub(lambda w: window_label_text(w[0], "zh"), shown)
        n_total = total or len(labels)
        out.append(
            text(
                "note_left_out",
                lang,
                method=method,
                n=n_total - len(labels),
                total=n_total,
                k=len(labels),
                windows=shown,
                reason=fit_failure_text(bad[labels[-1]], lang).rstrip("."),
            )
        )
    return out


def pai_gap_notes(run: EvaluationRun, lang: str = "en") -> list[str]:
    """Why a mean PAI is not computed (shown as ``–``), per coverage on the unshifted
    grid: the coverage is less than one active cell (the same for every method), or a
    method has no scored window."""
    summary = run.evaluation.summary()
    if summary.empty:
        return []
    sub = summary[summary["offset_m"] == summary["offset_m"].min()]
    n = run.grid.n_active
    out = []
    for frac, grp in sub.groupby("fraction", sort=True):
        gaps = grp[~np.isfinite(grp["pai_mean"].to_numpy(dtype=np.float64))]
        if gaps.empty:
            continue
        if int(np.floor(float(frac) * n + 1e-9)) == 0:
            out.append(text("note_pai_cells", lang, pct=_pct(float(frac)), n=n))
            continue
        for method in gaps["method"]:
            out.append(text("note_pai_empty", lang, pct=_pct(float(frac)), method=method))
    return out


def _pct(f: float) -> str:
    return f"{100 * f:g}%"


def wide_table(summary: pd.DataFrame, metric: str, offset_m: float = 0.0) -> pd.DataFrame:
    """Method x coverage table of ``<metric>_mean`` at one grid offset."""
    sub = summary[summary["offset_m"] == offset_m]
    tab = sub.pivot(index="method", columns="fraction", values=f"{metric}_mean")
    tab = tab.reindex(list(dict.fromkeys(sub["method"])))
    tab.columns = [_pct(c) for c in tab.columns]
    return tab


def offset_table(summary: pd.DataFrame, lang: str = "en") -> pd.DataFrame | None:
    """Mean hit rate per method and coverage on the grid and on the half-cell-shifted
    grid, with the difference (None when only one offset was run)."""
    offsets = sorted(summary["offset_m"].unique())
    if len(offsets) < 2:
        return None
    a = wide_table(summary, "hit_rate", offsets[0])
    b = wide_table(summary, "hit_rate", offsets[1])
    parts = {
        text("offset", lang, m=offsets[0]): a,
        text("offset", lang, m=offsets[1]): b,
        text("difference", lang): b - a,
    }
    return pd.concat(parts, axis=1)


def metric_figure(summary: pd.DataFrame, metric: str, title: str, lang: str = "en") -> go.Figure:
    """Mean of ``metric`` against coverage per method (offset 0), with the interquartile
    range over windows as error bars."""
    fig = go.Figure()
    sub = summary[summary["offset_m"] == summary["offset_m"].min()]
    for i, (method, grp) in enumerate(sub.groupby("method", sort=False)):
        x = 100 * grp["fraction"].to_numpy()
        y = grp[f"{metric}_mean"].to_numpy()
        lo = y - grp[f"{metric}_q25"].to_numpy()
        hi = grp[f"{metric}_q75"].to_numpy() - y
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=str(method),
                line={"color": _PALETTE[i % len(_PALETTE)]},
                error_y={"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=text("axis_share", lang),
        yaxis_title=text(metric, lang) if metric in _TEXT else metric.replace("_", " "),
        xaxis={"type": "log", "tickvals": [1, 2, 5, 10, 20]},
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"font": {"size": 10}},
    )
    return fig


def daily_figure(rows: pd.DataFrame, fraction: float, lang: str = "en") -> go.Figure:
    """Hit rate of each window at one coverage, per method (offset 0)."""
    fig = go.Figure()
    sub = rows[
        (rows["offset_m"] == rows["offset_m"].min()) & np.isclose(rows["fraction"], fraction)
    ]
    for i, (method, grp) in enumerate(sub.groupby("method", sort=False)):
        fig.add_trace(
            go.Scatter(
                x=grp["start"].astype(str),
                y=grp["hit_rate"],
                mode="lines",
                name=str(method),
                line={"color": _PALETTE[i % len(_PALETTE)], "width": 1},
            )
        )
    fig.update_layout(
        title=text("fig_daily", lang, pct=_pct(fraction)),
        yaxis_title=text("hit_rate", lang),
        height=360,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"font": {"size": 10}},
    )
    return fig


def reference_table(
    summary: pd.DataFrame, reference: dict[float, float], lang: str = "en"
) -> pd.DataFrame:
    """Our mean hit rates beside reference figures at the reference's coverages."""
    ours = wide_table(summary, "hit_rate")
    cols = [_pct(f) for f in reference]
    tab = ours[[c for c in cols if c in ours.columns]].copy()
    ref = pd.DataFrame(
        [[reference[f] for f in reference]], columns=cols, index=[text("opencp_best", lang)]
    )
    return pd.concat([ref, tab])


def spread_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per method and coverage (unshifted grid): ``mean [lo, hi] (sd x)`` of the hit rate
    over windows, as text."""
    sub = summary[summary["offset_m"] == summary["offset_m"].min()].copy()
    sub["cell"] = [
        f"{r.hit_rate_mean:.3f} [{r.hit_rate_ci_lo:.3f}, {r.hit_rate_ci_hi:.3f}] "
        f"(sd {r.hit_rate_sd:.3f})"
        for r in sub.itertuples()
    ]
    tab = sub.pivot(index="method", columns="fraction", values="cell")
    tab = tab.reindex(list(dict.fromkeys(sub["method"])))
    tab.columns = [_pct(c) for c in tab.columns]
    return tab


def paired_table(paired: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The paired tests at 1, 5 and 20 % (all coverages if none of those) for the report,
    headed in ``lang`` (``paired.csv`` keeps its own column names)."""
    keep = paired[paired["fraction"].isin([0.01, 0.05, 0.20])]
    p = (keep if len(keep) else paired).copy()
    p["coverage"] = [_pct(f) for f in p["fraction"]]
    p["diff_ci"] = [f"{r.mean_diff:+.3f} [{r.ci_lo:+.3f}, {r.ci_hi:+.3f}]" for r in p.itertuples()]
    if lang == "zh":
        p["verdict"] = [verdict_text(v, lang) for v in p["verdict"]]
    keys = [
        "windows",
        "windows_differ",
        "events_per_window",
        "t_p",
        "wilcoxon_p",
        "noise_se",
        "diff_ci",
        "verdict",
    ]
    p = p.set_index(["method", "coverage"])[keys]
    p.index = p.index.set_names([text("method", lang), text("coverage", lang)])
    return p.rename(columns={k: text(k, lang) for k in keys})


def selection_table(selections: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """How often each candidate was chosen and its mean validation score (offset 0),
    per type group when ``auto`` chose per group."""
    s = selections[selections["offset_m"] == selections["offset_m"].min()]
    keys = ["method", "group", "candidate"] if "group" in s.columns else ["method", "candidate"]
    g = s.groupby(keys, sort=False)
    out = pd.DataFrame(
        {
            text("complexity", lang): g["complexity"].first(),
            text("chosen_windows", lang): g["chosen"].sum().astype(int),
            text("best_windows", lang): g["diff_to_best"].apply(lambda d: int((d == 0).sum())),
            text("within_1se", lang): g["within_1se"].sum().astype(int),
            text("score_mean", lang): g["score_mean"].mean(),
            text("validation_s", lang): g["seconds"].mean(),
        }
    )
    out.index = out.index.set_names([text(k, lang) for k in keys])
    return out


def selection_reasons(selections: pd.DataFrame, lang: str = "en") -> list[str]:
    """One line per test window (offset 0): what was chosen and why, in ``lang`` (the
    ``reason_zh`` column for "zh" where the table has it)."""
    if not len(selections):
        return []
    s = selections[selections["offset_m"] == selections["offset_m"].min()]
    first = s.drop_duplicates(["method", "test_window"])
    col = "reason_zh" if lang == "zh" and "reason_zh" in first else "reason"
    cols = zip(first["test_window"], first["method"], first[col], strict=True)
    return [f"{window_label_text(w, lang)} ({m}): {r}" for w, m, r in cols]


def _html_table(df: pd.DataFrame, fmt: str = "{:.3f}") -> str:
    return df.to_html(
        float_format=lambda v: fmt.format(v) if np.isfinite(v) else "–",
        border=0,
        classes="t",
        na_rep="–",
    )


def rejected_text(report: IngestReport | None, lang: str = "en") -> str:
    """The rows of the incident files that were rejected, in ``lang``, naming reason,
    field and rows (``""`` when none was, or the input was an ingested table): a
    forecast run says so on the terminal and in its report, as ``ingest`` does (rows are
    never dropped silently; ``run.json``'s ``ingest`` gives examples)."""
    if report is None or report.rows_rejected == 0:
        return ""
    from xunfang.ingest.messages import rejection_summary_text

    n, read = report.rows_rejected, report.rows_read
    why = rejection_summary_text(report.rejected_summary, lang)
    if len(report.files) == 1:  # the summary names files only when there are several
        name = Path(str(report.files[0].get("path", ""))).name
        why = f"{name}：{why}" if lang == "zh" else f"{name}: {why}"
    if lang == "zh":
        return (
            f"读入 {read:,} 行，其中 {n:,} 行被拒：{why}（run.json 的 ingest 中有示例；"
            "xunfang ingest 会把每一行写入 rejected.csv）"
        )
    return (
        f"{n:,} of the {read:,} rows read were rejected: {why} (examples in run.json's "
        "ingest; xunfang ingest writes each to rejected.csv)"
    )


def input_notes(report: IngestReport | None, lang: str = "en") -> list[str]:
    """What a forecast run must say of its raw incident files, in ``lang``: the rejected
    rows (:func:`rejected_text`) and ingest's own notes (e.g. lines of another encoding,
    piled points), as ``xunfang ingest`` prints them; none for an ingested table."""
    if report is None:
        return []
    said = list(report.notes_zh if lang == "zh" and report.notes_zh else report.notes)
    rejected = rejected_text(report, lang)
    return [rejected, *said] if rejected else said


def notes(run: EvaluationRun, lang: str = "en") -> list[str]:
    """What the reader must know to read the figures, in ``lang``."""
    ev = run.evaluation
    out = [
        text("note_ties", lang),
        text("note_coverage", lang, n=run.grid.n_active),
        text("note_pai", lang),
        text("note_rolling", lang, days=ev.settings.get("lookback_days") or text("all", lang)),
    ]
    if run.context_note:
        out.append(context_note_text(run.context_note, lang))
    for off, n in ev.n_outside.items():
        if n:
            out.append(text("note_outside", lang, n=n, off=off))
    if ev.n_date_only:
        out.append(text("note_date_only", lang, n=ev.n_date_only))
    for method, reason in ev.not_evaluated.items():
        out.append(
            text("note_not_evaluated", lang, method=method, reason=fit_failure_text(reason, lang))
        )
    out += input_notes(run.ingest_report, lang)
    out += left_out_notes(run, lang)
    out += pai_gap_notes(run, lang)
    return out


def _method_index(tab: pd.DataFrame, lang: str) -> pd.DataFrame:
    tab.index = tab.index.rename(text("method", lang))
    return tab


def render_html(
    run: EvaluationRun,
    *,
    title: str | None = None,
    reference: dict[float, float] | None = None,
    command: str = "",
    lang: str = "en",
) -> str:
    """The report as one HTML string, in ``lang`` (``en`` or ``zh``; ``title`` default:
    "Hotspot forecast evaluation" in ``lang``).

    Raises
    ------
    ValueError
        If ``lang`` is not ``en`` or ``zh``.
    """
    if lang not in LANGS:
        raise ValueError(f"--lang must be one of {LANGS}, got {lang!r}")
    summary = run.evaluation.summary()
    rows = run.evaluation.rows
    figs = {
        "hit": metric_figure(summary, "hit_rate", text("fig_hit", lang), lang),
        "pai": metric_figure(summary, "pai", text("fig_pai", lang), lang),
        "daily": daily_figure(rows, float(summary["fraction"].max()), lang),
    }
    html = {
        k: f.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        for k, f in figs.items()
    }
    tables = {
        "spread": _html_table(_method_index(spread_table(summary), lang)),
        "hit_rate": _html_table(_method_index(wide_table(summary, "hit_rate"), lang)),
        "pai": _html_table(_method_index(wide_table(summary, "pai"), lang), "{:.2f}"),
        "pei": _html_table(_method_index(wide_table(summary, "pei"), lang)),
    }
    paired = run.evaluation.paired()
    sel = run.evaluation.selections
    off = offset_table(summary, lang)
    timing = _method_index(
        summary[summary["offset_m"] == summary["offset_m"].min()]
        .groupby("method", sort=False)["seconds_per_window"]
        .first()
        .to_frame(text("timing", lang)),
        lang,
    )
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"), autoescape=select_autoescape(["html"])
    )
    spec = run.spec
    windows = run.evaluation.settings.get("windows", [])
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lead = text(
        "lead",
        lang,
        types=", ".join(spec.types) if spec.types else text("all_types", lang),
        area=area_text(run.area_name, lang),
        km2=run.area_km2,
        cells=run.grid.n_active,
        cell_m=run.grid.cell_m,
        crs=run.grid.crs.to_string(),
        n=len(windows),
        window=window_text(spec.window, lang),
        first=window_label_text(windows[0], lang) if windows else "",
        last=window_label_text(windows[-1], lang) if windows else "",
        selected=run.n_selected,
        input=run.n_input,
        in_area=(
            ""
            if run.n_in_area < 0
            else f"区域内 {run.n_in_area:,} 起 / "
            if lang == "zh"
            else f"{run.n_in_area:,} inside the area of "
        ),
        version=__version__,
        generated=generated,
    )
    methods = {
        label: method_text(label, desc, lang)
        for label, desc in run.evaluation.settings.get("methods", {}).items()
    }
    return env.get_template("forecast_report.html").render(
        lang=lang,
        t={k: v[lang] for k, v in _TEXT.items()},
        title=title or text("title", lang),
        lead=lead,
        methods=methods,
        figs=html,
        tables=tables,
        offset=_html_table(_method_index(off, lang)) if off is not None else None,
        colon="：" if lang == "zh" else ": ",
        h_paired=(  # HTML: the catalogue's <code> around the escaped method spec
            text("h_paired", lang, baseline=html_escape(str(paired["baseline"].iloc[0])))
            if len(paired)
            else ""
        ),
        p_spread=text("p_spread", lang, n=len(windows)),
        paired=_html_table(paired_table(paired, lang), "{:.3g}") if len(paired) else None,
        selection=_html_table(selection_table(sel, lang)) if len(sel) else None,
        selection_reasons=selection_reasons(sel, lang),
        reference=(
            _html_table(_method_index(reference_table(summary, reference, lang), lang))
            if reference
            else None
        ),
        timing=_html_table(timing, "{:.3f}"),
        notes=notes(run, lang),
        command=command,
        plotlyjs=get_plotlyjs(),
    )


def run_summary(run: EvaluationRun, command: str = "") -> dict[str, Any]:
    """JSON-ready description of the run."""
    spec = run.spec
    return {
        "command": command,
        "incident_files": [str(p) for p in spec.incident_files],
        "types": list(spec.types) or "all",
        "area": run.area_name,
        "area_km2": round(run.area_km2, 3),
        "grid": {
            "cell_m": run.grid.cell_m,
            "nx": run.grid.nx,
            "ny": run.grid.ny,
            "active_cells": run.grid.n_active,
            "x0": run.grid.x0,
            "y0": run.grid.y0,
            "crs": run.grid.crs.to_string(),
        },
        "window": spec.window,
        "windows": run.evaluation.settings.get("windows"),
        "lookback_days": spec.lookback_days,
        "methods": run.evaluation.settings.get("methods"),
        "n_input": run.n_input,
        "n_selected": run.n_selected,
        "n_in_area": run.n_in_area,
        "context": run.context_note,
        "n_outside_area": {str(k): v for k, v in run.evaluation.n_outside.items()},
        "n_date_only_left_out": run.evaluation.n_date_only,
        "not_evaluated": dict(run.evaluation.not_evaluated),
        "windows_left_out": {m: dict(w) for m, w in run.evaluation.windows_left_out.items()},
        "data_span": [str(run.data_span[0]), str(run.data_span[1])],
        "seconds": round(run.seconds, 2),
        "ingest": run.ingest_report.to_dict() if run.ingest_report else None,
        "version": __version__,
    }


def write_evaluation(
    run: EvaluationRun,
    out_dir: str | Path,
    *,
    title: str | None = None,
    reference: dict[float, float] | None = None,
    command: str = "",
    lang: str = "en",
) -> dict[str, Path]:
    """Write ``results.csv`` (one row per method, offset, window and coverage),
    ``summary.csv`` (mean, IQR, sd, t interval), ``paired.csv`` (each method against
    naive counts), for an ``auto`` method ``selection.csv``, ``selection_scores.csv`` and
    ``selection.json`` (every validation score and choice), ``run.json`` and
    ``report.html`` (in ``lang``: ``en`` or ``zh``; the CSV and JSON files are the same
    in every language) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def put(name: str, text: str) -> None:
        written[name] = write_atomic(out / name, text)

    rows = run.evaluation.rows.copy()
    rows["start"] = rows["start"].astype(str)
    rows["end"] = rows["end"].astype(str)
    put("results.csv", rows.to_csv(index=False))
    put("summary.csv", run.evaluation.summary().to_csv(index=False))
    put("run.json", strict_json.dumps(run_summary(run, command), indent=2, default=str))
    paired = run.evaluation.paired()
    if len(paired):
        put("paired.csv", paired.to_csv(index=False))
    sel = run.evaluation.selections
    if len(sel):
        put("selection.csv", sel.to_csv(index=False))
        put("selection_scores.csv", run.evaluation.validation_scores.to_csv(index=False))
        put(
            "selection.json",
            strict_json.dumps(
                sel.replace({np.nan: None}).to_dict(orient="records"), indent=1, default=str
            ),
        )
    put(
        "report.html",
        render_html(run, title=title, reference=reference, command=command, lang=lang),
    )
    return written
