"""The HTML report of ``xunfang forecast nij``: the PAI / PEI* scores by the NIJ Real-Time
Crime Forecasting Challenge's rules, which categories (their call types), and what they
were computed on (calls, grid, study area, periods, methods), in English or Chinese.

It uses the forecast reports' machinery (:mod:`xunfang.serve.forecast_report`: the style,
the table format, the template folder), as every other ``forecast`` command's report does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from xunfang import __version__
from xunfang.analyse.nij import FT_M, NijRun, read_categories, winners_note
from xunfang.serve._common import LANGS
from xunfang.serve.forecast_report import _html_table

__all__ = ["render_nij_html"]

_TEXT: dict[str, dict[str, str]] = {
    "title": {
        "en": "NIJ Real-Time Crime Forecasting Challenge rules: PAI and PEI*",
        "zh": "NIJ 实时犯罪预测挑战赛规则：PAI 与 PEI*",
    },
    "command": {"en": "Command", "zh": "命令"},
    "lead": {
        "en": "{calls:,} calls of {files} · grid of {ft:g} ft ({m:.2f} m) cells, {crs}, "
        "{active:,} in the study area · A = {a:.1f} sq mi ({source}) · xunfang {version} · "
        "{generated}",
        "zh": "{files} 中的 {calls:,} 起报警 · {ft:g} 英尺（{m:.2f} 米）网格，{crs}，研究区域内 "
        "{active:,} 个 · A = {a:.1f} 平方英里（{source}）· xunfang {version} · {generated}",
    },
    "h_scores": {"en": "Scores", "zh": "得分"},
    "p_scores": {
        "en": "Mean over the forecast periods of PAI = (n/N)/(a/A) and PEI* = n/n* (n* = "
        "calls in the busiest cells of the same area), per category and period length; "
        "each method trained on every call before each period.",
        "zh": "各预测期 PAI = (n/N)/(a/A) 与 PEI* = n/n*（n* 为同样面积内报警最多的网格中的"
        "报警数）的平均值，按类别和预测期长度；每个方法以每个预测期之前的全部报警训练。",
    },
    "area_title": {
        "en": "{k} cells = {a:.3f} sq mi flagged (asked {asked:g}): PAI / PEI*",
        "zh": "标记 {k} 个网格 = {a:.3f} 平方英里（要求 {asked:g}）：PAI / PEI*",
    },
    "category": {"en": "category", "zh": "类别"},
    "period": {"en": "period", "zh": "预测期"},
    "periods": {"en": "periods", "zh": "期数"},
    "calls": {"en": "calls", "zh": "报警数"},
    "winners": {
        "en": "NIJ winners 2017 (large business, PAI / PEI*)",
        "zh": "NIJ 2017 获胜者（大型机构，PAI / PEI*）",
    },
    "h_categories": {"en": "Categories", "zh": "类别"},
    "categories_source": {
        "en": "Sets of final call types ({source}); 'all' is every call for service.",
        "zh": "最终报警类型的集合（{source}）；all 为全部报警。",
    },
    "key": {"en": "key", "zh": "键"},
    "label": {"en": "label", "zh": "名称"},
    "release_category": {"en": "CATEGORY column", "zh": "CATEGORY 列"},
    "case_types": {"en": "call types", "zh": "报警类型"},
    "every_call": {"en": "every call", "zh": "全部报警"},
    "h_data": {"en": "What it was computed on", "zh": "计算所用数据"},
    "files": {"en": "Files: {files}", "zh": "文件：{files}"},
    "outside": {
        "en": "{n:,} calls outside the study area: not trained on, not scored.",
        "zh": "{n:,} 起报警位于研究区域之外：不参与训练，不计分。",
    },
    "train": {
        "en": "At least {days} whole days of calls before the first period; seed {seed}.",
        "zh": "第一个预测期之前至少 {days} 整天的报警；随机种子 {seed}。",
    },
    "window": {"en": "periods (local dates)", "zh": "预测期（当地日期）"},
    "h_methods": {"en": "Methods", "zh": "方法"},
    "h_notes": {"en": "Notes", "zh": "说明"},
    "skipped": {"en": "Not run: {h}: {why}.", "zh": "未运行：{h}：{why}。"},
    "disagree": {
        "en": "Rows where the call-type table and the CATEGORY column differ: {bad}.",
        "zh": "报警类型表与 CATEGORY 列不一致的行：{bad}。",
    },
    "winners_zh": {
        "en": "",
        "zh": "NIJ 获胜者页面列出了各类别、各预测期的获胜者，但未公布得分；挑战赛按 2017 年 "
        "3 月 1 日至 5 月 31 日、以 PPB 辖区为 A 计分，本数据不覆盖该时期，因此没有可与本结果"
        "比较的获胜者得分。",
    },
    "timing": {
        "en": "Wall {wall:.1f} s, CPU {cpu:.1f} s (mean fit + predict per period and method: "
        "{mean:.3f} s).",
        "zh": "墙钟时间 {wall:.1f} 秒，CPU 时间 {cpu:.1f} 秒（每个预测期和方法的平均拟合+预测："
        "{mean:.3f} 秒）。",
    },
}


def _t(key: str, lang: str, **kw: object) -> str:
    return _TEXT[key][lang].format(**kw)


def _score_tables(run: NijRun, lang: str) -> list[dict[str, str]]:
    """One table per flagged area: category x period rows, a PAI / PEI* column per method."""
    s = run.summary()
    methods = list(dict.fromkeys(s["method"]))
    out = []
    for asked, sub in s.groupby("hotspot_sq_mi", sort=False):
        k = int(sub["k_cells"].iloc[0])
        a = k * run.spec.cell_side_ft**2 / 5280.0**2
        rows = []
        for (cat, hor), grp in sub.groupby(["category", "horizon"], sort=False):
            by = grp.set_index("method")
            first = grp.iloc[0]
            rows.append(
                {
                    _t("category", lang): str(cat),
                    _t("period", lang): str(hor),
                    _t("periods", lang): int(first["periods"]),
                    _t("calls", lang): f"{int(first['calls']):,}",
                    **{m: f"{by.loc[m, 'pai']:.2f} / {by.loc[m, 'pei_star']:.3f}" for m in methods},
                    _t("winners", lang): (
                        f"{first['nij_winner_pai']} / {first['nij_winner_pei_star']}"
                    ),
                }
            )
        table = pd.DataFrame(rows).set_index(_t("category", lang))
        out.append(
            {
                "title": _t("area_title", lang, k=k, a=a, asked=float(asked)),
                "table": _html_table(table),
            }
        )
    return out


def _categories_table(run: NijRun, lang: str) -> str:
    """The categories scored: key, label, the release's CATEGORY value, their call types."""
    cats = read_categories(run.spec.categories_file)
    rows = []
    for key in dict.fromkeys(run.rows["category"]):
        if key not in cats:
            continue
        types = cats[key].case_types
        rows.append(
            {
                _t("key", lang): key,
                _t("label", lang): cats[key].label,
                _t("release_category", lang): cats[key].category or "–",
                _t("case_types", lang): (
                    ", ".join(sorted(types)) if types is not None else _t("every_call", lang)
                ),
            }
        )
    table = pd.DataFrame(rows).set_index(_t("key", lang))
    return _html_table(table)


def render_nij_html(run: NijRun, *, command: str = "", lang: str = "en") -> str:
    """The report of a finished NIJ run as one HTML string, in ``lang`` (``en`` or ``zh``).

    Parameters
    ----------
    run
        The run (:func:`xunfang.analyse.nij.run_nij`).
    command
        The command line, shown under the title.
    lang
        ``en`` or ``zh``.

    Raises
    ------
    ValueError
        If ``lang`` is not ``en`` or ``zh``.
    """
    if lang not in LANGS:
        raise ValueError(f"--lang must be one of {LANGS}, got {lang!r}")
    spec = run.spec
    files = ", ".join(Path(p).name for p in spec.incident_files)
    g = run.grid
    lead = _t(
        "lead",
        lang,
        calls=run.n_input,
        files=files,
        ft=spec.cell_side_ft,
        m=spec.cell_side_ft * FT_M,
        crs=run.settings.get("crs", ""),
        active=g.n_active,
        a=run.study_area_sq_mi,
        source=run.area_source,
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    data = [_t("files", lang, files=", ".join(str(p) for p in spec.incident_files))]
    if run.n_outside:
        data.append(_t("outside", lang, n=run.n_outside))
    data.append(_t("train", lang, days=spec.min_train_days, seed=spec.seed))
    windows = (
        run.rows.groupby("horizon", sort=False)["window"]
        .agg(lambda w: ", ".join(dict.fromkeys(w)))
        .rename(_t("window", lang))
        .to_frame()
    )
    windows.index = windows.index.rename(_t("period", lang))
    notes = [_t("skipped", lang, h=h, why=why) for h, why in run.skipped.items()]
    bad = {k: v for k, v in run.disagreements.items() if v}
    if bad:
        notes.append(_t("disagree", lang, bad=bad))
    notes.append(winners_note() if lang == "en" else _t("winners_zh", lang))
    notes.append(
        _t(
            "timing",
            lang,
            wall=run.seconds,
            cpu=run.cpu_seconds,
            mean=float(run.rows["seconds"].mean()),
        )
    )
    source = (
        str(spec.categories_file)
        if spec.categories_file is not None
        else "xunfang/data/nij_categories.toml"
    )
    env = Environment(
        loader=PackageLoader("xunfang.serve", "templates"), autoescape=select_autoescape(["html"])
    )
    return env.get_template("nij_report.html").render(
        lang=lang,
        t={k: v[lang] for k, v in _TEXT.items()},
        lead=lead,
        command=command,
        colon="：" if lang == "zh" else ": ",
        areas=_score_tables(run, lang),
        categories=_categories_table(run, lang),
        categories_source=_t("categories_source", lang, source=source),
        data=data,
        periods=_html_table(windows),
        methods=dict(run.settings.get("methods", {})),
        notes=notes,
        plotlyjs="",  # tables only: no chart, no plotly.js
    )
