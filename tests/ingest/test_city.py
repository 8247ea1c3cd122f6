"""A city as data: boundary files in four formats, frames, site files, city files.

The polygons and points here are SYNTHETIC, made in the tests: squares of known size in
UTM zone 51N (EPSG:32651, around Shanghai) and a few points.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

from xunfang.errors import AreaNotFoundError, DataFileError, DataWarning
from xunfang.ingest.areas import read_boundary_file
from xunfang.ingest.city import City, default_city, resolve_city, to_output_frame
from xunfang.ingest.coords import gcj02_to_wgs84, wgs84_to_gcj02
from xunfang.ingest.sites import read_sites
from xunfang.plan.city_plan import area_folder
from xunfang.units import WGS84

UTM51 = "EPSG:32651"
X0, Y0 = 352_000.0, 3_456_000.0  # near People's Square, metres in EPSG:32651


def _two_squares() -> gpd.GeoDataFrame:
    """West: 1 km x 1 km; east: 2 km x 1 km, side by side (EPSG:32651)."""
    return gpd.GeoDataFrame(
        {"name": ["west", "east"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 3000, Y0 + 1000)],
        crs=UTM51,
    )


def _write(tmp: Path, fmt: str) -> Path:
    gdf = _two_squares()
    if fmt == "geojson":
        path = tmp / "b.geojson"
        gdf.to_crs(WGS84).to_file(path, driver="GeoJSON")
    elif fmt == "gpkg":
        path = tmp / "b.gpkg"
        gdf.to_file(path, driver="GPKG")  # stays in UTM: "any CRS"
    elif fmt == "shpzip":
        folder = tmp / "shp"
        folder.mkdir()
        gdf.to_file(folder / "b.shp")
        path = tmp / "b.zip"
        with zipfile.ZipFile(path, "w") as z:
            for f in folder.iterdir():
                z.write(f, f.name)
    else:
        path = tmp / "b.kml"
        gdf.to_crs(WGS84).rename(columns={"name": "Name"}).to_file(path, driver="KML")
    return path


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shpzip", "kml"])
def test_boundary_formats_and_names(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path, fmt)
    layer = read_boundary_file(path)
    assert sorted(layer["name"]) == ["east", "west"]
    assert layer.crs == WGS84
    city = resolve_city(boundary=path, boundary_name="east", crs=UTM51)
    area = city.study_area(None)
    # 2 km x 1 km, back in the same UTM zone after the round trip through WGS-84
    assert area.area_km2 == pytest.approx(2.0, rel=1e-6)
    both = resolve_city(boundary=path, boundary_name="west,east", crs=UTM51).study_area(None)
    assert both.area_km2 == pytest.approx(3.0, rel=1e-6)
    assert both.members == ("west", "east")
    # many polygons and no name: the error lists the names and the option
    with pytest.raises(AreaNotFoundError, match=r"--boundary-name \(names: east, west\)"):
        resolve_city(boundary=path).study_area(None)
    with pytest.raises(
        AreaNotFoundError, match=r"no boundary named north .*known names: east, west"
    ):
        resolve_city(boundary=path, boundary_name="north").study_area(None)


def test_boundary_name_property_guessed_or_warned(tmp_path: Path) -> None:
    """A tester's boundary named its polygons in ``辖区名``: they came out "polygon 1/2"."""
    polys = [box(121.47, 31.22, 121.48, 31.23), box(121.48, 31.22, 121.49, 31.23)]
    path = tmp_path / "xqm.geojson"
    gpd.GeoDataFrame(
        {"编号": ["A1", "A2"], "辖区名": ["豫园责任区", "外滩责任区"], "面积": [1.0, 2.0]},
        geometry=polys,
        crs=WGS84,
    ).to_file(path)
    assert read_boundary_file(path)["name"].tolist() == ["豫园责任区", "外滩责任区"]
    # no name-like property: the first of distinct non-empty strings
    path2 = tmp_path / "code.geojson"
    gpd.GeoDataFrame(
        {"类型": ["派出所", "派出所"], "编号": ["A1", "A2"]}, geometry=polys, crs=WGS84
    ).to_file(path2)
    assert read_boundary_file(path2)["name"].tolist() == ["A1", "A2"]
    # none at all (repeated or empty values): fallback names, and a warning naming what is there
    path3 = tmp_path / "none.geojson"
    gpd.GeoDataFrame(
        {"类型": ["派出所", "派出所"], "辖区名": ["", "外滩"]}, geometry=polys, crs=WGS84
    ).to_file(path3)
    with pytest.warns(
        DataWarning,
        match=r"no property names its 2 polygon\(s\) \(properties: "
        r"类型, 辖区名\).*--boundary-name-field",
    ):
        names = read_boundary_file(path3)["name"].tolist()
    assert names == ["polygon 1", "polygon 2"]
    # named on the command line: --boundary-name-field (a city file's name_field)
    city = resolve_city(boundary=path2, boundary_name_field="类型")
    assert city.layer("boundary").read()["name"].tolist() == ["派出所", "派出所"]
    # both polygons share that name: no name needed, the area is their union
    assert city.study_area().name == "派出所"
    # a named property with an empty value is refused, naming it (was a traceback)
    with pytest.raises(
        DataFileError,
        match=r"property '辖区名' is empty for 1 of 2 polygons "
        r"\(the first: polygon 1\)",
    ) as e:
        read_boundary_file(path3, name_field="辖区名")
    assert e.value.field == "辖区名"
    assert area_folder("boundary:polygon 1") == "boundary_polygon_1"
    assert area_folder("district:7") == "district_7"


def test_boundary_not_a_vector_file(tmp_path: Path) -> None:
    bad = tmp_path / "b.geojson"
    bad.write_text("not json at all")
    with pytest.raises(DataFileError, match=r"\.geojson.*\.kml"):
        read_boundary_file(bad)
    points = tmp_path / "p.geojson"
    gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=gpd.points_from_xy([121.47], [31.23]), crs=WGS84
    ).to_file(points)
    with pytest.raises(DataFileError, match=r"has no polygon \(found \['Point'\]\)"):
        read_boundary_file(points)


def test_boundary_in_gcj02(tmp_path: Path) -> None:
    # a WGS-84 square around People's Square, written as a Chinese map platform gives it
    ring = np.array([[121.470, 31.228], [121.480, 31.228], [121.480, 31.236], [121.470, 31.236]])
    glon, glat = wgs84_to_gcj02(ring[:, 0], ring[:, 1])
    path = tmp_path / "gcj.geojson"
    gpd.GeoDataFrame(
        {"name": ["square"]}, geometry=[Polygon(np.column_stack([glon, glat]))], crs=WGS84
    ).to_file(path)
    back = read_boundary_file(path, frame="gcj02").geometry.iloc[0]
    got = shapely.get_coordinates(back)[:4]
    # read in its frame: the WGS-84 vertices again, to 1e-6 degrees (about 0.1 m)
    order = np.lexsort((got[:, 1], got[:, 0]))
    want = ring[np.lexsort((ring[:, 1], ring[:, 0]))]
    np.testing.assert_allclose(got[order], want, atol=1e-6)
    # read as WGS-84 by mistake: the GCJ-02 shift (several hundred metres in Shanghai)
    wrong = read_boundary_file(path).geometry.iloc[0]
    tr = Transformer.from_crs(WGS84, UTM51, always_xy=True)
    a = np.array(tr.transform(back.centroid.x, back.centroid.y))
    b = np.array(tr.transform(wrong.centroid.x, wrong.centroid.y))
    assert 400.0 < float(np.hypot(*(a - b))) < 700.0


def test_stations_from_excel_with_stated_frame(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["名称", "经度", "纬度", "坐标系"])
    ws.append(["甲所", 121.4745349, 31.2280675, "GCJ-02"])
    ws.append(["乙所", "121.4835051", "31.2245412", "gcj02"])
    path = tmp_path / "stations.xlsx"
    wb.save(path)
    sites = read_sites(path, frame=None)
    assert list(sites["name"]) == ["甲所", "乙所"]
    assert sites.attrs["frame"] == "gcj02"
    lon, lat = gcj02_to_wgs84(
        np.array([121.4745349, 121.4835051]), np.array([31.2280675, 31.2245412])
    )
    np.testing.assert_allclose(sites.geometry.x, lon, atol=1e-9)
    np.testing.assert_allclose(sites.geometry.y, lat, atol=1e-9)
    # the example's station 甲 was made from WGS-84 121.4700, 31.2300
    assert sites.geometry.x.iloc[0] == pytest.approx(121.4700, abs=2e-6)
    assert sites.geometry.y.iloc[0] == pytest.approx(31.2300, abs=2e-6)
    # a frame given that contradicts the file's is refused
    with pytest.raises(DataFileError, match="states frame gcj02 but bd09"):
        read_sites(path, frame="bd09")


def test_sites_bad_row_and_format(tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("name,lon,lat\na,121.47,31.23\nb,,31.23\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"row 3, field 'lon'"):  # line 3: header is 1
        read_sites(csv)
    doc = tmp_path / "s.docx"
    doc.write_bytes(b"PK")
    with pytest.raises(DataFileError, match=r"\.csv, \.txt, \.xlsx"):
        read_sites(doc)
    # a vector file's site is named by its feature (1-based), not a row
    from xunfang.serve._common import error_text

    vec = tmp_path / "s.geojson"
    _two_squares().to_crs(WGS84).to_file(vec, driver="GeoJSON")
    with pytest.raises(DataFileError) as info:
        read_sites(vec)
    assert str(info.value) == f"{vec}, feature 1: site files hold points; this feature is a Polygon"
    assert (
        error_text(str(info.value), "zh") == f"{vec} 第 1 个要素：点位文件应为点；该要素是 Polygon"
    )
    pts = _two_squares()
    pts.geometry = pts.geometry.centroid
    pts.to_crs(WGS84).to_file(vec, driver="GeoJSON")
    assert read_sites(vec).attrs["source_rows"].tolist() == [1, 2]


def test_output_frame_round_trip() -> None:
    pts = gpd.GeoDataFrame(
        {"lon": [121.47, 121.48], "lat": [31.23, 31.235]},
        geometry=gpd.points_from_xy([121.47, 121.48], [31.23, 31.235]),
        crs=WGS84,
    )
    out = to_output_frame(pts, "gcj02")
    glon, glat = wgs84_to_gcj02(np.array([121.47, 121.48]), np.array([31.23, 31.235]))
    np.testing.assert_allclose(out["lon"], glon)
    np.testing.assert_allclose(out.geometry.x, glon)
    np.testing.assert_allclose(out.geometry.y, glat)
    back_lon, back_lat = gcj02_to_wgs84(out["lon"].to_numpy(), out["lat"].to_numpy())
    np.testing.assert_allclose(back_lon, [121.47, 121.48], atol=1e-7)
    np.testing.assert_allclose(back_lat, [31.23, 31.235], atol=1e-7)
    assert to_output_frame(pts, "wgs84") is pts


def test_areas_lists_the_city_files_first_layer_by_default(tmp_path: Path) -> None:
    """`xunfang areas --city FILE` without a layer lists the city's first layer (a district
    whose only layer is `zone` was asked for `district`)."""
    from typer.testing import CliRunner

    from xunfang.serve.cli import app

    path = _write(tmp_path, "geojson")
    toml = tmp_path / "c.toml"
    toml.write_text(
        'name = "test city"\ntimezone = "Asia/Shanghai"\nframe = "wgs84"\n'
        f'[[boundaries]]\nkind = "zone"\nfile = "{path.name}"\n',
        encoding="utf-8",
    )
    r = CliRunner().invoke(app, ["areas", "--city", str(toml)])
    assert r.exit_code == 0, r.output
    assert "2 zone names (use as --area zone:NAME):" in r.output
    assert "east" in r.output and "west" in r.output
    bad = CliRunner().invoke(app, ["areas", "district", "--city", str(toml)])
    assert bad.exit_code == 2
    assert "has no boundary layer 'district'; layers: zone" in bad.output


def test_a_missing_incident_file_beside_others_is_an_error(tmp_path: Path) -> None:
    """A city file listing two incident files, one misspelt: an error naming it (a tester
    planned on 252 of 509 incidents without a word)."""
    path = _write(tmp_path, "geojson")
    (tmp_path / "a.csv").write_text("id\n", encoding="utf-8")
    toml = tmp_path / "c.toml"
    toml.write_text(
        'name = "test city"\ntimezone = "Asia/Shanghai"\nframe = "wgs84"\n'
        'incidents = ["a.csv", "b.xlsx"]\n'
        f'[[boundaries]]\nkind = "zone"\nfile = "{path.name}"\n',
        encoding="utf-8",
    )
    city = City.from_toml(toml)
    with pytest.raises(DataFileError, match=r"b\.xlsx: file not found"):
        city.incident_files()
    with pytest.raises(DataFileError, match=r"b\.xlsx: file not found"):
        city.incident_files(required=False)
    (tmp_path / "b.xlsx").write_bytes(b"")
    assert [p.name for p in city.incident_files()] == ["a.csv", "b.xlsx"]


def test_city_file_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, "geojson")
    toml = tmp_path / "c.toml"
    toml.write_text(
        'name = "test city"\ntimezone = "Asia/Shanghai"\nframe = "wgs84"\ncrs = "EPSG:32651"\n'
        'schools = "schools.csv"\n'
        f'[[boundaries]]\nkind = "zone"\nfile = "{path.name}"\ndefault = "west"\n'
        '[roads]\nfile = "roads.osm"\ncountry = "CN"\n',
        encoding="utf-8",
    )
    city = City.from_toml(toml)
    assert city.study_area(None).area_km2 == pytest.approx(1.0, rel=1e-6)
    assert city.study_area("zone:east").name == "zone:east"
    assert city.roads is not None and city.roads.path == tmp_path / "roads.osm"
    again = City.from_dict(city.to_dict(), source=city.source)
    assert again == city
    assert city.extra["schools"] == tmp_path / "schools.csv"
    assert again.extra["schools"] == tmp_path / "schools.csv"
    toml.write_text('frme = "gcj02"\n[[boundaries]]\nfile = "x.geojson"\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"unknown field\(s\) \['frme'\]"):
        City.from_toml(toml)
    toml.write_text('[[boundaries]]\nfile = "x.geojson"\nfrme = "gcj02"\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"field 'boundaries\[0\].frme'.*in boundaries\[0\]"):
        City.from_toml(toml)


@pytest.mark.realdata
def test_chicago_is_a_city_file(data_dir: Path) -> None:
    from xunfang.ingest.areas import load_study_area

    packaged = Path(__file__).parents[2] / "src/xunfang/data/cities/chicago.toml"
    example = Path(__file__).parents[2] / "examples/cities/chicago.toml"
    assert packaged.read_text("utf-8") == example.read_text("utf-8")
    city = default_city(data_dir)
    new = city.study_area("district:1")
    old = load_study_area(data_dir / "chicago/boundaries", "district:1")
    assert (new.name, new.kind, new.members, new.crs) == (old.name, old.kind, old.members, old.crs)
    assert new.polygon.equals(old.polygon)
    assert city.study_area("LOOP").kind == "community"
    stations = city.stations_for(new)
    assert "District 1 station" in list(stations["name"])
    files = city.incident_files()
    assert len(files) == 18 and files[0].name == "chicago_crimes_2014-01.csv.gz"
    schools = Path(city.extra["schools"])
    assert schools.name == "ChicagoPublicSchools_2011-12.csv" and schools.is_file()


@pytest.mark.realdata
def test_district_1_network_unchanged(data_dir: Path) -> None:
    """The city file's recipe gives the network the Chicago code gave: the same nodes in the
    same order (plans made before keep their node indices) and the same travel times."""
    from xunfang.ingest.areas import load_study_area
    from xunfang.ingest.network import build_area_network

    area = load_study_area(data_dir / "chicago/boundaries", "district:1")
    old = build_area_network(data_dir / "chicago", area)
    new = default_city(data_dir).road_network(default_city(data_dir).study_area("district:1"))
    np.testing.assert_array_equal(new.node_ids, old.node_ids)
    assert (new.matrix != old.matrix).nnz == 0
    assert new.report.areas == old.report.areas


SHANGHAI_OSM = "shanghai-osm/central_shanghai_drive.osm"
EXAMPLE_SH = Path(__file__).parents[2] / "examples" / "shanghai"


@pytest.mark.realdata
def test_country_auto_picks_cn_in_mainland_china(data_dir: Path) -> None:
    """Roads given as a file with no country: the speed table is CN in Shanghai (auto), the
    same network as the city file that states CN; ``--country US`` gives the Illinois table
    and Chicago stays on the default one (issue 9, finding 2)."""
    from xunfang.ingest.osm import CLASS_SPEEDS_KPH

    if not (data_dir / SHANGHAI_OSM).is_file():
        pytest.skip("no Shanghai extract")
    flags = resolve_city(
        boundary=EXAMPLE_SH / "boundary_gcj02.geojson",
        boundary_name="西片",
        frame="gcj02",
        roads=data_dir / SHANGHAI_OSM,
    )
    area = flags.study_area(None)
    country, label = flags.road_country(area)
    assert country == "CN" and "auto" in label
    net = flags.road_network(area)
    assert net.report.speed_table == "CN"
    assert any("CN road-class table (country auto" in n for n in net.report.notes)
    stated = City.from_toml(EXAMPLE_SH / "city.toml", data_dir=data_dir)
    net_cn = stated.road_network(stated.study_area("area:西片"))
    assert (net.matrix != net_cn.matrix).nnz == 0
    # residential streets without maxspeed at the CN 20 km/h, not the US 30
    e = net.edges
    res = e[(e["highway"] == "residential")]
    assert np.isclose(res["speed_kph"].median(), CLASS_SPEEDS_KPH["CN"]["residential"])
    us = resolve_city(
        boundary=EXAMPLE_SH / "boundary_gcj02.geojson",
        boundary_name="西片",
        frame="gcj02",
        roads=data_dir / SHANGHAI_OSM,
        country="US",
    )
    assert us.road_country(area)[0] == "US"
    assert (us.road_network(area).matrix != net.matrix).nnz > 0
    with pytest.raises(Exception, match="no road-class speed table for country 'XX'"):
        resolve_city(
            boundary=EXAMPLE_SH / "boundary_gcj02.geojson", roads=data_dir / SHANGHAI_OSM,
            country="XX",
        ).road_country(area)  # fmt: skip
    chicago = default_city(data_dir)  # its file states US; auto outside China: default
    assert chicago.road_country(chicago.study_area("district:1"))[0] == "US"
    auto = resolve_city(country="auto", data_dir=data_dir)
    assert auto.road_country(auto.study_area("district:1"))[0] is None


SMALL_BOX_GCJ02 = (
    '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"测试片区"},'
    '"geometry":{"type":"Polygon","coordinates":[[[121.47453447,31.22306516],'
    "[121.48450159,31.22303768],[121.48450245,31.23304230],[121.47453533,31.23306978],"
    "[121.47453447,31.22306516]]]}}]}"
)


@pytest.mark.realdata
def test_clip_margin_keeps_the_areas_own_streets(data_dir: Path, tmp_path: Path) -> None:
    """On the tester's 1 km box a 400 m margin cut one-way streets at its edge and the
    largest strongly connected component lost the area's own streets; the default margin
    keeps as much road inside the area as the whole file does, and the report measures
    it: in-area length of the kept pieces over that before the component was taken
    (issue 9, finding 5)."""
    from dataclasses import replace

    import shapely as shp

    from xunfang.ingest.roads import DEFAULT_CLIP_MARGIN_M

    if not (data_dir / SHANGHAI_OSM).is_file():
        pytest.skip("no Shanghai extract")
    boundary = tmp_path / "small.geojson"
    boundary.write_text(SMALL_BOX_GCJ02, encoding="utf-8")
    city = resolve_city(boundary=boundary, frame="gcj02", roads=data_dir / SHANGHAI_OSM)
    assert city.roads is not None and city.roads.clip_margin_m == DEFAULT_CLIP_MARGIN_M == 1500
    area = city.study_area(None)

    def kept(margin_m: float) -> tuple[float, float, float]:
        c = replace(city, roads=replace(city.roads, clip_margin_m=margin_m))
        net = c.road_network(area)
        rep = net.report
        assert rep.area_road_km is not None and rep.area_road_km_kept is not None
        # by hand: the kept pieces' length inside the polygon
        by_hand = shp.length(shp.intersection(net.edges.geometry.to_numpy(), area.polygon))
        assert rep.area_road_km_kept == pytest.approx(by_hand.sum() / 1000, rel=1e-9)
        return rep.area_road_km, rep.area_road_km_kept, net.n_nodes

    narrow = kept(400.0)
    default = kept(DEFAULT_CLIP_MARGIN_M)
    whole = kept(50_000.0)
    assert narrow[1] < 0.8 * default[1]  # 13.0 km against 16.8 km
    assert default[1] == pytest.approx(whole[1])
    assert default[0] == pytest.approx(narrow[0], rel=0.02)  # the same streets before
    net = city.road_network(area)
    share = 100 * default[1] / default[0]
    assert f"{share:.1f} % of the {default[0]:.1f} km of road inside the study area kept" in (
        " ".join(net.report.notes)
    )


def test_shapefile_without_prj_is_named(tmp_path: Path) -> None:
    """A zipped Shapefile in UTM metres without its .prj: the file is named and the
    message says the CRS is missing (issue 9, finding 9: it was "cannot choose a UTM
    zone for lon=352000.0 ..." without the file)."""
    folder = tmp_path / "shp"
    folder.mkdir()
    _two_squares().to_file(folder / "b.shp")
    (folder / "b.prj").unlink()
    path = tmp_path / "b_noprj.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in folder.iterdir():
            z.write(f, f.name)
    with pytest.raises(DataFileError) as err:
        read_boundary_file(path)
    msg = str(err.value)
    assert "b_noprj.zip" in msg and "states no CRS" in msg and "add the .prj file" in msg
    assert f"x {X0:,.1f} to {X0 + 3000:,.1f}" in msg
    # a file without CRS in degrees is still read as lon/lat
    (folder / "b.shp").unlink()
    _two_squares().to_crs(WGS84).to_file(folder / "d.shp")
    (folder / "d.prj").unlink()
    assert len(read_boundary_file(folder / "d.shp")) == 2


def test_boundary_layer_read_once_until_the_file_changes(tmp_path: Path) -> None:
    """A layer is read once per file version; the copy returned is the caller's own, and a
    rewritten file (another size) is read again."""
    import os

    from xunfang.ingest.city import BoundaryLayer

    path = _write(tmp_path, "geojson")
    layer = BoundaryLayer("district", path)
    first = layer.read()
    first.loc[0, "name"] = "changed by the caller"
    second = layer.read()
    assert sorted(second["name"]) == ["east", "west"]
    three = gpd.GeoDataFrame(
        {"name": ["west", "east", "north"]},
        geometry=[*_two_squares().geometry, box(X0, Y0 + 1000, X0 + 1000, Y0 + 2000)],
        crs=UTM51,
    )
    st = path.stat()
    three.to_crs(WGS84).to_file(path, driver="GeoJSON")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same time: the size tells
    assert sorted(layer.read()["name"]) == ["east", "north", "west"]
    path.unlink()
    with pytest.raises(DataFileError, match="not found"):
        layer.read()


def test_a_city_files_missing_stations_file_is_one_error_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A city file whose `stations` names no file: one error naming the city file, the field
    and the stations file when the city file is read (a tester saw each district of
    `--area KIND:all` fail on it in turn, and `deploy --plan-dir` go on without a word)."""
    from typer.testing import CliRunner

    from xunfang.serve._common import error_text
    from xunfang.serve.cli import app

    path = _write(tmp_path, "geojson")
    toml = tmp_path / "c.toml"
    head = 'name = "test city"\ntimezone = "Asia/Shanghai"\nframe = "wgs84"\n'
    layer = f'[[boundaries]]\nkind = "zone"\nfile = "{path.name}"\n'
    toml.write_text(head + 'stations = "nowhere.csv"\n' + layer, encoding="utf-8")
    missing = tmp_path / "nowhere.csv"
    message = (
        f"{toml}, field 'stations': the stations file {missing} does not exist: correct the "
        "path (a relative path is read from the city file's folder, data:PATH from the data "
        "directory) or remove the field"
    )
    with pytest.raises(DataFileError) as info:
        City.from_toml(toml)
    assert str(info.value) == message
    assert error_text(message, "zh") == (
        f"{toml}，字段 'stations'：派出所文件 {missing} 不存在：请改正路径（相对路径从城市文件"
        "所在文件夹算起，data:路径 从数据目录算起）或删去该字段"
    )
    r = CliRunner().invoke(
        app, ["plan", "--city", str(toml), "--area", "zone:all", "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 2
    assert " ".join(r.output.split()) == f"error: {message}"
    # once the file is there, the city reads
    missing.write_text("name,lon,lat\n", encoding="utf-8")
    assert City.from_toml(toml).stations == missing
    # a data: path in a data directory that does not exist is left to the boundary's error,
    # which says where it looked and how to set it
    monkeypatch.setenv("XUNFANG_DATA_DIR", str(tmp_path / "no_data"))
    toml.write_text(head + 'stations = "data:x/s.csv"\n' + layer, encoding="utf-8")
    assert City.from_toml(toml).stations == (tmp_path / "no_data/x/s.csv").resolve()


def test_kind_all_as_one_area_is_refused_saying_what_to_give(tmp_path: Path) -> None:
    """`--area KIND:all` means each polygon on its own (`xunfang plan`); a command of one
    area (a tester ran `forecast evaluate --area district:all`) is told what to give
    instead, not "no area named all"."""
    from typer.testing import CliRunner

    from xunfang.errors import ValidationError
    from xunfang.serve._common import error_text
    from xunfang.serve.cli import app

    path = _write(tmp_path, "geojson")
    toml = tmp_path / "c.toml"
    toml.write_text(
        'name = "test city"\ntimezone = "Asia/Shanghai"\nframe = "wgs84"\n'
        f'[[boundaries]]\nkind = "zone"\nfile = "{path.name}"\n',
        encoding="utf-8",
    )
    city = City.from_toml(toml)
    message = (
        "--area zone:all means each zone on its own, which only `xunfang plan` does (deploy "
        "and simulate run then take its folder with --plan-dir); this command works on one "
        "area: give --area city for the whole city as one area, --area zone:east,west for "
        "some of them as one, or run it once per zone (`xunfang areas zone` lists them)"
    )
    with pytest.raises(ValidationError) as info:
        city.study_area("zone:all")
    assert str(info.value) == message
    with pytest.raises(ValidationError, match=r"^--area all means each zone on its own"):
        city.study_area("all")
    assert error_text(message, "zh") == (
        "--area zone:all 表示逐个处理每个 zone，只有 `xunfang plan` 这样做（deploy 和 simulate "
        "run 再用 --plan-dir 读取其输出文件夹）；本命令只处理一个区域：整个城市作为一个区域请用 "
        "--area city，其中几个合为一个区域请用 --area zone:east,west，或对每个 zone 各运行一次"
        "（`xunfang areas zone` 列出全部名称）"
    )
    # what it says to give works: the whole city (3 km²) or the list as one area
    assert city.study_area("city").area_km2 == pytest.approx(3.0, rel=1e-6)
    assert city.study_area("zone:east,west").area_km2 == pytest.approx(3.0, rel=1e-6)
    # forecast evaluate on the example city (its incidents are in the repository)
    example = Path(__file__).parents[2] / "examples/shanghai/city.toml"
    args = ["forecast", "evaluate", "--city", str(example), "--area", "area:all"]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "fc")])
    assert r.exit_code == 2
    assert " ".join(r.output.split()).startswith(
        "error: --area area:all means each area on its own, which only `xunfang plan` does"
    )


def test_a_bow_tie_boundary_keeps_both_halves_and_says_so(tmp_path: Path) -> None:
    # Synthetic: a self-intersecting ring (0,0) (2,2) (2,0) (0,2) in units of 0.01 degree,
    # two triangles of 1 unit each crossing at (1,1). buffer(0) kept one of them (half the
    # area, without a word); the repair keeps both, 2 units = 2e-4 square degrees, and warns
    # naming the file and the feature.
    u = 0.01
    ring = [(121.4 + x * u, 31.2 + y * u) for x, y in ((0, 0), (2, 2), (2, 0), (0, 2), (0, 0))]
    gdf = gpd.GeoDataFrame({"name": ["bow"]}, geometry=[Polygon(ring)], crs=WGS84)
    path = tmp_path / "bow.geojson"
    gdf.to_file(path, driver="GeoJSON")
    assert float(shapely.buffer(Polygon(ring), 0).area) == pytest.approx(1e-4)  # the old way
    with pytest.warns(DataWarning, match=r"bow\.geojson, feature 1: invalid polygon \(Self"):
        layer = read_boundary_file(path)
    geom = layer.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    assert float(geom.area) == pytest.approx(2e-4)
