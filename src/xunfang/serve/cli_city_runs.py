"""``xunfang deploy`` and ``xunfang simulate run`` on a city plan folder: every district at once.

Given ``--plan-dir`` the output folder of ``xunfang plan --area district:all`` (it holds
``city_summary.json`` and a folder per district), ``deploy`` plans the week of every district
(:func:`xunfang.plan.city_deploy.deploy_city`) and ``simulate run`` simulates every district
(:func:`xunfang.simulate.city_sim.simulate_city`), on a LocalCluster of ``--workers`` worker
processes or on the scheduler at ``--scheduler tcp://HOST:PORT``, with the same progress bars,
dask client and city road network (built once, or read from the disk cache) as the city plan
(:mod:`xunfang.serve.cli_plan_all`). Each writes a folder per district, a city summary
(``city_deploy_summary.csv/json`` or ``city_simulation_summary.csv/json``) and a city report
(``city_deploy_report.html`` or ``city_simulation_report.html``:
:mod:`xunfang.serve.city_deploy_report`, :mod:`xunfang.serve.city_sim_report`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from xunfang.config import Settings
from xunfang.errors import DataFileError, ValidationError
from xunfang.ingest.areas import same_area_name
from xunfang.ingest.city import City, default_city
from xunfang.ingest.road_network import RoadNetwork
from xunfang.plan.booth_plan import PlanConfig, read_plan_incidents, read_plan_record
from xunfang.plan.city_deploy import (
    DeploySummary,
    city_plan_folders,
    deploy_city,
    deploy_totals,
    plan_failed_districts,
)
from xunfang.plan.city_plan import (
    area_folder,
    city_network,
    earlier_run_folders,
    write_summary_tables,
)
from xunfang.plan.deployment import DeployConfig, Deployment
from xunfang.serve._common import reason_text
from xunfang.serve.cli_plan_all import (
    after_districts,
    city_network_line,
    dask_client,
    district_progress,
    earlier_folders_line,
    whole_district,
)

__all__ = ["is_city_plan_dir", "recorded_city", "run_city_deploy", "run_city_simulation"]


def is_city_plan_dir(plan_dir: Path) -> bool:
    """Whether ``plan_dir`` is a city plan's output folder (holds ``city_summary.json``)."""
    return (Path(plan_dir) / "city_summary.json").is_file()


def recorded_city(plan_dir: Path) -> City | None:
    """The city a plan folder recorded (``city`` of its ``plan_summary.json``; for a city
    plan folder, that of its first district): its boundary layers, areas, roads, stations
    and incident files. None when the plan does not record one.

    Raises
    ------
    DataFileError
        If the folder holds neither ``city_summary.json`` with its district folders nor
        ``plan_summary.json``, or a summary is unreadable.
    """
    if is_city_plan_dir(plan_dir):
        return read_plan_record(next(iter(city_plan_folders(plan_dir).values()))).city
    return read_plan_record(plan_dir).city


def check_scenario_area(area: str, plan_areas: list[str], plan_dir: Path, source: str) -> None:
    """Refuse a scenario's ``scenario.area`` that is not the area of the city plan in
    ``plan_dir``: ``simulate run --plan-dir`` simulates each of the plan's districts
    (``plan_areas``, ``KIND:NAME``) on its own, so another area would be dropped without a
    word. The plan's area is ``city``, ``all``, ``KIND:all`` or the list of its districts
    (any order, with or without ``KIND:``).

    Raises
    ------
    DataFileError
        Naming the scenario file, the field, both areas and what to do.
    """
    spec = area.strip()
    kinds = {a.partition(":")[0].lower() for a in plan_areas}
    names = [a.partition(":")[2] for a in plan_areas]
    kind, sep, rest = spec.partition(":")
    if not sep:
        kind, rest = next(iter(kinds)) if len(kinds) == 1 else "", spec
    kind = kind.strip().lower()
    wanted = [n.strip().removeprefix(f"{kind}:") for n in rest.split(",") if n.strip()]
    if spec.lower() in ("city", "all") or (
        kinds == {kind}
        and (
            [w.lower() for w in wanted] == ["all"]
            or (
                len(wanted) == len(names)
                and all(any(same_area_name(w, n) for n in names) for w in wanted)
            )
        )
    ):
        return
    shown = ", ".join(plan_areas[:5]) + (
        f" ... ({len(plan_areas)} areas)" if len(plan_areas) > 5 else ""
    )
    one = next((a for a in plan_areas if spec.lower() == a.lower()), None)
    alone = (
        f"; to simulate {one} alone, run without --plan-dir with [plan] sites_csv = "
        f'"{Path(plan_dir) / area_folder(one) / "sites.csv"}"'
        if one
        else ""
    )
    raise DataFileError(
        source,
        f"area {spec!r} is not the area of the plan in {plan_dir} ({shown}): --plan-dir "
        f"simulates each of the plan's areas on its own; remove area from [scenario] (or "
        f"give the plan's){alone}",
        field="scenario.area",
    )


def _city_and_network(
    folders: dict[str, Path],
    settings: Settings,
    city: City | None,
    console: Console,
    lang: str = "en",
) -> tuple[City, RoadNetwork]:
    """The city the plans were made for (as the first district's folder records it) and its
    road network (built once, or read from the cache)."""
    first = next(iter(folders.values()))
    the_city = city or read_plan_record(first).city or default_city(settings.data_dir)
    t0 = time.perf_counter()
    network, how = city_network(settings, the_city, next(iter(folders)))
    console.print(city_network_line(how, network.n_nodes, time.perf_counter() - t0, lang))
    return the_city, network


def district_polygons(city: City, areas: list[str]) -> dict[str, Any]:
    """Area -> its outline, WGS-84 degrees (for the city report's map)."""
    return {a: city.study_area(a).polygon_wgs84 for a in areas}


def run_city_deploy(
    plan_dir: Path,
    roster: Path,
    calendar: Path | None,
    settings: Settings,
    out: Path,
    *,
    console: Console,
    config: DeployConfig,
    incident_files: tuple[Path, ...] = (),
    city: City | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    lang: str = "en",
) -> tuple[list[DeploySummary], dict[str, Any]]:
    """Deploy every district of the city plan in ``plan_dir``; write ``out/<district>/``,
    ``out/city_deploy_summary.csv/json`` and ``out/city_deploy_report.html`` (in ``lang``).
    The incidents (``incident_files``, default the city's) are ingested once. Returns the
    summaries and the city totals."""
    from xunfang.serve.city_deploy_report import write_city_deploy_report
    from xunfang.serve.cli_deploy import _plan_frame
    from xunfang.serve.deploy_report import write_deployment

    folders = city_plan_folders(plan_dir)
    the_city, network = _city_and_network(folders, settings, city, console, lang)
    zh = lang == "zh"
    t0 = time.perf_counter()
    first = next(iter(folders))
    incidents, _report = read_plan_incidents(
        PlanConfig(area=first, incident_files=incident_files),
        the_city,
        network.crs,
    )
    console.print(
        f"{len(incidents):,} 起警情一次性导入，用时 {time.perf_counter() - t0:.1f} 秒"
        if zh
        else f"{len(incidents):,} incidents ingested once in {time.perf_counter() - t0:.1f} s"
    )
    failed: dict[str, str] = {}
    with (
        district_progress(console, list(folders), "部署中" if zh else "deploying") as bars,
        dask_client(scheduler, workers) as client,
    ):

        def done(dep: Deployment, s: DeploySummary) -> None:
            folder = folders[s.area]  # positions in the district plan's --output-frame
            with whole_district():
                write_deployment(
                    dep,
                    out / area_folder(s.area),
                    lang=lang,
                    plan_dir=folder,
                    output_frame=_plan_frame(folder),
                )
                bars.done(
                    s.area,
                    f"{s.booths} 个岗亭，{s.routes} 条路线，{s.officer_hours:,.0f} 警力·小时，"
                    f"风险覆盖 {s.covered_share:.0%}，{s.wall_time_s:.0f} 秒"
                    if zh
                    else f"{s.booths} booths, {s.routes} routes, {s.officer_hours:,.0f} officer-h, "
                    f"risk covered {s.covered_share:.0%}, {s.wall_time_s:.0f} s",
                )

        summaries = deploy_city(
            folders,
            roster,
            calendar,
            settings,
            config=config,
            city=the_city,
            incidents=incidents,
            city_network=network,
            client=client,
            on_start=bars.started,
            on_done=done,
            failed=failed,
        )
        _failed_bars(bars, failed, zh)
    with after_districts(len(summaries), len(folders)):
        _none_done(summaries, failed, zh)
        totals = deploy_totals(summaries)
        not_planned, earlier = _write_city_tables(
            summaries, totals, out, "city_deploy_summary", plan_dir, failed
        )
        write_city_deploy_report(
            summaries,
            district_polygons(the_city, [s.area for s in summaries]),
            out,
            lang,
            failed=failed,
            plan_failed=not_planned,
            earlier_folders=earlier,
            plan_dir=plan_dir,
            roster=roster,
            calendar=calendar,
            incident_files=incident_files,
        )
    return summaries, _run_totals(totals, failed, not_planned, earlier)


def print_failed(
    console: Console,
    failed: dict[str, str],
    lang: str,
    summary: str,
    plan_failed: dict[str, str] | None = None,
    earlier: Sequence[str] = (),
    out: Path | None = None,
) -> None:
    """A warning line per district that failed (the others are done), naming ``summary``
    (the JSON file that lists them); first one per district the city plan failed
    (``plan_failed``, area -> reason); last the folders of ``out`` left by an earlier run
    (``earlier``, :func:`xunfang.serve.cli_plan_all.earlier_folders_line`)."""
    from rich.markup import escape

    for area, reason in (plan_failed or {}).items():
        console.print(
            f"[yellow]警告：[/]{escape(area)} 在方案中未能规划，未包含在内（见 {summary} 的 "
            f"plan_failed）：{escape(reason_text(reason, lang))}"
            if lang == "zh"
            else f"[yellow]warning:[/] {escape(area)} was not planned, so it is left out "
            f"(see plan_failed in {summary}): {escape(reason)}",
            soft_wrap=True,
        )

    for area, reason in failed.items():
        console.print(
            f"[yellow]警告：[/]{escape(area)} 未完成（其他区域已完成，见 {summary} 的 "
            f"failed）：{escape(reason_text(reason, lang))}"
            if lang == "zh"
            else f"[yellow]warning:[/] {escape(area)} not done (the other areas are; see failed "
            f"in {summary}): {escape(reason)}",
            soft_wrap=True,
        )
    line = earlier_folders_line(earlier, out or Path("."), summary, lang)
    if line:
        console.print(line, soft_wrap=True)


def _failed_bars(bars: Any, failed: dict[str, str], zh: bool) -> None:
    for area in failed:
        bars.done(area, f"[red]{'失败' if zh else 'failed'}[/]", finished=False)


def _none_done(summaries: list[Any], failed: dict[str, str], zh: bool) -> None:
    """Raise when every district failed (naming each one's reason)."""
    if not summaries:
        lang = "zh" if zh else "en"
        raise ValidationError(
            ("每个区域都失败了：" if zh else "every area failed: ")
            + "; ".join(f"{a}: {reason_text(r, lang)}" for a, r in failed.items())
        )


def run_city_simulation(
    scenario: Any,
    plan_dir: Path,
    settings: Settings,
    out: Path,
    *,
    console: Console,
    replications: int | None = None,
    city: City | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    lang: str = "en",
) -> tuple[list[Any], dict[str, Any]]:
    """Simulate every district of the city plan in ``plan_dir`` with ``scenario`` (a
    :class:`xunfang.simulate.scenario.Scenario`; the city is ``city`` (the user's options),
    else the one the plan recorded (its boundary layers name the plan's districts), else the
    scenario's, else the default: its incident files give the simulated month); write
    ``out/<district>/``, ``out/city_simulation_summary.csv/json`` and
    ``out/city_simulation_report.html``, the city's and the districts' reports in ``lang``
    (``en`` or ``zh``). Returns the summaries and the city totals."""
    from xunfang.serve.city_report import check_lang
    from xunfang.serve.city_sim_report import write_city_sim_report
    from xunfang.serve.sim_report import variant_label, write_simulation
    from xunfang.simulate.city_sim import SimDistrictSummary, sim_totals, simulate_city
    from xunfang.simulate.runner import Comparison

    check_lang(lang)
    folders = city_plan_folders(plan_dir)
    sc = scenario.scenario  # the scenario's city (its incidents give the simulated month)
    check_scenario_area(
        sc.area, [*folders, *plan_failed_districts(plan_dir)], plan_dir, str(scenario.source)
    )
    if city is None:
        city = recorded_city(plan_dir)
    if city is None:
        city = (
            City.from_toml(scenario.path(sc.city), data_dir=settings.data_dir)
            if sc.city
            else default_city(settings.data_dir)
        )
    the_city, network = _city_and_network(folders, settings, city, console, lang)
    zh = lang == "zh"
    failed: dict[str, str] = {}
    with (
        district_progress(console, list(folders), "模拟中" if zh else "simulating") as bars,
        dask_client(scheduler, workers) as client,
    ):

        def done(cmp: Comparison, s: SimDistrictSummary) -> None:
            with whole_district():
                write_simulation(cmp, out / area_folder(s.area), lang=lang)
                row = s.to_dict()
                shares = ("，" if zh else ", ").join(
                    f"{variant_label(v, lang) if zh else v} {row[f'{v}_share_within_3min']:.0%}"
                    + (
                        f"（未处置 {row[f'{v}_share_unserved']:.0%}）"
                        if zh
                        else f" (unserved {row[f'{v}_share_unserved']:.0%})"
                    )
                    for v in s.counts
                )
                bars.done(
                    s.area,
                    f"3 分钟内到达：{shares}，{s.wall_time_s:.0f} 秒"
                    if zh
                    else f"within 3 min: {shares}, {s.wall_time_s:.0f} s",
                )

        summaries = simulate_city(
            scenario,
            folders,
            settings,
            city=the_city,
            replications=replications,
            city_network=network,
            client=client,
            on_start=bars.started,
            on_done=done,
            failed=failed,
        )
        _failed_bars(bars, failed, zh)
    with after_districts(len(summaries), len(folders)):
        _none_done(summaries, failed, zh)
        totals = sim_totals(summaries)
        not_planned, earlier = _write_city_tables(
            summaries, totals, out, "city_simulation_summary", plan_dir, failed
        )
        write_city_sim_report(
            summaries,
            district_polygons(the_city, [s.area for s in summaries]),
            out,
            lang,
            failed=failed,
            plan_failed=not_planned,
            earlier_folders=earlier,
            scenario_name=sc.name,
            scenario_source=str(scenario.source),
            plan_dir=plan_dir,
        )
    return summaries, _run_totals(totals, failed, not_planned, earlier)


def _write_city_tables(
    summaries: Sequence[Any],
    totals: dict[str, Any],
    out: Path,
    stem: str,
    plan_dir: Path,
    failed: dict[str, str],
) -> tuple[dict[str, str], list[str]]:
    """Write a city deploy or simulation run's ``<stem>.csv/json`` (the districts' rows,
    the totals, the districts that failed here and in the plan, the folders of an earlier
    run); return the plan's failed districts and those earlier folders."""
    not_planned = plan_failed_districts(plan_dir)
    earlier = earlier_run_folders(out, stem, [area_folder(s.area) for s in summaries])
    write_summary_tables(
        [s.to_dict() for s in summaries],
        totals,
        out,
        stem,
        failed=failed,
        plan_failed=not_planned,
        earlier_folders=earlier,
    )
    return not_planned, earlier


def _run_totals(
    totals: dict[str, Any],
    failed: dict[str, str],
    not_planned: dict[str, str],
    earlier: list[str],
) -> dict[str, Any]:
    """A city run's totals as the command returns them (with what failed and the earlier
    run's folders)."""
    return {
        **totals,
        "failed": dict(failed),
        "plan_failed": not_planned,
        "earlier_run_folders": earlier,
    }
