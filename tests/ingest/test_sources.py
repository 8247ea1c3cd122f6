"""Tests of xunfang.ingest.sources and the ``xunfang data`` CLI against a local HTTP server.

Nothing here touches the internet: every URL is rewritten to a ThreadingHTTPServer on
127.0.0.1 (ephemeral port) through ``Settings.source_base_url``, and the OpenStreetMap part is
tested with osmnx's Overpass call replaced by a stub.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from rich.console import Console
from typer.testing import CliRunner

from xunfang.config import Settings, get_settings
from xunfang.errors import DownloadError, NetworkError, ValidationError
from xunfang.ingest.sources import (
    CHICAGO_DATASET_IDS,
    Source,
    area_file_stem,
    chicago_sources,
    fetch,
    fetch_roads,
    resolve_url,
    sources_for,
)
from xunfang.serve.cli_data import app

STATIONS_CSV = (
    b"DISTRICT,ADDRESS,CITY,STATE,ZIP,LATITUDE,LONGITUDE\n"
    b'Headquarters,"3510 S Michigan Ave",Chicago,IL,60653,41.830636,-87.623783\n'
    b'1,"1718 S State St",Chicago,IL,60616,41.8582258,-87.6275221\n'
)
INCIDENTS_2014_CSV = (
    b"ID,Case Number,Date,Block,IUCR,Primary Type,Latitude,Longitude\n"
    b"9999999,HX100000,01/01/2014 12:00:00 AM,036XX W DOUGLAS BLVD,0486,BATTERY,41.86,-87.71\n"
)
INCIDENTS_HEADER = b"ID,Case Number,Date,Block,IUCR,Primary Type,Latitude,Longitude\n"
# SYNTHETIC rows in the yearly export's columns: two in January, one in March 2014 (a
# quoted block with a comma), one of December 2013 (a late report: outside the months kept)
_YEARLY_HEADER = (
    b"ID,Case Number,Date,Block,IUCR,Primary Type,Description,Location Description,Arrest,"
    b"Domestic,Beat,District,Ward,Community Area,FBI Code,X Coordinate,Y Coordinate,Year,"
    b"Updated On,Latitude,Longitude,Location\n"
)
_TAIL = b",0820,THEFT,$500 AND UNDER,STREET,false,false,0111,001,42,32,06,1176352,1900927,"
INCIDENTS_3_MONTHS = (
    _YEARLY_HEADER
    + b"1,HX1,01/01/2014 12:00:00 AM,036XX W DOUGLAS BLVD" + _TAIL
    + b'2014,02/10/2018 03:50:01 PM,41.88,-87.63,"(41.88, -87.63)"\n'
    + b"2,HX2,01/31/2014 11:59:00 PM,001XX N STATE ST" + _TAIL
    + b'2014,02/10/2018 03:50:01 PM,41.88,-87.63,"(41.88, -87.63)"\n'
    + b'3,HX3,03/05/2014 08:15:00 AM,"STATE ST, N"' + _TAIL
    + b'2014,02/10/2018 03:50:01 PM,41.88,-87.63,"(41.88, -87.63)"\n'
    + b"4,HX4,12/31/2013 10:00:00 PM,001XX N STATE ST" + _TAIL
    + b'2013,02/10/2018 03:50:01 PM,41.88,-87.63,"(41.88, -87.63)"\n'
)  # fmt: skip
JAN_2014 = "chicago/incidents_2014_2015/chicago_crimes_2014-01.csv.gz"
COMMUNITY_AREAS_GEOJSON = (
    b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
    b'{"community":"LOOP"},"geometry":{"type":"Polygon","coordinates":'
    b"[[[-87.64,41.87],[-87.62,41.87],[-87.62,41.89],[-87.64,41.89],[-87.64,41.87]]]}},"
    b'{"type":"Feature","properties":{"community":"O\'HARE"},"geometry":{"type":"Polygon",'
    b'"coordinates":[[[-87.94,41.97],[-87.90,41.97],[-87.90,42.00],[-87.94,42.00],'
    b"[-87.94,41.97]]]}}]}"
)

# URL paths of the registry, as served by the Chicago Data Portal
P_STATIONS = f"/api/views/{CHICAGO_DATASET_IDS['police_stations']}/rows.csv"
P_INC_2014 = f"/api/views/{CHICAGO_DATASET_IDS['incidents_2014']}/rows.csv"
P_AREAS = f"/api/geospatial/{CHICAGO_DATASET_IDS['community_areas']}"


@dataclass
class Site:
    """The local server: files under ``root`` by URL path, request counts, odd behaviours."""

    root: Path
    base_url: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    modes: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def put(self, url_path: str, body: bytes) -> None:
        path = self.root / url_path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def _make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the test output clean

        def _send(
            self, status: int, body: bytes, length: int | None = None, encoding: str = ""
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path  # the query string is ignored
            with site.lock:
                site.hits[path] += 1
                count = site.hits[path]
            mode = site.modes.get(path, "")
            if mode == "truncate":
                self._send(200, b"x" * 100, length=1000)
                return
            if mode == "flaky" and count == 1:
                self._send(503, b"busy")
                return
            if mode == "slow":
                site.stop.wait(1.0)
            file = site.root / path.lstrip("/")
            if not file.is_file():
                self._send(404, b"not found")
                return
            if mode == "gzip":
                self._send(200, gzip.compress(file.read_bytes()), encoding="gzip")
                return
            self._send(200, file.read_bytes())

    return Handler


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    state = Site(root=tmp_path / "site")
    state.root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def settings(tmp_path: Path, site: Site) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", source_base_url=site.base_url
    )


def _no_partial_files(*roots: Path) -> bool:
    return not any(p.name.endswith(".part") for root in roots for p in root.rglob("*"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _test_source(name: str, url_path: str, **extra: Any) -> Source:
    return Source(
        name=name,
        group="test",
        url=f"https://data.cityofchicago.org{url_path}?accessType=DOWNLOAD",
        target=f"chicago/test/{name}.csv",
        description="test file",
        licence="test",
        **extra,
    )


# --- registry and URLs --------------------------------------------------------------------


def test_registry_layout_matches_the_shared_data() -> None:
    targets = {s.name: s.target for s in sources_for("Chicago")}
    assert targets == {
        "incidents_2014": "chicago/incidents_2014_2015/chicago_crimes_{month}.csv.gz",
        "incidents_2015": "chicago/incidents_2014_2015/chicago_crimes_{month}.csv.gz",
        "police_districts": "chicago/boundaries/police_districts.geojson",
        "community_areas": "chicago/boundaries/community_areas.geojson",
        "police_beats": "chicago/boundaries/police_beats_dec2012.geojson",
        "police_stations": "chicago/stations/Police_Stations.csv",
        "schools": "chicago/schools/ChicagoPublicSchools_2011-12.csv",
    }
    months = {s.name: s.months for s in sources_for("chicago")}
    # the 18 months of the shared copy, which the README's commands and the demo read
    assert months["incidents_2014"] == ("2014-01", "2014-12")
    assert months["incidents_2015"] == ("2015-01", "2015-06")
    urls = {s.name: s.url for s in sources_for("chicago")}
    assert urls["incidents_2015"] == (
        "https://data.cityofchicago.org/api/views/vwwp-7yr9/rows.csv?accessType=DOWNLOAD"
    )
    assert urls["community_areas"] == (
        "https://data.cityofchicago.org/api/geospatial/cauq-8yn6?method=export&format=GeoJSON"
    )


def test_dataset_ids_can_be_overridden_and_are_checked() -> None:
    beats = {s.name: s for s in chicago_sources({"police_beats": "aerh-rz74"})}["police_beats"]
    assert "/api/geospatial/aerh-rz74?" in beats.url
    with pytest.raises(ValidationError, match=r"unknown source 'beats'; valid names: incidents"):
        chicago_sources({"beats": "aerh-rz74"})
    with pytest.raises(ValidationError, match=r"'nope' is not a Socrata id"):
        chicago_sources({"police_beats": "nope"})


def test_unknown_city_lists_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"city 'gotham'.*known cities: chicago"):
        sources_for("gotham")


def test_resolve_url_replaces_scheme_and_host_only() -> None:
    url = "https://data.cityofchicago.org/api/views/z8bn-74gv/rows.csv?accessType=DOWNLOAD"
    assert resolve_url(url, "") == url
    assert resolve_url(url, "http://127.0.0.1:8123") == (
        "http://127.0.0.1:8123/api/views/z8bn-74gv/rows.csv?accessType=DOWNLOAD"
    )
    assert resolve_url(url, "https://mirror.example/xf/") == (
        "https://mirror.example/xf/api/views/z8bn-74gv/rows.csv?accessType=DOWNLOAD"
    )
    with pytest.raises(ValidationError, match="XUNFANG_SOURCE_BASE_URL"):
        resolve_url(url, "ftp://mirror.example")


def test_source_rejects_targets_outside_the_data_dir_and_bad_hashes() -> None:
    with pytest.raises(ValidationError, match=r"target '\.\./x\.csv' must be a relative path"):
        _test_source("x", "/x.csv").__class__(
            name="x", group="t", url="https://h/x", target="../x.csv", description="", licence=""
        )
    with pytest.raises(ValidationError, match="sha256 must be 64 lower-case hex digits"):
        _test_source("x", "/x.csv", sha256="abc")


# --- fetching -----------------------------------------------------------------------------


def test_fetch_subset_lands_in_the_layout(site: Site, settings: Settings) -> None:
    site.put(P_STATIONS, STATIONS_CSV)
    site.put(P_INC_2014, INCIDENTS_2014_CSV)
    site.put(P_AREAS, COMMUNITY_AREAS_GEOJSON)
    result = fetch(
        "chicago",
        settings,
        only=["police_stations", "incidents_2014", "community_areas"],
        progress=False,
    )
    data = settings.data_dir
    assert (data / "chicago/stations/Police_Stations.csv").read_bytes() == STATIONS_CSV
    assert gzip.decompress((data / JAN_2014).read_bytes()) == INCIDENTS_2014_CSV
    assert (
        data / "chicago/boundaries/community_areas.geojson"
    ).read_bytes() == COMMUNITY_AREAS_GEOJSON
    # registry order, statuses, hashes, and the rewritten URL keeps path and query
    names = [f.name for f in result.files]
    assert names == ["incidents_2014_2014_01", "community_areas", "police_stations"]
    assert [f.status for f in result.files] == ["downloaded"] * 3
    by_name = {f.name: f for f in result.files}
    assert by_name["police_stations"].sha256 == _sha(STATIONS_CSV)
    assert by_name["police_stations"].size_bytes == len(STATIONS_CSV)
    assert by_name["police_stations"].url == f"{site.base_url}{P_STATIONS}?accessType=DOWNLOAD"
    assert by_name["community_areas"].url.endswith("?method=export&format=GeoJSON")
    assert site.hits == Counter({P_STATIONS: 1, P_INC_2014: 1, P_AREAS: 1})
    assert not (data / "chicago/schools").exists()
    assert _no_partial_files(data, settings.cache_dir)


def test_second_fetch_uses_the_cache(site: Site, settings: Settings) -> None:
    site.put(P_STATIONS, STATIONS_CSV)
    first = fetch("chicago", settings, only=["police_stations"], progress=False)
    assert [f.status for f in first.files] == ["downloaded"]
    second = fetch("chicago", settings, only=["police_stations"], progress=False)
    assert [f.status for f in second.files] == ["cached"]
    assert len(second.cached) == 1
    assert second.downloaded == ()
    assert site.hits[P_STATIONS] == 1
    # a deleted target comes back from the cache, without a request
    target = settings.data_dir / "chicago/stations/Police_Stations.csv"
    target.unlink()
    third = fetch("chicago", settings, only=["stations"], progress=False)  # a group name
    assert third.files[0].status == "cached"
    assert target.read_bytes() == STATIONS_CSV
    assert site.hits[P_STATIONS] == 1
    # force downloads again, and picks up the new content
    site.put(P_STATIONS, STATIONS_CSV + b"2,x,Chicago,IL,60609,41.80,-87.60\n")
    forced = fetch("chicago", settings, only=["police_stations"], force=True, progress=False)
    assert forced.files[0].status == "downloaded"
    assert site.hits[P_STATIONS] == 2
    assert target.read_bytes().endswith(b"41.80,-87.60\n")


def test_base_url_from_environment(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.put(P_STATIONS, STATIONS_CSV)
    monkeypatch.setenv("XUNFANG_SOURCE_BASE_URL", site.base_url)
    monkeypatch.setenv("XUNFANG_CACHE_DIR", str(tmp_path / "envcache"))
    result = fetch(
        "chicago",
        get_settings(data_dir=tmp_path / "envdata"),
        only=["police_stations"],
        progress=False,
    )
    assert result.files[0].url.startswith(site.base_url)
    assert (tmp_path / "envcache/downloads").is_dir()
    assert site.hits[P_STATIONS] == 1


def test_http_404_names_the_source_and_what_to_do(site: Site, settings: Settings) -> None:
    with pytest.raises(DownloadError, match=r"source 'schools'.*9xs2-f89t.*HTTP 404") as info:
        fetch("chicago", settings, only=["schools"], progress=False, retry_backoff_s=0)
    message = str(info.value)
    assert "XUNFANG_DATA_DIR" in message
    assert "--dataset-id schools=" in message
    assert site.hits[f"/api/views/{CHICAGO_DATASET_IDS['schools']}/rows.csv"] == 1  # no retry
    assert not (settings.data_dir / "chicago/schools").exists()


def test_truncated_body_leaves_no_file(site: Site, settings: Settings) -> None:
    site.modes["/short.csv"] = "truncate"
    source = _test_source("short", "/short.csv")
    target = settings.data_dir / source.target
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old complete copy\n")
    with pytest.raises(DownloadError, match=r"source 'short'.*after 3 attempts"):
        fetch("chicago", settings, sources=[source], progress=False, retry_backoff_s=0)
    assert site.hits["/short.csv"] == 3  # first try + 2 retries
    assert target.read_bytes() == b"old complete copy\n"  # never replaced by a partial file
    assert list((settings.cache_dir / "downloads").iterdir()) == []
    assert _no_partial_files(settings.data_dir, settings.cache_dir)


def test_transient_503_is_retried(site: Site, settings: Settings) -> None:
    site.put("/flaky.csv", b"a,b\n1,2\n")
    site.modes["/flaky.csv"] = "flaky"
    result = fetch(
        "chicago",
        settings,
        sources=[_test_source("flaky", "/flaky.csv")],
        progress=False,
        retry_backoff_s=0,
    )
    assert result.files[0].status == "downloaded"
    assert site.hits["/flaky.csv"] == 2
    assert (settings.data_dir / "chicago/test/flaky.csv").read_bytes() == b"a,b\n1,2\n"


def test_gzip_content_encoding_is_decoded(site: Site, settings: Settings) -> None:
    # Socrata compresses its exports on the wire: Content-Length is then the compressed size
    body = INCIDENTS_HEADER + INCIDENTS_2014_CSV.split(b"\n", 1)[1] * 50
    site.put(P_INC_2014, body)
    site.modes[P_INC_2014] = "gzip"
    result = fetch("chicago", settings, only=["incidents_2014"], progress=False)
    target = settings.data_dir / JAN_2014
    raw = gzip.decompress(target.read_bytes())
    assert raw == body
    assert result.files[0].size_bytes == target.stat().st_size
    assert result.files[0].sha256 == _sha(target.read_bytes())


def test_yearly_export_split_into_the_monthly_files(site: Site, settings: Settings) -> None:
    site.put(P_INC_2014, INCIDENTS_3_MONTHS)
    result = fetch("chicago", settings, only=["incidents_2014"], progress=False)
    folder = settings.data_dir / "chicago/incidents_2014_2015"
    assert sorted(p.name for p in folder.iterdir()) == [
        "chicago_crimes_2014-01.csv.gz",
        "chicago_crimes_2014-03.csv.gz",
    ]
    jan = gzip.decompress((folder / "chicago_crimes_2014-01.csv.gz").read_bytes()).splitlines()
    mar = gzip.decompress((folder / "chicago_crimes_2014-03.csv.gz").read_bytes()).splitlines()
    assert [r.split(b",")[0] for r in jan] == [b"ID", b"1", b"2"]
    assert mar[1].startswith(b'3,HX3,03/05/2014 08:15:00 AM,"STATE ST, N",0820,THEFT,')
    assert [f.note for f in result.files] == [
        "2 rows of 2014-01",
        "1 rows of 2014-03; 1 rows outside 2014-01 .. 2014-12 left out",
    ]
    # the files are what `xunfang ingest --profile chicago` reads
    from xunfang.ingest.incidents import ingest

    table, _rej, report = ingest(sorted(folder.iterdir()), "chicago")
    assert report.rows_accepted == 3
    assert sorted(table.frame["incident_id"].astype(str)) == ["1", "2", "3"]


def test_timeout_raises_download_error(site: Site, settings: Settings) -> None:
    site.put("/slow.csv", b"a\n")
    site.modes["/slow.csv"] = "slow"
    with pytest.raises(DownloadError, match=r"source 'slow'.*after 1 attempt .*Timeout"):
        fetch(
            "chicago",
            settings,
            sources=[_test_source("slow", "/slow.csv")],
            progress=False,
            timeout_s=0.2,
            retries=0,
        )
    assert not (settings.data_dir / "chicago/test/slow.csv").exists()


def test_sha256_and_size_are_verified(site: Site, settings: Settings) -> None:
    body = b"id,value\n1,2\n"
    site.put("/checked.csv", body)
    wrong = _sha(b"something else")
    bad = _test_source("checked", "/checked.csv", sha256=wrong)
    pattern = rf"SHA-256 mismatch.*got {_sha(body)}, expected {wrong}"
    with pytest.raises(DownloadError, match=pattern):
        fetch("chicago", settings, sources=[bad], progress=False)
    assert not (settings.data_dir / bad.target).exists()
    assert list((settings.cache_dir / "downloads").iterdir()) == []
    short = _test_source("checked", "/checked.csv", size_bytes=len(body) + 1)
    with pytest.raises(DownloadError, match=rf"gave {len(body)} bytes, expected {len(body) + 1}"):
        fetch("chicago", settings, sources=[short], progress=False)
    good = _test_source("checked", "/checked.csv", sha256=_sha(body), size_bytes=len(body))
    result = fetch("chicago", settings, sources=[good], progress=False)
    assert result.files[0].status == "downloaded"
    assert (settings.data_dir / good.target).read_bytes() == body
    # a cache entry is re-checked against the expected hash: still good, so no new request
    assert fetch("chicago", settings, sources=[good], progress=False).files[0].status == "cached"
    assert site.hits["/checked.csv"] == 3


def test_unknown_only_name_lists_the_valid_ones(settings: Settings) -> None:
    pattern = r"only: unknown source 'beats'.*police_beats.*groups"
    with pytest.raises(ValidationError, match=pattern):
        fetch("chicago", settings, only=["beats"], progress=False)


def test_progress_bar_reports_the_download(site: Site, settings: Settings) -> None:
    site.put(P_STATIONS, STATIONS_CSV)
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=120)
    fetch("chicago", settings, only=["police_stations"], progress=True, console=console)
    assert "police_stations" in buffer.getvalue()


# --- CLI ----------------------------------------------------------------------------------


def test_cli_fetch_and_list(site: Site, tmp_path: Path) -> None:
    site.put(P_STATIONS, STATIONS_CSV)
    runner = CliRunner()
    env = {
        "XUNFANG_SOURCE_BASE_URL": site.base_url,
        "XUNFANG_CACHE_DIR": str(tmp_path / "clicache"),
        "COLUMNS": "200",
    }
    args = ["fetch", "chicago", "--only", "police_stations", "--no-progress"]
    args += ["--data-dir", str(tmp_path / "clidata")]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "police_stations" in first.output
    assert "downloaded" in first.output
    assert "1 downloaded, 0 from the cache" in first.output
    assert (tmp_path / "clidata/chicago/stations/Police_Stations.csv").read_bytes() == STATIONS_CSV
    second = runner.invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert "0 downloaded, 1 from the cache" in second.output
    assert site.hits[P_STATIONS] == 1

    failed = runner.invoke(
        app,
        [
            "fetch",
            "chicago",
            "--only",
            "schools",
            "--no-progress",
            "--data-dir",
            str(tmp_path / "clidata"),
        ],
        env=env,
    )
    assert failed.exit_code == 1
    assert "HTTP 404" in failed.output

    listed = runner.invoke(
        app, ["list", "chicago", "--dataset-id", "police_beats=aerh-rz74"], env=env
    )
    assert listed.exit_code == 0, listed.output
    assert "qnmj-8ku6" in listed.output
    assert "aerh-rz74" in listed.output
    bad = runner.invoke(app, ["list", "--dataset-id", "police_beats"], env=env)
    assert bad.exit_code != 0


# --- road graphs (osmnx's Overpass call replaced by a stub) --------------------------------


def test_area_file_stem_matches_the_shared_names() -> None:
    assert area_file_stem("NEAR WEST SIDE") == "NEAR_WEST_SIDE"
    assert area_file_stem("O'HARE") == "OHARE"
    assert area_file_stem("lake view") == "LAKE_VIEW"


@pytest.mark.realdata
def test_area_stems_of_the_shared_boundaries_match_the_shared_graph_files(data_dir: Path) -> None:
    import json

    chicago = data_dir / "chicago"
    areas = json.loads((chicago / "boundaries/community_areas.geojson").read_text())
    stems = {area_file_stem(f["properties"]["community"]) for f in areas["features"]}
    graphs = chicago / "road_network/osm_walk_by_community_area"
    files = {p.name.removesuffix(".graphml.gz") for p in graphs.glob("*.graphml.gz")}
    assert len(stems) == 77
    assert stems == files


def test_fetch_roads_builds_gzipped_graphml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import networkx as nx
    import osmnx as ox

    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    areas = settings.data_dir / "chicago/boundaries/community_areas.geojson"
    areas.parent.mkdir(parents=True)
    areas.write_bytes(COMMUNITY_AREAS_GEOJSON)
    calls: list[tuple[float, ...]] = []

    def fake_graph_from_polygon(polygon: Any, network_type: str) -> nx.MultiDiGraph:
        assert network_type == "walk"
        calls.append(tuple(round(v, 2) for v in polygon.bounds))
        graph = nx.MultiDiGraph(crs="epsg:4326")
        graph.add_node(1, x=-87.63, y=41.88, street_count=1)
        graph.add_node(2, x=-87.625, y=41.885, street_count=1)
        graph.add_edge(1, 2, osmid=10, length=650.5, highway="residential", oneway=False)
        graph.add_edge(2, 1, osmid=10, length=650.5, highway="residential", oneway=False)
        return graph

    monkeypatch.setattr(ox, "graph_from_polygon", fake_graph_from_polygon)
    result = fetch_roads("chicago", settings, areas=["loop"], progress=False)
    assert calls == [(-87.64, 41.87, -87.62, 41.89)]
    assert [(f.name, f.status) for f in result.files] == [("roads:LOOP", "built")]
    out = settings.data_dir / "chicago/road_network/osm_walk_by_community_area"
    raw = tmp_path / "LOOP.graphml"
    raw.write_bytes(gzip.decompress((out / "LOOP.graphml.gz").read_bytes()))
    graph = ox.load_graphml(raw)
    assert graph.number_of_nodes() == 2
    assert graph.number_of_edges() == 2
    assert graph.edges[1, 2, 0]["length"] == pytest.approx(650.5)
    assert (out / "_areas_summary.csv").read_text().splitlines() == [
        "community_area,nodes,edges,min_lon,min_lat,max_lon,max_lat",
        "LOOP,2,2,-87.63000,41.88000,-87.62500,41.88500",
    ]
    assert ox.settings.cache_folder != str(settings.cache_dir / "osmnx")  # restored
    # kept when present; O'HARE is found by its file stem
    again = fetch_roads("chicago", settings, areas=["LOOP", "OHARE"], progress=False)
    assert [(f.name, f.status) for f in again.files] == [
        ("roads:LOOP", "present"),
        ("roads:OHARE", "built"),
    ]
    assert len(calls) == 2
    assert _no_partial_files(out)
    with pytest.raises(ValidationError, match=r"unknown community area 'Gotham'.*LOOP, OHARE"):
        fetch_roads("chicago", settings, areas=["Gotham"], progress=False)


def test_fetch_roads_wraps_overpass_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import osmnx as ox

    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    areas = settings.data_dir / "chicago/boundaries/community_areas.geojson"
    areas.parent.mkdir(parents=True)
    areas.write_bytes(COMMUNITY_AREAS_GEOJSON)

    def offline(polygon: Any, network_type: str) -> None:
        raise requests.ConnectionError("no route to overpass-api.de")

    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    with pytest.raises(DownloadError, match=r"road graph 'LOOP': the Overpass API request failed"):
        fetch_roads("chicago", settings, areas=["LOOP"], progress=False)

    def empty(polygon: Any, network_type: str) -> None:
        raise ValueError("Found no graph nodes within the requested polygon")

    monkeypatch.setattr(ox, "graph_from_polygon", empty)
    with pytest.raises(NetworkError, match=r"road graph 'LOOP': osmnx built no walk network"):
        fetch_roads("chicago", settings, areas=["LOOP"], progress=False)
    out = settings.data_dir / "chicago/road_network/osm_walk_by_community_area"
    assert not (out / "LOOP.graphml.gz").exists()
    assert not (out / "_areas_summary.csv").exists()


# --- an OpenStreetMap extract for a user's boundary ---------------------------------------

FIXTURE_OSM = Path(__file__).parents[1] / "fixtures" / "oneway_block.osm"


def test_osm_extract_for_a_boundary(site: Site, tmp_path: Path) -> None:
    """`xunfang data osm` asks Overpass for the boundary's box and writes an .osm file that
    --roads reads (the answer here is the SYNTHETIC four-node block)."""
    from xunfang.ingest.roads import read_road_network
    from xunfang.ingest.sources import overpass_query

    site.put("/api/interpreter", FIXTURE_OSM.read_bytes())
    boundary = tmp_path / "b.geojson"
    boundary.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"block"},"geometry":{"type":"Polygon","coordinates":'
        "[[[121.4700,31.2300],[121.4712,31.2300],[121.4712,31.2312],[121.4700,31.2312],"
        "[121.4700,31.2300]]]}}]}",
        encoding="utf-8",
    )
    out = tmp_path / "roads" / "block.osm"
    env = {
        "XUNFANG_SOURCE_BASE_URL": site.base_url,
        "XUNFANG_CACHE_DIR": str(tmp_path / "osmcache"),
        "COLUMNS": "200",
    }
    args = ["osm", "--boundary", str(boundary), "--out", str(out), "--margin-m", "0"]
    res = CliRunner().invoke(app, [*args, "--no-progress"], env=env)
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == FIXTURE_OSM.read_bytes()
    assert "4 nodes, 7 ways" in res.output.replace("\n", " ")
    assert site.hits["/api/interpreter"] == 1
    # the query asks for the box (south, west, north, east) and the ways' nodes
    q = overpass_query((121.47, 31.23, 121.4712, 31.2312))
    assert "(31.230000,121.470000,31.231200,121.471200)" in q and q.endswith("(._;>;);out body;")
    net = read_road_network(out, "EPSG:32651")
    assert net.report.one_way_known  # read as OSM XML, with its one-way street
    # a second run comes from the cache
    res = CliRunner().invoke(app, [*args, "--no-progress"], env=env)
    assert res.exit_code == 0 and res.output.startswith("cached")
    assert site.hits["/api/interpreter"] == 1
    # an Overpass error page is refused, not written as an .osm file
    site.put("/api/interpreter", b"<html><body>rate_limited</body></html>")
    res = CliRunner().invoke(app, [*args, "--no-progress", "--force"], env=env)
    assert res.exit_code == 1
    assert "did not answer OpenStreetMap XML" in res.output.replace("\n", " ")
    assert not out.exists()
