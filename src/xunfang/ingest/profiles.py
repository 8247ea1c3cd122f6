"""Column profiles of incident sources: which column holds what, in which frame and zone.

A *profile* says how a source lays out its columns. Built-in profiles:

``chicago``
    Both CPD CLEAR layouts: the 20-column monthly extracts (State Plane x/y in US feet,
    EPSG:3435, and WGS-84 lat/lon) and the 11-column September 2014 file whose ``Date``
    mixes ``MM/DD/YYYY hh:mm:ss AM/PM``, ``YYYY/DD/MM HH:MM:SS`` and ``YYYY/DD/MM``.
``portland``
    The NIJ 2016 Portland CFS release: semicolons, ``DD/MM/YYYY`` dates without a time of
    day, Oregon State Plane North x/y in feet (EPSG:2913).
``cn110``
    Chinese 110 接处警 exports: the common field names in Chinese characters and in their
    pinyin-initial codes (报警时间/BJSJ, 报警类别/BJLB, 经度/纬度, ...), chosen per file from
    its header (:data:`CN110_ALIASES`). Asia/Shanghai; lon/lat in WGS-84 unless the run
    says ``frame="gcj02"`` (or ``bd09``). The caller's name and phone are kept only masked.
``generic``
    Any CSV described by a small TOML mapping (:func:`profile_from_toml`).

Time formats are ``strftime`` codes tried in order per row (the first that parses a row
wins); ``%z`` reads a zone suffix (``Z``, ``+08:00``) and the two names ``epoch_s`` and
``epoch_ms`` read Unix time in seconds or milliseconds (UTC).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from xunfang.errors import DataFileError, read_toml_text
from xunfang.units import WGS84

__all__ = [
    "CHICAGO",
    "CN110",
    "CN110_ALIASES",
    "PORTLAND",
    "PROFILES",
    "STEP_COLUMNS",
    "AliasLayout",
    "CoordSpec",
    "Layout",
    "Profile",
    "normalise_header",
    "profile_from_toml",
]

FrameName = Literal["wgs84", "gcj02", "bd09"]
Precision = Literal["second", "minute", "hour", "day"]
MaskKind = Literal["name", "phone"]
EPOCH_FORMATS = ("epoch_s", "epoch_ms")
STEP_COLUMNS = ("dispatched_at", "acknowledged_at", "en_route_at", "on_scene_at", "cleared_at")
"""The step times of a call a source may record, in the order a call goes through them
after it is received (the call time ``occurred_at`` comes first): dispatched (派警),
acknowledged by the unit (签收), en route (出警), first unit on scene (到场), cleared with a
result (反馈). The names are those of the command centre's ``calls`` table, whose KPIs
(:mod:`xunfang.store.kpi_sql`) are defined on them."""


def _known_steps(names: Sequence[str]) -> None:
    unknown = sorted(set(names) - set(STEP_COLUMNS))
    if unknown:
        raise ValueError(f"unknown step {unknown[0]!r}; use {', '.join(STEP_COLUMNS)}")


def normalise_header(name: str) -> str:
    """A header cell as matched against a profile: byte-order mark, quotes, surrounding and
    full-width spaces removed (``" BJSJ "`` -> ``"BJSJ"``)."""
    return name.replace("\ufeff", "").strip().strip('"').strip("\u3000 \t")


# --------------------------------------------------------------------------- profiles
class CoordSpec(BaseModel):
    """Where a row's position is: two columns and their frame.

    ``kind="lonlat"`` reads degrees in ``frame`` (``wgs84``, ``gcj02`` or ``bd09``);
    ``kind="xy"`` reads projected coordinates in ``crs`` (any unit PROJ knows).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["lonlat", "xy"]
    x: str
    y: str
    crs: str = WGS84
    frame: FrameName = "wgs84"

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: str) -> str:
        try:
            CRS.from_user_input(value)
        except PyprojCRSError:
            raise ValueError(f"unknown CRS {value!r}; use e.g. EPSG:3435") from None
        return value


class Layout(BaseModel):
    """One column layout of a source. See the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    delimiter: str = ","
    timezone: str
    id: str | None = None
    time: str
    time_formats: tuple[str, ...] = Field(min_length=1)
    time_precision: Precision = "second"
    """The coarsest precision the source records: a row read by a finer format is capped
    at it (CPD rounds to the minute although it prints seconds)."""
    type: str
    subtype: str | None = None
    premise: str | None = None
    arrest: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)
    steps: dict[str, str] = Field(default_factory=dict)
    """Optional step-time columns: :data:`STEP_COLUMNS` name -> source column, read in the
    call time's formats and zone (``[layout.steps]`` in a TOML mapping)."""
    coords: tuple[CoordSpec, ...] = Field(min_length=1)
    scheme: str
    bbox: tuple[float, float, float, float] | None = None
    """Plausible (min_lon, min_lat, max_lon, max_lat) of the source, WGS-84."""
    mask: dict[str, MaskKind] = Field(default_factory=dict)
    """Extra output columns holding personal data, kept only masked: ``name`` keeps the
    first character (张三 -> 张*), ``phone`` the first three and last four digits
    (13812348000 -> 138****8000)."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai or "
                "America/Chicago"
            ) from None
        return value

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: dict[str, str]) -> dict[str, str]:
        _known_steps(list(value))
        return value

    def required_columns(self) -> dict[str, str]:
        """Source column -> role, for the columns this layout reads."""
        cols: dict[str, str] = {self.time: "time", self.type: "type"}
        for role in ("id", "subtype", "premise", "arrest"):
            col = getattr(self, role)
            if col is not None:
                cols[col] = role
        for out, col in self.extra.items():
            cols[col] = out
        for step, col in self.steps.items():
            cols[col] = step
        for spec in self.coords:
            cols[spec.x] = f"{spec.kind} x"
            cols[spec.y] = f"{spec.kind} y"
        return cols


class AliasLayout(BaseModel):
    """A layout whose columns go by several names; :meth:`resolve` picks, per file, the
    first name of each role that its header has and returns a plain :class:`Layout`.

    Names match after :func:`normalise_header`, ignoring case (``bjsj`` = ``BJSJ``).
    ``lonlat`` lists (x, y) column pairs read as degrees in the run's frame.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    timezone: str
    time: tuple[str, ...] = Field(min_length=1)
    time_formats: tuple[str, ...] = Field(min_length=1)
    type: tuple[str, ...] = Field(min_length=1)
    id: tuple[str, ...] = ()
    subtype: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    steps: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Names of the optional step-time columns (:data:`STEP_COLUMNS`)."""
    lonlat: tuple[tuple[str, str], ...] = Field(min_length=1)
    scheme: str
    bbox: tuple[float, float, float, float] | None = None
    mask: dict[str, MaskKind] = Field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    """Columns recognised but never read (free text that may name the caller)."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        _known_steps(list(value))
        return value

    def resolve(
        self,
        header: Sequence[str],
        frame: FrameName = "wgs84",
        geometry: tuple[str, str] | None = None,
    ) -> Layout | None:
        """The concrete layout for a file with this ``header``; None when the time, type
        or a coordinate pair is missing. ``geometry`` names the (lon, lat) columns a vector
        file's point geometry was put in: read first, then any coordinate columns."""
        by_key: dict[str, str] = {}
        for col in header:
            by_key.setdefault(normalise_header(col).upper(), col)
        used: set[str] = set()

        def pick(names: Sequence[str]) -> str | None:
            for n in names:
                col = by_key.get(n.upper())
                if col is not None and col not in used:
                    used.add(col)
                    return col
            return None

        time, type_ = pick(self.time), pick(self.type)
        pairs = [
            (by_key[x.upper()], by_key[y.upper()])
            for x, y in self.lonlat
            if x.upper() in by_key and y.upper() in by_key
        ]
        if geometry is not None:
            pairs.insert(0, geometry)
        if time is None or type_ is None or not pairs:
            return None
        used.update(c for pair in pairs for c in pair)
        id_ = pick(self.id)
        subtype = pick(self.subtype)
        extra: dict[str, str] = {}
        for out, names in self.extra.items():
            found = pick(names)
            if found is not None:
                extra[out] = found
        steps: dict[str, str] = {}
        for step, names in self.steps.items():
            found = pick(names)
            if found is not None:
                steps[step] = found
        return Layout(
            name=self.name,
            delimiter=",",
            timezone=self.timezone,
            id=id_,
            time=time,
            time_formats=self.time_formats,
            type=type_,
            subtype=subtype,
            extra=extra,
            steps=steps,
            coords=tuple(CoordSpec(kind="lonlat", x=x, y=y, frame=frame) for x, y in pairs),
            scheme=self.scheme,
            bbox=self.bbox,
            mask={k: v for k, v in self.mask.items() if k in extra},
        )

    def missing(self, header: Sequence[str]) -> list[tuple[str, str]]:
        """(role, accepted names) of the required roles the header lacks."""
        keys = {normalise_header(c).upper() for c in header}
        out = []
        for role, names in (("time", self.time), ("type", self.type)):
            if not any(n.upper() in keys for n in names):
                out.append((role, "/".join(names)))
        if not any(x.upper() in keys and y.upper() in keys for x, y in self.lonlat):
            out.append(("coordinates", ", ".join(f"{x}+{y}" for x, y in self.lonlat)))
        return out


class Profile(BaseModel):
    """A named source with one or more layouts (chosen per file by its header)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    layouts: tuple[Layout, ...] = ()
    alias_layouts: tuple[AliasLayout, ...] = ()
    encoding: str = "auto"

    @model_validator(mode="after")
    def _has_a_layout(self) -> Profile:
        if not self.layouts and not self.alias_layouts:
            raise ValueError("a profile needs at least one layout")
        return self

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """The plausible extent of the first layout (None when it states none)."""
        first = self.layouts[0] if self.layouts else self.alias_layouts[0]
        return first.bbox

    @property
    def timezone(self) -> str:
        """The time zone of the first layout."""
        first = self.layouts[0] if self.layouts else self.alias_layouts[0]
        return first.timezone


_CHICAGO_BBOX = (-87.95, 41.6, -87.5, 42.05)
CHICAGO = Profile(
    name="chicago",
    layouts=(
        Layout(
            name="chicago-monthly",
            timezone="America/Chicago",
            id="ID",
            time="Date",
            time_formats=("%m/%d/%Y %I:%M:%S %p",),
            time_precision="minute",
            type="Primary Type",
            subtype="Description",
            premise="Location Description",
            arrest="Arrest",
            extra={
                "district": "District",
                "beat": "Beat",
                "iucr": "IUCR",
                "community_area": "Community Area",
            },
            coords=(
                CoordSpec(kind="xy", x="X Coordinate", y="Y Coordinate", crs="EPSG:3435"),
                CoordSpec(kind="lonlat", x="Longitude", y="Latitude"),
            ),
            scheme="chicago",
            bbox=_CHICAGO_BBOX,
        ),
        Layout(
            name="chicago-sept2014",
            timezone="America/Chicago",
            id="ID",
            time="Date",
            # SOURCE.txt: rows starting "2014/" are YYYY/DD/MM (with or without a time)
            time_formats=("%m/%d/%Y %I:%M:%S %p", "%Y/%d/%m %H:%M:%S", "%Y/%d/%m"),
            time_precision="minute",
            type="Primary Type",
            subtype="Description",
            premise="Location Description",
            arrest="Arrest",
            extra={"district": "District"},
            coords=(CoordSpec(kind="lonlat", x="Longitude", y="Latitude"),),
            scheme="chicago",
            bbox=_CHICAGO_BBOX,
        ),
    ),
)
PORTLAND = Profile(
    name="portland",
    layouts=(
        Layout(
            name="portland-nij",
            delimiter=";",
            timezone="America/Los_Angeles",
            time="occ_date",
            time_formats=("%d/%m/%Y",),
            time_precision="day",
            type="CALL GROUPS",
            subtype="CASE DESC",
            premise=None,
            extra={
                "category": "CATEGORY",
                "case_type": "final_case_type",
                "census_tract": "census_tract",
            },
            coords=(CoordSpec(kind="xy", x="x_coordinate", y="y_coordinate", crs="EPSG:2913"),),
            scheme="portland",
            bbox=(-123.1, 45.3, -122.2, 45.8),
        ),
    ),
)

#: Field names of Chinese 110 接处警 exports, by role: Chinese names first, then their
#: pinyin-initial codes (报警时间 = Bao Jing Shi Jian = BJSJ). The first name of a role
#: found in a header is read. Collected from the field lists of public 110 data
#: standards and the exports of several city platforms; extend with a --mapping file.
CN110_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("接警单编号", "JJDBH", "警情编号", "JQBH", "接警编号", "JJBH", "报警编号", "BJBH"),
    "time": ("报警时间", "BJSJ", "接警时间", "JJSJ", "案发时间", "AFSJ", "发案时间", "FASJ"),
    "type": (
        "报警类别",
        "BJLB",
        "警情类别",
        "JQLB",
        "报警类别代码",
        "BJLBDM",
        "警情类别代码",
        "JQLBDM",
        "案件类别",
        "AJLB",
    ),
    "subtype": (
        "报警细类",
        "BJXL",
        "警情细类",
        "JQXL",
        "报警类型",
        "BJLX",
        "警情类型",
        "JQLX",
    ),
    "type_detail": ("报警类型", "BJLX", "警情类型", "JQLX"),
    "address": (
        "事发地址",
        "SFDZ",
        "案发地址",
        "AFDZ",
        "发案地址",
        "FADZ",
        "报警地址",
        "BJDZ",
        "事发地点",
        "SFDD",
    ),
    "caller_name": ("报警人", "BJRXM", "报警人姓名", "BJR", "BJRMC"),
    "caller_phone": (
        "联系电话",
        "BJDH",
        "报警电话",
        "LXDH",
        "报警人电话",
        "BJRDH",
        "报警人联系电话",
        "来电号码",
        "LDHM",
        "主叫号码",
        "ZJHM",
    ),
    "unit": ("管辖单位", "GXDW", "GXDWMC", "处警单位", "CJDW", "派出所", "PCS"),
    # the unit that handled the call, when the export names it apart from the unit whose
    # area it is (管辖单位 above takes the role ``unit`` first)
    "handling_unit": ("处警单位", "CJDW", "处警单位名称", "CJDWMC"),
    "priority": ("警情级别", "JQJB", "警情等级", "JQDJ", "报警级别", "BJJB", "处警级别", "CJJB"),
}
#: Step-time columns of 110 exports (:data:`STEP_COLUMNS`), Chinese names first, then
#: their pinyin-initial codes. Two codes are not read because two steps share them:
#: ``CJSJ`` (出警时间, 处警时间: handling, often the dispatch) and ``DDSJ`` (到达时间,
#: 调度时间: the dispatch); name such a column in a --mapping file.
CN110_STEPS: dict[str, tuple[str, ...]] = {
    "dispatched_at": ("派警时间", "PJSJ", "派单时间", "PDSJ", "调派时间", "DPSJ"),
    "acknowledged_at": ("签收时间", "QSSJ", "处警签收时间", "CJQSSJ"),
    "en_route_at": ("出警时间", "出动时间", "CDSJ"),
    "on_scene_at": ("到达时间", "到场时间", "DCSJ", "到达现场时间", "DDXCSJ"),
    "cleared_at": ("反馈时间", "FKSJ", "处警反馈时间", "CJFKSJ"),
}
CN110_COORDS: tuple[tuple[str, str], ...] = (
    ("经度", "纬度"),
    ("JD", "WD"),
    ("ZBX", "ZBY"),
    ("X坐标", "Y坐标"),
    ("坐标X", "坐标Y"),
    ("XZB", "YZB"),
    ("X", "Y"),
    ("GIS_X", "GIS_Y"),
    ("LNG", "LAT"),
    ("LON", "LAT"),
    ("LONGITUDE", "LATITUDE"),
)
#: Free-text columns recognised and deliberately not read: they often name the caller.
CN110_DROPPED = ("报警内容", "BJNR", "警情内容", "JQNR", "简要案情", "JYAQ")
#: Time layouts seen in 110 exports, tried in this order (see the module docstring).
CN110_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "epoch_ms",
    "epoch_s",
    "%Y%m%d%H%M%S",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y年%m月%d日 %H时%M分",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y年%m月%d日",
)
#: Mainland China and its coastal waters, a rough (min_lon, min_lat, max_lon, max_lat).
CHINA_EXTENT = (73.4, 17.9, 135.1, 53.6)
CN110 = Profile(
    name="cn110",
    alias_layouts=(
        AliasLayout(
            name="cn110",
            timezone="Asia/Shanghai",
            time=CN110_ALIASES["time"],
            time_formats=CN110_TIME_FORMATS,
            type=CN110_ALIASES["type"],
            id=CN110_ALIASES["id"],
            subtype=CN110_ALIASES["subtype"],
            extra={
                k: CN110_ALIASES[k]
                for k in (
                    "type_detail",
                    "address",
                    "caller_name",
                    "caller_phone",
                    "unit",
                    "handling_unit",
                    "priority",
                )
            },
            steps=CN110_STEPS,
            lonlat=CN110_COORDS,
            scheme="cn110",
            bbox=CHINA_EXTENT,
            mask={"caller_name": "name", "caller_phone": "phone"},
            dropped=CN110_DROPPED,
        ),
    ),
)
PROFILES: dict[str, Profile] = {"chicago": CHICAGO, "portland": PORTLAND, "cn110": CN110}


def profile_from_toml(path: str | Path) -> Profile:
    """Read a generic profile from a TOML mapping.

    Example (a Chinese 110 export in GCJ-02)::

        name = "city-110"
        encoding = "gb18030"          # optional; default: detect
        [layout]
        delimiter = ","
        timezone = "Asia/Shanghai"
        id = "警情编号"
        time = "报警时间"
        time_formats = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"]
        type = "警情类别"
        subtype = "警情细类"
        scheme = "cn110"
        bbox = [120.8, 30.6, 122.2, 31.9]
        [layout.extra]                # optional: kept as columns (priority, unit: KPIs)
        priority = "警情级别"
        handling_unit = "处警单位"
        [layout.steps]                # optional step times, read like the call time
        dispatched_at = "派警时间"
        acknowledged_at = "签收时间"
        en_route_at = "出警时间"
        on_scene_at = "到达时间"
        cleared_at = "反馈时间"
        [[layout.coords]]
        kind = "lonlat"
        x = "经度"
        y = "纬度"
        frame = "gcj02"

    Raises
    ------
    DataFileError
        Naming the field that is missing or wrong.
    """
    try:
        doc = tomllib.loads(read_toml_text(path))
    except OSError as exc:
        raise DataFileError(path, f"cannot read mapping: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(path, f"not valid TOML: {exc}") from exc
    layout = dict(doc.get("layout", {}))
    layout.setdefault("name", doc.get("name", Path(path).stem))
    try:
        return Profile(
            name=str(doc.get("name", Path(path).stem)),
            encoding=str(doc.get("encoding", "auto")),
            layouts=(Layout(**layout),),
        )
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise DataFileError(path, f"{err['msg']}", field=f"layout.{loc}") from exc
