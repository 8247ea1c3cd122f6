"""A city as data: boundary, roads, stations, incident sources, time zone and frames.

Every command that works on a study area (``plan``, ``deploy``, ``simulate run``,
``forecast evaluate``, ``serve``) gets its boundary, road network, stations and incident
files from one :class:`City`, built in one of three ways:

* from a small city file (``--city city.toml``, :meth:`City.from_toml`);
* from options naming the parts as files (``--boundary``, ``--roads``, ``--stations``,
  ``--incidents``, ``--profile``/``--mapping``, ``--frame``, ``--boundary-name``;
  :func:`resolve_city`);
* with neither, the default city file: ``XUNFANG_CITY`` when set, else the Chicago file
  that ships with xunfang (``xunfang/data/cities/chicago.toml``, the same as
  ``examples/cities/chicago.toml``), read under ``XUNFANG_DATA_DIR``.

A city file (paths relative to the file; ``data:`` means the data directory)::

    name = "central Shanghai (synthetic example)"
    timezone = "Asia/Shanghai"
    frame = "gcj02"                 # frame of its lon/lat input files: wgs84, gcj02, bd09
    crs = "EPSG:32651"              # optional; default the UTM zone of the study area
    country = "CN"                  # class speed table of the roads
    stations = "stations.csv"       # optional
    station_buffer_m = 500
    schools = "schools.csv"         # optional: sites (name, lon/lat) for forecast layers
    incidents = ["incidents_110_synthetic.csv"]   # paths or glob patterns
    mapping = "mapping_110.toml"    # or profile = "chicago"
    [[boundaries]]                  # one or more layers; the first is the default
    kind = "district"
    file = "boundary.geojson"       # GeoJSON, GeoPackage, Shapefile (.zip/folder), KML
    name_field = "name"             # optional
    default = "黄浦示例区"            # optional: the polygon used without --area
    [roads]
    file = "data:shanghai-osm/central_shanghai_drive.osm"
    clip_margin_m = 1500             # the default: streets kept around the area

Chicago's road graphs are one OSMnx walk graph per community area: its file says
``per_area = "data:chicago/road_network/osm_walk_by_community_area/{AREA}.graphml.gz"``
with ``area_layer = "community"``, and the network of a study area stitches the graphs of
the community areas it touches (:func:`xunfang.ingest.network.build_network`).

A study area is named ``KIND:NAME[,NAME...]`` (``district:1``), a bare name looked up in
the layers in order, ``city`` for the union of the roads' area layer (or the first layer),
or nothing, for the layer's ``default`` polygon or its only one.
"""

from __future__ import annotations

import functools
import glob
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from xunfang.config import missing_data_hint
from xunfang.errors import AreaNotFoundError, DataFileError, ValidationError, read_toml_text
from xunfang.ingest.areas import StudyArea, _norm, area_from_layer, read_boundary_file
from xunfang.ingest.incidents import (
    PROFILES,
    Profile,
    ingested_folder_table,
    ingested_inputs,
    profile_from_toml,
)
from xunfang.ingest.network import RoadNetwork, build_network
from xunfang.ingest.network_cache import CacheStatus, cached_network, cut_network
from xunfang.ingest.notes import Note
from xunfang.ingest.profiles import FrameName
from xunfang.ingest.roads import DEFAULT_CLIP_MARGIN_M, read_road_network
from xunfang.ingest.sites import read_sites
from xunfang.units import WGS84, utm_crs_for

__all__ = [
    "FRAMES",
    "BoundaryLayer",
    "City",
    "RoadSource",
    "default_city",
    "resolve_city",
    "stated_frames",
    "unstated_frame_note",
]

FRAMES = ("wgs84", "gcj02", "bd09")
"""Coordinate frames of lon/lat input files."""
DEFAULT_CITY_ENV = "XUNFANG_CITY"
"""Environment variable naming the default city file."""
_PACKAGED_DEFAULT = "chicago.toml"


def _check_frame(frame: str, where: str) -> str:
    key = str(frame).strip().lower().replace("-", "").replace("_", "")
    if key not in FRAMES:
        raise ValidationError(f"{where}: frame {frame!r} is not one of {', '.join(FRAMES)}")
    return key


@dataclass(frozen=True)
class BoundaryLayer:
    """One boundary file of a city.

    Attributes
    ----------
    kind
        The layer's name in area names (``district`` in ``district:1``).
    path
        The file (see :data:`xunfang.ingest.areas.BOUNDARY_FORMATS`).
    name_field
        Property naming each polygon; ``None`` to guess.
    default
        The polygon(s) chosen when no area name is given.
    frame
        Frame of a lon/lat file.
    """

    kind: str
    path: Path
    name_field: str | None = None
    default: str | None = None
    frame: str = "wgs84"

    def read(self) -> gpd.GeoDataFrame:
        """The layer's polygons (``name``, ``geometry`` EPSG:4326), a copy of the caller's own.

        A one-file layer is read once per process while the file keeps its size and
        modification time (a city plan asks for the layer several times per district: each
        read of Chicago's 1.2 MB police-district GeoJSON took 0.07 s of CPU); a Shapefile
        (whose side files may change alone) is read every time.

        Raises
        ------
        DataFileError
            As :func:`xunfang.ingest.areas.read_boundary_file` (errors are not kept).
        """
        path = Path(self.path)
        try:
            st = path.stat()
        except OSError:
            st = None
        if st is None or not path.is_file() or path.suffix.lower() == ".shp":
            return read_boundary_file(path, name_field=self.name_field, frame=self.frame)
        return _read_layer_once(
            path, st.st_mtime_ns, st.st_size, self.name_field, self.frame
        ).copy()


@functools.lru_cache(maxsize=8)
def _read_layer_once(
    path: Path, mtime_ns: int, size: int, name_field: str | None, frame: str
) -> gpd.GeoDataFrame:
    """:func:`read_boundary_file` of one version (``mtime_ns``, ``size``) of a file."""
    del mtime_ns, size  # the cache key only
    return read_boundary_file(path, name_field=name_field, frame=frame)


@dataclass(frozen=True)
class RoadSource:
    """Where a city's road network comes from: one file, or one graph per area.

    Attributes
    ----------
    path
        One road file read by :func:`xunfang.ingest.roads.read_road_network`.
    per_area
        Template of per-area graph files with ``{AREA}`` (the area name upper-cased,
        spaces as ``_``), stitched by :func:`xunfang.ingest.network.build_network`.
    area_layer
        The boundary layer whose polygons the per-area files follow.
    clip_margin_m
        Streets kept outside the study area, metres.
    stitch_threshold_m, same_name_threshold_m
        Stitching of per-area graphs, metres.
    country
        ISO code choosing the class speed table (``CN``, ``US``); ``None`` the default.
    speeds_kph
        Class speed overrides, km/h.
    """

    path: Path | None = None
    per_area: str | None = None
    area_layer: str | None = None
    clip_margin_m: float = DEFAULT_CLIP_MARGIN_M
    stitch_threshold_m: float = 60.0
    same_name_threshold_m: float = 200.0
    country: str | None = None
    speeds_kph: Mapping[str, float] | None = None


@dataclass(frozen=True)
class City:
    """A city's data sources (see the module docstring).

    Attributes
    ----------
    name
        A label for reports.
    boundaries
        Boundary layers; the first is the default one.
    roads
        The road source; ``None`` when the city has none yet (commands that route fail
        with a message naming ``--roads``).
    stations
        Site file of the police stations (CSV, Excel or vector points), or ``None``.
    station_buffer_m
        Stations within this distance of a study area belong to it, metres.
    station_names
        Format of a station whose name is a bare number (``"District {} station"``).
    incidents
        Incident files or glob patterns (absolute).
    profile
        Ingest profile name, when ``mapping`` is not given.
    mapping
        TOML mapping of a generic incident source.
    timezone
        IANA time zone of local times (``Asia/Shanghai``).
    frame
        Frame of the city's lon/lat input files (boundaries, stations, and incident files
        whose profile or mapping does not state one: :meth:`incident_frame`).
    frame_stated
        True when ``frame`` was stated (the city file's ``frame`` or ``--frame``), False
        for the default WGS-84.
    frame_option
        True when ``frame`` came from the command line (``--frame``): only then does a
        mapping stating another frame conflict; the city file's ``frame`` is that of the
        city's own files, and a mapping's stated frame that of its incident files.
    crs
        Projected analysis CRS; ``None`` for the UTM zone of the study area.
    fetch_hint
        The command that downloads the city's files, for messages.
    credit
        The source of the incident data, printed on reports (``"Crime data: City of
        Chicago Data Portal."``).
    source
        The city file read, or ``"options"``.
    """

    name: str
    boundaries: tuple[BoundaryLayer, ...]
    roads: RoadSource | None = None
    stations: Path | None = None
    station_buffer_m: float = 500.0
    station_names: str | None = None
    incidents: tuple[str, ...] = ()
    profile: str | None = None
    mapping: Path | None = None
    timezone: str | None = None
    frame: str = "wgs84"
    frame_stated: bool = False
    frame_option: bool = False
    crs: str | None = None
    fetch_hint: str | None = None
    credit: str | None = None
    source: str = "options"
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_toml(cls, path: str | Path, *, data_dir: str | Path | None = None) -> City:
        """Read a city file.

        Parameters
        ----------
        path
            The TOML file (module docstring).
        data_dir
            What ``data:`` paths are relative to (default ``XUNFANG_DATA_DIR`` or
            ``./data``).

        Raises
        ------
        DataFileError
            If the file is missing, not TOML, or a field is missing or wrong (naming it);
            if its ``stations`` names a file that does not exist (naming the field and the
            file: every district of a city run would fail on it, one by one, and a run on
            a plan folder would not read it at all), unless that file lies in a data
            directory that does not exist (the boundary's error then says where it looked).
        """
        p = Path(path)
        try:
            doc = tomllib.loads(read_toml_text(p))
        except OSError as exc:
            raise DataFileError(p, f"cannot read city file: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise DataFileError(p, f"not valid TOML: {exc}") from exc
        city = cls.from_dict(doc, base=p.parent, data_dir=data_dir, source=str(p))
        stations = city.stations
        ddir = (Path(data_dir) if data_dir is not None else _env_data_dir()).resolve()
        if (
            stations is not None
            and not stations.exists()
            and not (ddir in stations.parents and not ddir.is_dir())
        ):
            raise DataFileError(
                p,
                f"the stations file {stations} does not exist: correct the path (a relative "
                "path is read from the city file's folder, data:PATH from the data directory) "
                "or remove the field",
                field="stations",
            )
        return city

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any],
        *,
        base: str | Path = ".",
        data_dir: str | Path | None = None,
        source: str = "options",
    ) -> City:
        """Build a city from the fields of a city file (or :meth:`to_dict`).

        Raises
        ------
        DataFileError
            Naming the field that is missing or wrong.
        """
        where = source
        base_p = Path(base)
        ddir = Path(data_dir) if data_dir is not None else _env_data_dir()

        def path_of(value: object, fieldname: str) -> Path:
            if not isinstance(value, str) or not value.strip():
                raise DataFileError(where, "must be a path (text)", field=fieldname)
            if value.startswith("data:"):
                return (ddir / value[5:]).resolve()
            q = Path(value).expanduser()
            return q if q.is_absolute() else (base_p / q).absolute()

        known = {
            "name", "boundaries", "boundary", "roads", "stations", "station_buffer_m",
            "station_names", "incidents", "profile", "mapping", "timezone", "frame", "crs",
            "country", "fetch", "source", "credit", "schools",
        }  # fmt: skip
        unknown = sorted(set(doc) - known)
        if unknown:
            raise DataFileError(
                where, f"unknown field(s) {unknown}; known: {sorted(known)}", field=unknown[0]
            )
        frame = _check_frame(str(doc.get("frame", "wgs84")), f"{where} field 'frame'")
        layers_doc = doc.get("boundaries")
        if layers_doc is None and "boundary" in doc:
            b = doc["boundary"]
            layers_doc = [b if isinstance(b, Mapping) else {"file": b}]
        if not layers_doc:
            raise DataFileError(
                where, "needs a boundary: [[boundaries]] with kind and file", field="boundaries"
            )
        layers = []
        for i, item in enumerate(layers_doc):
            if not isinstance(item, Mapping) or "file" not in item:
                raise DataFileError(where, "each boundary needs a file", field=f"boundaries[{i}]")
            _no_unknown(item, _BOUNDARY_KEYS, where, f"boundaries[{i}]")
            layers.append(
                BoundaryLayer(
                    kind=str(item.get("kind", "boundary")).strip().lower(),
                    path=path_of(item["file"], f"boundaries[{i}].file"),
                    name_field=item.get("name_field"),
                    default=item.get("default"),
                    frame=_check_frame(
                        str(item.get("frame", frame)), f"{where} boundaries[{i}].frame"
                    ),
                )
            )
        roads = None
        rdoc = doc.get("roads")
        if isinstance(rdoc, str):
            rdoc = {"file": rdoc}
        if rdoc:
            if not isinstance(rdoc, Mapping) or not ("file" in rdoc or "per_area" in rdoc):
                raise DataFileError(where, "[roads] needs file or per_area", field="roads")
            _no_unknown(rdoc, _ROAD_KEYS, where, "roads")
            per_area = rdoc.get("per_area")
            roads = RoadSource(
                path=path_of(rdoc["file"], "roads.file") if "file" in rdoc else None,
                per_area=str(path_of(per_area, "roads.per_area")) if per_area else None,
                area_layer=rdoc.get("area_layer"),
                clip_margin_m=float(rdoc.get("clip_margin_m", DEFAULT_CLIP_MARGIN_M)),
                stitch_threshold_m=float(rdoc.get("stitch_threshold_m", 60.0)),
                same_name_threshold_m=float(rdoc.get("same_name_threshold_m", 200.0)),
                country=rdoc.get("country", doc.get("country")),
                speeds_kph=rdoc.get("speeds_kph"),
            )
        incidents = doc.get("incidents", [])
        if isinstance(incidents, str):
            incidents = [incidents]
        profile = doc.get("profile")
        if profile is not None and profile not in PROFILES:
            raise DataFileError(
                where,
                f"profile {profile!r} unknown; use one of {sorted(PROFILES)} or mapping = FILE",
                field="profile",
            )
        return cls(
            name=str(doc.get("name", Path(source).stem if source != "options" else "city")),
            boundaries=tuple(layers),
            roads=roads,
            stations=path_of(doc["stations"], "stations") if doc.get("stations") else None,
            station_buffer_m=float(doc.get("station_buffer_m", 500.0)),
            station_names=doc.get("station_names"),
            incidents=tuple(str(path_of(x, f"incidents[{i}]")) for i, x in enumerate(incidents)),
            profile=profile,
            mapping=path_of(doc["mapping"], "mapping") if doc.get("mapping") else None,
            timezone=doc.get("timezone"),
            frame=frame,
            frame_stated="frame" in doc,
            crs=doc.get("crs"),
            fetch_hint=doc.get("fetch"),
            credit=doc.get("credit"),
            source=str(doc.get("source", source)),
            extra=({"schools": path_of(doc["schools"], "schools")} if doc.get("schools") else {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The city as plain JSON-ready data with absolute paths, so that a later command
        (``deploy --plan-dir``, ``serve --plan-dir``) rebuilds the same network; read back
        with :meth:`from_dict`."""
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            **({"frame": self.frame} if self.frame_stated else {}),
            "boundaries": [
                {
                    "kind": b.kind,
                    "file": str(b.path),
                    **({"name_field": b.name_field} if b.name_field else {}),
                    **({"default": b.default} if b.default else {}),
                    "frame": b.frame,
                }
                for b in self.boundaries
            ],
            "station_buffer_m": self.station_buffer_m,
            "incidents": list(self.incidents),
        }
        if self.roads is not None:
            r = self.roads
            out["roads"] = {
                **({"file": str(r.path)} if r.path else {}),
                **({"per_area": r.per_area} if r.per_area else {}),
                **({"area_layer": r.area_layer} if r.area_layer else {}),
                "clip_margin_m": r.clip_margin_m,
                "stitch_threshold_m": r.stitch_threshold_m,
                "same_name_threshold_m": r.same_name_threshold_m,
                **({"country": r.country} if r.country else {}),
                **({"speeds_kph": dict(r.speeds_kph)} if r.speeds_kph else {}),
            }
        for key in ("profile", "timezone", "crs", "station_names"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.stations is not None:
            out["stations"] = str(self.stations)
        if self.mapping is not None:
            out["mapping"] = str(self.mapping)
        if self.fetch_hint:
            out["fetch"] = self.fetch_hint
        if self.credit:
            out["credit"] = self.credit
        if self.extra.get("schools") is not None:
            out["schools"] = str(self.extra["schools"])
        return out

    # ------------------------------------------------------------------ study area
    def layer(self, kind: str) -> BoundaryLayer:
        """The boundary layer of that kind.

        Raises
        ------
        AreaNotFoundError
            Listing the kinds there are.
        """
        for b in self.boundaries:
            if b.kind == kind.strip().lower():
                return b
        first = self.boundaries[0].kind
        raise AreaNotFoundError(
            f"{self.name} has no boundary layer {kind!r}; layers: "
            f"{', '.join(b.kind for b in self.boundaries)} (e.g. --area {first}:NAME for one "
            f"polygon of the {first} layer, --area {first}:all or --area all for each of them)"
        )

    def study_area(self, area: str | None = None, *, crs: CRS | str | None = None) -> StudyArea:
        """The study area named ``area`` (module docstring for the forms).

        Parameters
        ----------
        area
            ``KIND:NAME[,NAME]``, a bare name, ``city`` or ``None``.
        crs
            Analysis CRS; default the city's ``crs``, else the UTM zone of the area.

        Raises
        ------
        AreaNotFoundError
            If no polygon matches, listing the names there are (and the option to set).
        DataFileError
            If a boundary file cannot be read.
        """
        crs = crs if crs is not None else self.crs
        if area is not None and area.strip().lower() == "city":
            return self._whole_city(crs)
        if area is not None and "all" in (
            area.strip().lower(),
            area.partition(":")[2].strip().lower(),
        ):
            self._refuse_each(area)
        if area is None or not area.strip():
            b = self.boundaries[0]
            return area_from_layer(b.read(), b.default, kind=b.kind, source=b.path, crs=crs)
        if ":" in area:
            kind, _, rest = area.partition(":")
            b = self.layer(kind)
            sa = area_from_layer(
                b.read(), rest, kind=b.kind, source=b.path, crs=crs, option=f"--area {b.kind}:NAME"
            )
            return replace(sa, name=area)
        tried = []
        for b in self.boundaries:
            layer = b.read()
            keys = set(layer["name"].map(_norm))
            if all(_norm(w) in keys for w in area.split(",") if w.strip()):
                return replace(
                    area_from_layer(layer, area, kind=b.kind, source=b.path, crs=crs), name=area
                )
            tried.append(f"{b.kind} ({b.path.name})")
        raise AreaNotFoundError(
            f"no polygon named {area!r} in {', '.join(tried)}; use KIND:NAME, e.g. "
            f"'{self.boundaries[0].kind}:NAME' (`xunfang areas` lists them)"
        )

    def _refuse_each(self, area: str) -> None:
        """Refuse ``KIND:all`` (or ``all``) as one study area: it means each polygon of the
        layer on its own, which ``xunfang plan`` does (a forecast said only "no area named
        all"); say what to give instead.

        Raises
        ------
        ValidationError
            Always, naming the layer's polygons.
        AreaNotFoundError
            If the city has no such layer.
        """
        kind = area.partition(":")[0].strip().lower() if ":" in area else self.boundaries[0].kind
        b = self.layer(kind)
        names = sorted(b.read()["name"].astype(str), key=lambda n: n.zfill(6) if n.isdigit() else n)
        listed = ",".join(names[:3]) + (",..." if len(names) > 3 else "")
        raise ValidationError(
            f"--area {area.strip()} means each {b.kind} on its own, which only `xunfang plan` "
            f"does (deploy and simulate run then take its folder with --plan-dir); this "
            f"command works on one area: give --area city for the whole city as one area, "
            f"--area {b.kind}:{listed} for some of them as one, or run it once per {b.kind} "
            f"(`xunfang areas {b.kind}` lists them)"
        )

    def _whole_city(self, crs: CRS | str | None) -> StudyArea:
        kind = (self.roads.area_layer if self.roads else None) or self.boundaries[0].kind
        layer = self.layer(kind).read()
        poly = shapely.union_all(layer.geometry.to_numpy())
        area_crs = (
            CRS.from_user_input(crs) if crs else utm_crs_for(poly.centroid.x, poly.centroid.y)
        )
        projected = gpd.GeoSeries([poly], crs=WGS84).to_crs(area_crs).iloc[0]
        return StudyArea(
            name="city",
            kind="city",
            members=tuple(sorted(layer["name"].astype(str))),
            polygon_wgs84=poly,
            crs=area_crs,
            polygon=projected,
        )

    # ------------------------------------------------------------------ roads
    def road_files(self, area: StudyArea) -> list[Path]:
        """The road file(s) the network of ``area`` is built from.

        Raises
        ------
        ValidationError
            If the city has no roads, or a file is missing (the first five named).
        """
        r = self._roads()
        if r.path is not None:
            if not r.path.is_file():
                raise DataFileError(r.path, "road file not found")
            return [r.path]
        assert r.per_area is not None
        names = list(area.members) if area.kind == "city" else self._areas_touching(area)
        paths = [Path(r.per_area.replace("{AREA}", n.upper().replace(" ", "_"))) for n in names]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            hint = (
                f" (download them with `{self.fetch_hint} --with-roads`)" if self.fetch_hint else ""
            )
            raise ValidationError(
                f"road graphs missing for {area.name}: "
                f"{', '.join(str(p) for p in missing[:5])}{hint}"
            )
        return paths

    def road_country(self, area: StudyArea) -> tuple[str | None, str]:
        """The road-class speed table of ``area`` and why: the roads' ``country`` (``CN``,
        ``US``; ``default`` for the default table), or with none or ``auto``, ``CN`` when
        the area lies in mainland China (:func:`xunfang.ingest.coords.outside_china` of a
        point inside it), else the default table.

        Returns
        -------
        (country, label)
            The ISO code for :func:`xunfang.ingest.osm.class_speeds` (``None``: the
            default table) and a sentence for reports naming the table and how it was
            chosen.

        Raises
        ------
        ValidationError
            If the country has no speed table (the message lists those that do).
        """
        from xunfang.ingest.coords import outside_china
        from xunfang.ingest.osm import CLASS_SPEEDS_KPH

        r = self._roads()
        key = (r.country or "auto").strip()
        if key.lower() == "auto":
            pt = area.polygon_wgs84.representative_point()
            if not bool(outside_china(pt.x, pt.y)):
                return "CN", Note("table_auto_cn")
            return None, Note("table_auto_default")
        if key.lower() == "default":
            return None, Note("table_default")
        if key.upper() not in CLASS_SPEEDS_KPH:
            raise ValidationError(
                f"no road-class speed table for country {key!r} (--country or the city file's "
                f"country); use auto, default or one of {', '.join(sorted(CLASS_SPEEDS_KPH))}"
            )
        return key.upper(), Note("table_stated", code=key.upper())

    def recipe(self, area: StudyArea) -> dict[str, Any]:
        """What decides the network of ``area`` (for cache keys and summaries)."""
        r = self._roads()
        return {
            "files": [str(p) for p in self.road_files(area)],
            "clip_margin_m": None if area.kind == "city" else r.clip_margin_m,
            "stitch_threshold_m": r.stitch_threshold_m,
            "same_name_threshold_m": r.same_name_threshold_m,
            "country": self.road_country(area)[0] if r.path is not None else r.country,
            "speeds_kph": dict(r.speeds_kph) if r.speeds_kph else None,
        }

    def road_network(
        self,
        area: StudyArea,
        *,
        stitch_threshold_m: float | None = None,
        same_name_threshold_m: float | None = None,
        cache_dir: Path | None = None,
        within: RoadNetwork | None = None,
    ) -> RoadNetwork:
        """The drivable network of a study area, clipped ``clip_margin_m`` around it (not
        clipped for ``city``). The one recipe plan, deploy, simulate and serve share, so
        that their node indices agree.

        With ``cache_dir`` (``Settings.cache_dir``) the built network is kept on disk and
        read back by the next command (:func:`xunfang.ingest.network_cache.cached_network`:
        keyed by the road files' paths, sizes and times, the options and the package
        version). With ``within`` (the city's network, e.g. from
        ``road_network(study_area("city"))``) the area's network is cut from it instead
        (:func:`xunfang.ingest.network_cache.cut_network`, nodes within ``clip_margin_m``
        of the area): what the city plan gives each district.

        Raises
        ------
        ValidationError
            If the city has no roads or a file is missing, or ``within`` is in another
            CRS; the errors of the road readers pass through.
        """
        return self.cached_road_network(
            area,
            stitch_threshold_m=stitch_threshold_m,
            same_name_threshold_m=same_name_threshold_m,
            cache_dir=cache_dir,
            within=within,
        )[0]

    def cached_road_network(
        self,
        area: StudyArea,
        *,
        stitch_threshold_m: float | None = None,
        same_name_threshold_m: float | None = None,
        cache_dir: Path | None = None,
        within: RoadNetwork | None = None,
    ) -> tuple[RoadNetwork, CacheStatus | Literal["cut"]]:
        """:meth:`road_network` and how it was had: ``"cut"`` from ``within``, else the
        :data:`~xunfang.ingest.network_cache.CacheStatus` of the disk cache."""
        r = self._roads()
        if within is not None and area.kind != "city":
            if not within.crs.equals(area.crs):
                raise ValidationError(
                    f"the network to cut {area.name} from is in {within.crs.to_string()}, "
                    f"the area in {area.crs.to_string()}: build both in one CRS"
                )
            cut = cut_network(
                within,
                area.polygon.buffer(r.clip_margin_m),
                name=area.name,
                measure=area.polygon,  # the district's own loss to the largest-component rule
            )
            return cut, "cut"
        key = {  # the options in effect (an override equal to the city's value is no change)
            **{k: v for k, v in self.recipe(area).items() if k != "files"},
            "area": area.name,
            "crs": area.crs.to_wkt(),
            "polygon": None if area.kind == "city" else area.polygon.wkt,
        }
        if stitch_threshold_m is not None:
            key["stitch_threshold_m"] = float(stitch_threshold_m)
        if same_name_threshold_m is not None:
            key["same_name_threshold_m"] = float(same_name_threshold_m)
        if r.path is not None:  # how the speed table was chosen is in the network's notes
            key["speed_table"] = str(self.road_country(area)[1])
        return cached_network(
            cache_dir,
            area.name,
            key,
            self.road_files(area),
            lambda: self._build_road_network(area, stitch_threshold_m, same_name_threshold_m),
        )

    def _build_road_network(
        self,
        area: StudyArea,
        stitch_threshold_m: float | None,
        same_name_threshold_m: float | None,
    ) -> RoadNetwork:
        r = self._roads()
        paths = self.road_files(area)
        clip = None if area.kind == "city" else area.polygon
        if r.path is not None:
            country, table = self.road_country(area)
            net = read_road_network(
                r.path,
                area.crs,
                clip_polygon=clip,
                clip_margin_m=r.clip_margin_m,
                speeds_kph=r.speeds_kph,
                country=country,
            )
            rep = net.report
            return replace(
                net,
                report=replace(
                    rep,
                    speed_table=country or "default",
                    notes=tuple(  # say how the table was chosen
                        n.with_fields(table=table)
                        if isinstance(n, Note) and n.key == "speeds_file"
                        else n
                        for n in rep.notes
                    ),
                ),
            )
        return build_network(
            paths,
            area.crs,
            clip_polygon=None if clip is None else clip.buffer(r.clip_margin_m),
            stitch_threshold_m=r.stitch_threshold_m
            if stitch_threshold_m is None
            else stitch_threshold_m,
            same_name_threshold_m=r.same_name_threshold_m
            if same_name_threshold_m is None
            else same_name_threshold_m,
            speeds_kph=r.speeds_kph,
        )

    def _roads(self) -> RoadSource:
        if self.roads is None:
            raise ValidationError(
                f"{self.name} has no road network: give --roads FILE (OpenStreetMap .osm/.pbf, "
                "GraphML or a road-line file) or roads in the city file"
            )
        return self.roads

    def _areas_touching(self, area: StudyArea) -> list[str]:
        """Names of the area layer's polygons that overlap the study area (ignoring
        slivers: at least 1 % of their own area or 0.05 km² within 200 m)."""
        r = self._roads()
        kind = r.area_layer or self.boundaries[0].kind
        layer = self.layer(kind).read().to_crs(area.crs)
        zone = area.polygon.buffer(200.0)
        hits = layer[layer.intersects(zone)]
        inter = hits.geometry.intersection(zone).area
        keep = (inter >= 0.01 * hits.geometry.area) | (inter >= 5e4)
        return sorted(hits.loc[keep, "name"].astype(str))

    # ------------------------------------------------------------------ sites, incidents
    def stations_for(self, area: StudyArea, *, buffer_m: float | None = None) -> gpd.GeoDataFrame:
        """The police stations in or within ``buffer_m`` (default the city's) of ``area``;
        empty when the city names no stations file.

        Returns
        -------
        geopandas.GeoDataFrame
            ``name`` and point ``geometry`` (EPSG:4326), as :func:`read_sites`.

        Raises
        ------
        DataFileError
            If the stations file is missing or unreadable.
        """
        return self.stations_split(area, buffer_m=buffer_m)[0]

    def stations_split(
        self, area: StudyArea, *, buffer_m: float | None = None
    ) -> tuple[gpd.GeoDataFrame, list[tuple[str, float]]]:
        """The police stations of ``area`` (as :meth:`stations_for`, with ``source_row``,
        the row of each as the stations file shows it: a CSV's line, the header counting,
        or a sheet's row) and those left out.

        Returns
        -------
        (chosen, left_out)
            ``left_out`` holds ``(name, distance_m)`` of every station farther than
            ``buffer_m`` from the area, nearest first (distance to the polygon, metres).

        Raises
        ------
        DataFileError
            If the stations file is missing or unreadable.
        """
        if self.stations is None:
            return gpd.GeoDataFrame({"name": [], "source_row": []}, geometry=[], crs=WGS84), []
        sites = self._station_sites()
        limit_m = self.station_buffer_m if buffer_m is None else buffer_m
        dist_m = (
            sites.to_crs(area.crs).distance(area.polygon).to_numpy() if len(sites) else np.zeros(0)
        )
        near = dist_m <= limit_m
        order = np.argsort(dist_m[~near], kind="stable")
        left_out = [
            (str(sites["name"].to_numpy()[~near][i]), float(dist_m[~near][i])) for i in order
        ]
        return sites[near].reset_index(drop=True), left_out

    def _station_sites(self) -> gpd.GeoDataFrame:
        """Every station of the stations file (``name`` as the city names them,
        ``source_row``, point ``geometry`` EPSG:4326); the file must be set."""
        assert self.stations is not None
        sites = read_sites(self.stations, frame=self.frame).copy()
        sites["source_row"] = sites.attrs.get("source_rows", np.arange(1, len(sites) + 1))
        if self.station_names:
            sites["name"] = [
                self.station_names.format(n) if str(n).isdigit() else str(n) for n in sites["name"]
            ]
        return sites

    def stations_outside(
        self, areas: Sequence[StudyArea], *, buffer_m: float | None = None
    ) -> gpd.GeoDataFrame:
        """The stations farther than ``buffer_m`` (default the city's ``station_buffer_m``)
        from every one of ``areas``: those no area's plan takes (:meth:`stations_split`
        of each area leaves them out), in the order of the file.

        Returns
        -------
        geopandas.GeoDataFrame
            ``name``, ``source_row`` (as in :meth:`stations_split`), ``distance_m`` (to the
            nearest area, metres) and point ``geometry`` (EPSG:4326); empty when the city
            names no stations file or every station is near an area.

        Raises
        ------
        DataFileError
            If the stations file is missing or unreadable.
        """
        if self.stations is None or not areas:
            empty: dict[str, list[Any]] = {"name": [], "source_row": [], "distance_m": []}
            return gpd.GeoDataFrame(empty, geometry=[], crs=WGS84)
        sites = self._station_sites()
        limit_m = self.station_buffer_m if buffer_m is None else buffer_m
        nearest_m = np.full(len(sites), np.inf)
        for area in areas:
            if len(sites):
                d_m = sites.to_crs(area.crs).distance(area.polygon).to_numpy()
                nearest_m = np.minimum(nearest_m, d_m)
        far = nearest_m > limit_m
        out = sites[far].reset_index(drop=True)
        out["distance_m"] = nearest_m[far]
        return out

    def incident_files(self, *, required: bool = True) -> list[Path]:
        """The city's incident files (glob patterns expanded, sorted within each; a folder
        written by ``xunfang ingest`` becomes its ``incidents.parquet``, which the readers
        take as it is: :func:`xunfang.ingest.incidents.read_ingested_tables`).

        Raises
        ------
        ValidationError
            If ``required`` and none is found, naming the patterns and how to get them.
        DataFileError
            If a file named without a pattern is missing while others are found (a partial
            set of incidents would be planned on without a word).
        """
        out: list[Path] = []
        missing: list[str] = []
        for pattern in self.incidents:
            if any(ch in pattern for ch in "*?["):
                out.extend(sorted(Path(p) for p in glob.glob(pattern)))
            elif Path(pattern).exists():
                out.append(ingested_folder_table(Path(pattern)) or Path(pattern))
            else:
                missing.append(pattern)
        if missing and out:
            raise DataFileError(missing[0], "file not found")
        if not out and required:
            hint = f" or run `{self.fetch_hint}`" if self.fetch_hint else ""
            where = next(filter(None, map(missing_data_hint, self.incidents)), "")
            raise ValidationError(
                f"no incident files for {self.name} "
                f"({', '.join(self.incidents) or 'the city file names none'}); "
                f"pass --incidents{hint}" + (f"; {where}" if where else "")
            )
        return out

    def incident_frame(self, profile: Profile | str) -> FrameName | None:
        """The frame to read the lon/lat columns of incident files in, for
        :func:`xunfang.ingest.incidents.ingest` (its ``frame``): the run's frame (the city
        file's ``frame`` or ``--frame``) for a profile that states none (``cn110``,
        ``chicago``), ``None`` (the mapping's own) for a mapping whose coordinates state a
        frame.

        Raises
        ------
        ValidationError
            If a mapping states one frame and the run states another.
        """
        prof = PROFILES[profile] if isinstance(profile, str) and profile in PROFILES else profile
        stated = stated_frames(prof)
        if stated:
            other = {cols: f for cols, f in stated.items() if f != self.frame}
            if self.frame_option and other:
                cols, f = next(iter(other.items()))
                where = (
                    self.mapping.name
                    if self.mapping is not None
                    else f"profile {getattr(prof, 'name', prof)}"
                )
                raise ValidationError(
                    f"frame conflict: {where} states frame {f!r} for the incident columns "
                    f"{cols}, but this run's frame is {self.frame!r} (--frame); make them "
                    "agree, or leave out --frame to use the mapping's (the boundary's frame "
                    "can be given with --boundary-frame)"
                )
            return None
        if not self.frame_stated and self.area_frame() is not None:
            return self.area_frame()  # type: ignore[return-value]
        return self.frame if self.frame in FRAMES else None  # type: ignore[return-value]

    def area_frame(self) -> str | None:
        """The frame the boundary layers state when the city's own frame is not stated
        (``--boundary-frame``, or each layer's ``frame`` in the city file): the one frame
        all layers share when it is not WGS-84, else None."""
        frames = {b.frame for b in self.boundaries}
        if self.frame_stated or len(frames) != 1 or frames == {"wgs84"}:
            return None
        return frames.pop()

    def incident_frame_note(self, profile: Profile | str) -> Note | None:
        """What :meth:`incident_frame` chose when nothing stated the incidents' frame, for
        the terminal: the area's frame taken for them (``frame_from_area``), or WGS-84
        assumed for a Chinese profile (``frame_assumed_wgs84``: exports in China are often
        GCJ-02 or BD-09, and reading them as WGS-84 puts every point some 500 m off);
        None when a frame was stated (``--frame``, the mapping's, or the city file's, except
        a non-Chinese city's WGS-84 for a Chinese profile: that note then) or the profile is
        not Chinese.

        The rule: a frame is never guessed without a word (a tester's GCJ-02 110 export
        with a GCJ-02 boundary was read as WGS-84, 27 % of it rejected as outside).
        """
        if self.frame_option or self.incident_frame(profile) is None:
            return None
        prof = PROFILES[profile] if isinstance(profile, str) and profile in PROFILES else profile
        name = getattr(prof, "name", str(profile))
        chinese = isinstance(prof, Profile) and prof.timezone in CHINA_TIMEZONES
        if self.frame_stated:
            # a city file's frame is that of its own files: it speaks for a Chinese export
            # only in a Chinese city (a 110 export under the default US city file was read as
            # WGS-84 without a word)
            if chinese and self.timezone not in CHINA_TIMEZONES and self.frame == "wgs84":
                return Note("frame_assumed_wgs84", profile=name)
            return None
        area = self.area_frame()
        if area is not None:
            return Note("frame_from_area", frame=area, profile=name)
        if chinese:
            return Note("frame_assumed_wgs84", profile=name)
        return None

    def profile_for(
        self, files: Sequence[str | Path], profile: str | None = None
    ) -> Profile | str | None:
        """The ingest profile to read ``files`` with: ``None`` when they are ingested
        tables (an ``xunfang ingest`` folder or its ``.parquet``, read back as written:
        :func:`xunfang.ingest.incidents.ingested_inputs`), else :meth:`ingest_profile`.
        The one rule of every command that takes ``--incidents``.

        Raises
        ------
        ValidationError
            If the files are raw and no profile is known (:meth:`ingest_profile`).
        """
        if ingested_inputs(files):
            return None
        return self.ingest_profile(profile)

    def ingest_profile(self, profile: str | None = None) -> Profile | str:
        """The ingest profile of the city's incident files: ``profile`` when given, else
        the mapping, else the profile name of the city file.

        Raises
        ------
        ValidationError
            If none is known.
        """
        if profile:
            return profile
        if self.mapping is not None:
            return profile_from_toml(self.mapping)
        if self.profile:
            return self.profile
        raise ValidationError(
            f"no ingest profile for the incidents of {self.name}: give --profile "
            f"({', '.join(sorted(PROFILES))}) or --mapping FILE.toml"
        )


CHINA_TIMEZONES = frozenset(
    {"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "Asia/Urumqi", "PRC"}
)
"""Time zones of a profile for China: its incident coordinates may be GCJ-02 or BD-09."""


def stated_frames(profile: Profile | str) -> dict[str, str]:
    """The frames a profile (or a mapping's) states for its lon/lat columns: ``"x/y"`` ->
    frame, for each pair given a ``frame`` explicitly; empty for a built-in profile such
    as ``cn110`` or ``chicago``, which states none."""
    prof = PROFILES[profile] if isinstance(profile, str) and profile in PROFILES else profile
    stated: dict[str, str] = {}
    if isinstance(prof, Profile):
        for lay in prof.layouts:
            for spec in lay.coords:
                if spec.kind == "lonlat" and "frame" in spec.model_fields_set:
                    stated[f"{spec.x}/{spec.y}"] = spec.frame
    return stated


def unstated_frame_note(profile: Profile | str, frame: str | None) -> Note | None:
    """The note of a run reading incident files without a city (``xunfang kpi``): WGS-84
    assumed (``frame_assumed_wgs84``, as :meth:`City.incident_frame_note` says it for
    ``xunfang ingest``) when no ``frame`` (``--frame``) was given and ``profile`` is one for
    China that states no frame for its coordinates; None otherwise.

    Parameters
    ----------
    profile
        The profile name (``cn110``) or a mapping's profile.
    frame
        The ``--frame`` given, or None.
    """
    if frame is not None or stated_frames(profile):
        return None
    prof = PROFILES[profile] if isinstance(profile, str) and profile in PROFILES else profile
    if not isinstance(prof, Profile) or prof.timezone not in CHINA_TIMEZONES:
        return None
    return Note("frame_assumed_wgs84", profile=getattr(prof, "name", str(profile)))


_BOUNDARY_KEYS = frozenset({"kind", "file", "name_field", "default", "frame"})
_ROAD_KEYS = frozenset(
    {
        "file",
        "per_area",
        "area_layer",
        "clip_margin_m",
        "stitch_threshold_m",
        "same_name_threshold_m",
        "country",
        "speeds_kph",
    }
)


def _no_unknown(doc: Mapping[str, Any], known: frozenset[str], where: str, section: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        raise DataFileError(
            where,
            f"unknown field(s) {unknown} in {section}; known: {sorted(known)}",
            field=f"{section}.{unknown[0]}",
        )


def _env_data_dir() -> Path:
    return Path(os.environ.get("XUNFANG_DATA_DIR", "data"))


def packaged_city_file(name: str = _PACKAGED_DEFAULT) -> Path:
    """The path of a city file that ships with xunfang (``xunfang/data/cities``)."""
    return Path(str(resources.files("xunfang") / "data" / "cities" / name))


def default_city(data_dir: str | Path | None = None) -> City:
    """The city used when a command gets neither ``--city`` nor ``--boundary``: the file
    ``XUNFANG_CITY`` names, else the packaged Chicago file, under ``data_dir``.

    Raises
    ------
    DataFileError
        If the city file cannot be read.
    """
    env = os.environ.get(DEFAULT_CITY_ENV)
    path = Path(env) if env else packaged_city_file()
    return City.from_toml(path, data_dir=data_dir)


def resolve_city(
    *,
    city: str | Path | None = None,
    boundary: str | Path | None = None,
    roads: str | Path | None = None,
    stations: str | Path | None = None,
    incidents: Sequence[str | Path] = (),
    profile: str | None = None,
    mapping: str | Path | None = None,
    frame: str | None = None,
    boundary_name: str | None = None,
    boundary_name_field: str | None = None,
    timezone: str | None = None,
    crs: str | None = None,
    country: str | None = None,
    data_dir: str | Path | None = None,
    boundary_frame: str | None = None,
    base_city: City | None = None,
) -> City:
    """The city of a command: a city file, the default city, or either with the parts
    the options give replacing its own.

    Parameters
    ----------
    city
        A city file; default :func:`default_city` (unless ``boundary`` is given, which
        then starts a city from files alone).
    boundary, roads, stations
        Files replacing the city's (boundary: a new single layer ``boundary``).
    incidents
        Incident files replacing the city's.
    profile, mapping
        Ingest profile or TOML mapping of the incidents.
    frame
        Frame of the run's lon/lat input files.
    boundary_name
        The polygon of ``boundary`` to use (its ``default``).
    boundary_name_field
        The property of ``boundary`` (else of the city's first boundary layer) naming its
        polygons (its ``name_field``).
    boundary_frame
        Frame of the boundary files' lon/lat, replacing ``frame`` (and the city file's
        boundary frames) for the boundaries only.
    timezone, crs, country
        Replace the city's.
    data_dir
        What ``data:`` paths are relative to.
    base_city
        The city to start from when no ``city`` file is given (e.g. the city a plan folder
        recorded), in place of the default city or a city of ``boundary`` alone: the
        options replace its parts.

    Raises
    ------
    ValidationError, DataFileError
        For an unknown frame or an unreadable city file.
    """
    if frame is not None:
        frame = _check_frame(frame, "--frame")
    if city is not None:
        base = City.from_toml(city, data_dir=data_dir)
    elif base_city is not None:
        base = base_city
    elif boundary is not None:
        base = City(
            name=Path(boundary).stem,
            boundaries=(BoundaryLayer("boundary", Path(boundary).absolute()),),
            source="options",
        )
    else:
        base = default_city(data_dir)
    changes: dict[str, Any] = {}
    use_frame = frame or base.frame
    if frame is not None:
        changes["frame"] = frame
        changes["frame_stated"] = True
        changes["frame_option"] = True
    if boundary is not None:
        changes["boundaries"] = (
            BoundaryLayer(
                "boundary",
                Path(boundary).absolute(),
                name_field=boundary_name_field,
                default=boundary_name,
                frame=use_frame,
            ),
        )
        if city is None and base_city is None:
            changes["station_names"] = None
    elif boundary_name is not None or boundary_name_field is not None:
        first = base.boundaries[0]
        first = replace(
            first,
            default=boundary_name if boundary_name is not None else first.default,
            name_field=boundary_name_field or first.name_field,
        )
        changes["boundaries"] = (first, *base.boundaries[1:])
    elif frame is not None:
        changes["boundaries"] = tuple(replace(b, frame=frame) for b in base.boundaries)
    if boundary_frame is not None:
        bf = _check_frame(boundary_frame, "--boundary-frame")
        layers = changes.get("boundaries", base.boundaries)
        changes["boundaries"] = tuple(replace(b, frame=bf) for b in layers)
    if roads is not None:
        prev = base.roads or RoadSource()
        changes["roads"] = RoadSource(
            path=Path(roads).absolute(),
            clip_margin_m=prev.clip_margin_m,
            country=country or prev.country,
            speeds_kph=prev.speeds_kph,
        )
    elif country is not None and base.roads is not None:
        changes["roads"] = replace(base.roads, country=country)
    if stations is not None:
        changes["stations"] = Path(stations).absolute()
    elif boundary is not None and city is None and base_city is None:
        changes["stations"] = None
    if incidents:
        changes["incidents"] = tuple(str(Path(p).absolute()) for p in incidents)
    if mapping is not None:
        changes["mapping"] = Path(mapping).absolute()
        changes["profile"] = None
    elif profile is not None:
        changes["profile"] = profile
        changes["mapping"] = None
    if timezone is not None:
        changes["timezone"] = timezone
    if crs is not None:
        changes["crs"] = crs
    if changes and base.source != "options":
        changes["source"] = f"{base.source} + options"
    return replace(base, **changes)


def to_output_frame(frame: gpd.GeoDataFrame, output_frame: str) -> gpd.GeoDataFrame:
    """A WGS-84 GeoDataFrame with its geometry and its ``lon``/``lat`` and
    ``centre_lon``/``centre_lat`` columns moved to ``output_frame`` (for Chinese map
    platforms: ``gcj02`` for AMap/Tencent, ``bd09`` for Baidu), with
    :mod:`xunfang.ingest.coords`. ``wgs84`` returns the frame unchanged.

    The result still says EPSG:4326 (GeoJSON has no way to name GCJ-02): keep such files
    for the map platform they are meant for.

    Raises
    ------
    ValidationError
        For an unknown frame.
    """
    key = _check_frame(output_frame, "--output-frame")
    if key == "wgs84":
        return frame
    from xunfang.ingest.coords import wgs84_to_bd09, wgs84_to_gcj02

    conv = wgs84_to_gcj02 if key == "gcj02" else wgs84_to_bd09
    out = frame.copy()

    def shift(coords: Any) -> Any:
        import numpy as np

        lon, lat = conv(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    out = out.set_geometry(shapely.transform(out.geometry.to_numpy(), shift), crs=WGS84)
    for lon_col, lat_col in (("lon", "lat"), ("centre_lon", "centre_lat")):
        if lon_col in out.columns and lat_col in out.columns:
            lon, lat = conv(out[lon_col].to_numpy(float), out[lat_col].to_numpy(float))
            out[lon_col], out[lat_col] = lon, lat
    return out


def from_output_frame(frame: gpd.GeoDataFrame, output_frame: str) -> gpd.GeoDataFrame:
    """The inverse of :func:`to_output_frame`: a GeoDataFrame written in ``output_frame``
    (geometry and ``lon``/``lat``, ``centre_lon``/``centre_lat`` columns) back in WGS-84,
    with :func:`xunfang.ingest.coords.to_wgs84`. ``wgs84`` returns the frame unchanged.

    Raises
    ------
    ValidationError
        For an unknown frame.
    """
    key = _check_frame(output_frame, "output_frame")
    if key == "wgs84":
        return frame
    import numpy as np

    from xunfang.ingest.coords import to_wgs84

    def back(coords: Any) -> Any:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], key)
        return np.column_stack([lon, lat])

    out = frame.set_geometry(shapely.transform(frame.geometry.to_numpy(), back), crs=WGS84)
    for lon_col, lat_col in (("lon", "lat"), ("centre_lon", "centre_lat")):
        if lon_col in out.columns and lat_col in out.columns:
            out[lon_col], out[lat_col] = to_wgs84(
                out[lon_col].to_numpy(float), out[lat_col].to_numpy(float), key
            )
    return out
