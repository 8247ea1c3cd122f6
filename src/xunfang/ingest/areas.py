"""Study areas: a police district, a beat, or a list of community areas, chosen by name.

The boundary files are WGS-84 GeoJSON (``DATA_DIR/<city>/boundaries``). A study area
carries its polygon in WGS-84 and in the analysis CRS, which is the UTM zone of the
area's centroid unless one is given.

Names accepted by :func:`load_study_area` (case and ``_``/space insensitive)::

    district:1            police district 1 (property ``dist_num``)
    beat:0111             police beat (property ``BEAT_NUM``)
    community:LOOP,NEAR_WEST_SIDE   one or more community areas (property ``community``)
    LOOP                  a bare name is looked up among community areas, then districts

Any city's boundary file (GeoJSON, GeoPackage, Shapefile as ``.shp``, ``.zip`` or folder,
KML; any CRS; lon/lat files in WGS-84, GCJ-02 or BD-09) is read by
:func:`read_boundary_file` and one or more of its polygons chosen by
:func:`area_from_layer`; :class:`xunfang.ingest.city.City` puts the two together.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from xunfang import strict_json
from xunfang.errors import AreaNotFoundError, DataFileError, DataWarning, ValidationError
from xunfang.ingest.coords import to_wgs84
from xunfang.units import WGS84, require_projected, utm_crs_for

BOUNDARY_FILES = {
    "district": ("police_districts.geojson", "dist_num"),
    "beat": ("police_beats_dec2012.geojson", "BEAT_NUM"),
    "community": ("community_areas.geojson", "community"),
}


@dataclass(frozen=True)
class StudyArea:
    """A named study area.

    Attributes
    ----------
    name
        The name as given (e.g. ``"district:1"``).
    kind
        ``"district"``, ``"beat"`` or ``"community"``.
    members
        The boundary names that make it up (e.g. community area names).
    polygon_wgs84
        Union of the members, EPSG:4326 degrees.
    crs
        The analysis CRS (projected, metres).
    polygon
        The same polygon in ``crs``, metres.
    """

    name: str
    kind: str
    members: tuple[str, ...]
    polygon_wgs84: BaseGeometry
    crs: CRS
    polygon: BaseGeometry

    @property
    def area_km2(self) -> float:
        """Area in square kilometres."""
        return float(self.polygon.area) / 1e6


def _natural(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 62, name)


def _norm(name: object) -> str:
    return str(name).strip().upper().replace("_", " ").lstrip("0") or "0"


def same_area_name(a: object, b: object) -> bool:
    """Whether two polygon names are the same by the rule of ``--area`` (case, ``_`` for a
    space and leading zeros do not count: ``near_south_side`` is ``NEAR SOUTH SIDE``)."""
    return _norm(a) == _norm(b)


def _repaired(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """``gdf`` with its invalid polygons made valid, each repair named in a warning.

    :func:`shapely.make_valid` (GEOS's "linework" method) keeps every part a ring encloses:
    a self-intersecting "bow-tie" ring becomes its two triangles, where ``buffer(0)`` keeps
    one of them and drops the other without a word. Only the polygonal parts of the result
    are kept (a ring that touches itself may leave a line behind). Each repaired feature is
    named (1-based, as in the file) with GEOS's reason in a :class:`DataWarning`.
    """
    geom = gdf.geometry.to_numpy()
    invalid = ~shapely.is_valid(geom)
    if not invalid.any():
        return gdf
    fixed = shapely.make_valid(geom[invalid])
    polys = []
    for g in fixed:
        parts = [q for q in shapely.get_parts(g) if q.geom_type in ("Polygon", "MultiPolygon")]
        polys.append(shapely.union_all(parts) if parts else shapely.Polygon())
    for i, before, after in zip(np.flatnonzero(invalid), geom[invalid], polys, strict=True):
        warnings.warn(
            f"{path.name}, feature {i + 1}: invalid polygon ({shapely.is_valid_reason(before)}); "
            f"made valid keeping every part its rings enclose ({after.geom_type}, "
            f"{shapely.get_num_geometries(after)} part(s)); check that this is the area meant",
            DataWarning,
            stacklevel=3,
        )
    out = gdf.copy()
    out.loc[invalid, out.geometry.name] = polys
    return out


def read_boundaries(boundary_dir: Path, kind: str) -> gpd.GeoDataFrame:
    """Read one boundary layer, repairing invalid polygons (:func:`_repaired`).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name`` (str) and ``geometry`` (EPSG:4326).

    Raises
    ------
    ValidationError
        For an unknown ``kind``.
    DataFileError
        If the file is missing or lacks the name property.
    """
    if kind not in BOUNDARY_FILES:
        raise ValidationError(
            f"unknown boundary kind {kind!r}; use one of {sorted(BOUNDARY_FILES)}"
        )
    filename, key = BOUNDARY_FILES[kind]
    path = boundary_dir / filename
    if not path.is_file():
        raise DataFileError(path, "boundary file not found (check XUNFANG_DATA_DIR)")
    strict_json.check_file(path)
    gdf = gpd.read_file(path)
    by_lower = {str(c).lower(): c for c in gdf.columns}
    if key.lower() not in by_lower:
        raise DataFileError(path, f"has no property {key!r} (found {list(gdf.columns)})", field=key)
    key = by_lower[key.lower()]
    gdf = gdf.set_crs(WGS84) if gdf.crs is None else gdf.to_crs(WGS84)
    gdf = _repaired(gdf, path)
    return gpd.GeoDataFrame({"name": gdf[key].astype(str)}, geometry=gdf.geometry, crs=WGS84)


def load_study_area(boundary_dir: Path, name: str, *, crs: CRS | str | None = None) -> StudyArea:
    """Find a study area by name in the boundary files.

    Parameters
    ----------
    boundary_dir
        Folder with the boundary GeoJSON files.
    name
        See the module docstring for the accepted forms.
    crs
        Analysis CRS; default the UTM zone of the area's centroid.

    Raises
    ------
    AreaNotFoundError
        If no boundary matches, listing the names that exist.
    """
    if ":" in name:
        kind, _, rest = name.partition(":")
        kinds = [kind.strip().lower()]
        wanted = [w for w in rest.split(",") if w.strip()]
    else:
        kinds = ["community", "district"]
        wanted = [w for w in name.split(",") if w.strip()]
    if not wanted:
        raise AreaNotFoundError(f"empty study area name {name!r}")
    for kind in kinds:
        layer = read_boundaries(boundary_dir, kind)
        keys = layer["name"].map(_norm)
        want = [_norm(w) for w in wanted]
        missing = [w for w, n in zip(wanted, want, strict=True) if n not in set(keys)]
        if missing and len(kinds) > 1:
            continue
        if missing:
            known = ", ".join(sorted(layer["name"].astype(str))[:80])
            raise AreaNotFoundError(
                f"no {kind} named {', '.join(missing)!s} in {boundary_dir}; known names: {known}"
            )
        chosen = layer[keys.isin(want)]
        return _study_area(chosen, name, kind, crs)
    raise AreaNotFoundError(
        f"no community area or police district named {name!r}; use e.g. 'district:1', "
        "'community:LOOP,NEAR_WEST_SIDE' or 'beat:0111' (`xunfang areas` lists them)"
    )


def community_areas_touching(boundary_dir: Path, area: StudyArea) -> list[str]:
    """Names of the community areas whose polygon intersects the study area.

    Used to pick the per-community-area road graphs that cover a district.
    """
    layer = read_boundaries(boundary_dir, "community").to_crs(area.crs)
    hits = layer[layer.intersects(area.polygon.buffer(200.0))]
    # ignore slivers: keep areas that share at least 1 % of their own area or 0.05 km2
    inter = hits.geometry.intersection(area.polygon.buffer(200.0)).area
    keep = (inter >= 0.01 * hits.geometry.area) | (inter >= 5e4)
    return sorted(hits.loc[keep, "name"].astype(str))


BOUNDARY_FORMATS = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".kml", "a Shapefile folder")
"""The boundary file forms :func:`read_boundary_file` reads."""
NAME_FIELDS = ("name", "名称", "name_zh", "name:zh", "title", "district", "label", "id")
"""Properties tried, in this order and case-insensitively, for a polygon's name."""


def _guess_name_field(gdf: gpd.GeoDataFrame) -> str | None:
    """The property that looks like the polygons' names, or None.

    A candidate holds a non-empty string for every polygon, no two alike; of those, the
    first whose name contains ``名``, ``name`` or ``称`` (case-insensitive; e.g. ``辖区名``,
    ``DIST_NAME``), else the first candidate.
    """
    found = []
    for c in gdf.columns:
        if c == gdf.geometry.name:
            continue
        values = gdf[c]
        if not all(isinstance(v, str) and v.strip() for v in values):
            continue
        if values.str.strip().nunique() == len(values):
            found.append(str(c))
    named = [c for c in found if any(k in c.lower() for k in ("名", "name", "称"))]
    return (named or found)[0] if found else None


def read_boundary_file(
    path: str | Path,
    *,
    name_field: str | None = None,
    frame: str = "wgs84",
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read the polygons of a boundary file in any CRS and name each.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile (``.shp``, a ``.zip`` holding one, or the folder),
        or KML (see :data:`BOUNDARY_FORMATS`); read with pyogrio.
    name_field
        Property holding each polygon's name; default the first of :data:`NAME_FIELDS`
        present, else a property of distinct non-empty strings (one whose name contains
        ``名``/``name`` first), else ``"polygon N"`` (1-based, with a :class:`DataWarning`
        naming the properties found).
    frame
        ``wgs84``, ``gcj02`` or ``bd09``: the datum of a lon/lat file (a file in a
        projected CRS is taken as its CRS says). GCJ-02 and BD-09 vertices are converted
        with :func:`xunfang.ingest.coords.to_wgs84`.
    layer
        Layer of a multi-layer file (GeoPackage, KML folders); default the first.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name`` (str) and ``geometry`` ((Multi)Polygon, EPSG:4326); invalid
        polygons repaired (:func:`_repaired`).

    Raises
    ------
    DataFileError
        If the file is missing, not a readable vector file (the message lists the forms
        read), has no polygon, or lacks ``name_field`` (listing the properties there are).
    """
    p = Path(path)
    if not p.exists():
        raise DataFileError(p, "boundary file not found")
    import pyogrio

    strict_json.check_file(p)
    try:
        gdf = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        raise DataFileError(
            p,
            f"not a boundary file this version reads ({exc}); give one of "
            f"{', '.join(BOUNDARY_FORMATS)}",
        ) from exc
    is_poly = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not is_poly.any():
        kinds = sorted(gdf.geometry.geom_type.dropna().unique())
        raise DataFileError(p, f"has no polygon (found {kinds or 'no geometry'})")
    gdf = gdf[is_poly].reset_index(drop=True)
    if gdf.crs is None:
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise DataFileError(
                p,
                f"states no CRS (a Shapefile without its .prj file?) and its coordinates "
                f"(x {minx:,.1f} to {maxx:,.1f}, y {miny:,.1f} to {maxy:,.1f}) are not "
                "lon/lat degrees: add the .prj file beside the .shp (in the zip), or save the "
                "boundary with its CRS",
            )
        gdf = gdf.set_crs(WGS84)  # no CRS but degrees: taken as lon/lat (GeoJSON's rule)
    if gdf.crs.is_geographic:
        gdf = gdf.to_crs(WGS84)
        key = str(frame).lower().replace("-", "").replace("_", "")
        if key != "wgs84":

            def shift(coords: np.ndarray) -> np.ndarray:
                lon, lat = to_wgs84(coords[:, 0], coords[:, 1], frame)
                return np.column_stack([lon, lat])

            gdf = gdf.set_geometry(shapely.transform(gdf.geometry.to_numpy(), shift), crs=WGS84)
    else:
        gdf = gdf.to_crs(WGS84)
    gdf = _repaired(gdf, p)
    props = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    lower = {c.lower(): c for c in props}
    if name_field is not None:
        if name_field.lower() not in lower:
            raise DataFileError(
                p, f"has no property {name_field!r} (found {props})", field=name_field
            )
        col: str | None = lower[name_field.lower()]
        empty = gdf[col].isna().to_numpy() | (gdf[col].astype(str).str.strip() == "").to_numpy()
        if empty.any():
            raise DataFileError(
                p,
                f"property {col!r} is empty for {int(empty.sum())} of {len(gdf)} polygons (the "
                f"first: polygon {int(np.flatnonzero(empty)[0]) + 1}); name every polygon, or "
                f"choose another property (found {props})",
                field=col,
            )
    else:
        col = next((lower[f] for f in NAME_FIELDS if f in lower), None) or _guess_name_field(gdf)
    if col is not None:
        names = gdf[col].astype(str).str.strip()
    else:
        names = pd.Series([f"polygon {i + 1}" for i in range(len(gdf))])
        warnings.warn(
            f"{p.name}: no property names its {len(gdf)} polygon(s) (properties: "
            f"{', '.join(props) or 'none'}), so they are called 'polygon 1' ... "
            f"'polygon {len(gdf)}'; name the property that holds their names with "
            "--boundary-name-field or name_field in the city file's boundary",
            DataWarning,
            stacklevel=2,
        )
    return gpd.GeoDataFrame({"name": names.to_numpy()}, geometry=gdf.geometry.to_numpy(), crs=WGS84)


def area_from_layer(
    layer: gpd.GeoDataFrame,
    names: str | None,
    *,
    kind: str,
    source: str | Path,
    crs: CRS | str | None = None,
    option: str = "--boundary-name",
) -> StudyArea:
    """Choose one or more polygons of a boundary layer by name and make them a study area.

    Parameters
    ----------
    layer
        From :func:`read_boundary_file` (``name``, ``geometry`` in EPSG:4326).
    names
        Comma-separated names (case and ``_``/space insensitive); ``None`` takes the only
        polygon, or the union of all polygons when they share one name.
    kind
        Recorded as :attr:`StudyArea.kind`.
    source
        The file, for messages.
    crs
        Analysis CRS; default the UTM zone of the area's centroid.
    option
        The option name messages tell the user to set.

    Raises
    ------
    AreaNotFoundError
        If ``names`` is missing while the layer holds differently named polygons, or names
        one that is not there; the message lists the names there are.
    """
    all_names = sorted(dict.fromkeys(layer["name"].astype(str)), key=_natural)
    shown = ", ".join(all_names[:80]) + (" ..." if len(all_names) > 80 else "")
    if names is None or not names.strip():
        if len(all_names) > 1:
            raise AreaNotFoundError(
                f"{source} holds {len(all_names)} polygons: choose with {option} (names: {shown})"
            )
        chosen = layer
        label = all_names[0] if all_names else kind
    else:
        wanted = [w for w in names.split(",") if w.strip()]
        keys = layer["name"].map(_norm)
        want = [_norm(w) for w in wanted]
        missing = [w for w, n in zip(wanted, want, strict=True) if n not in set(keys)]
        if missing:
            raise AreaNotFoundError(
                f"no {kind} named {', '.join(missing)} in {source} ({option}); known names: {shown}"
            )
        chosen = layer[keys.isin(want)]
        label = names
    return _study_area(chosen, label, kind, crs)


def _study_area(chosen: gpd.GeoDataFrame, name: str, kind: str, crs: CRS | str | None) -> StudyArea:
    """The study area made of the ``chosen`` polygons (WGS-84, a ``name`` column), in
    ``crs`` or the UTM zone of their centroid."""
    poly_wgs = shapely.union_all(chosen.geometry.to_numpy())
    centroid = poly_wgs.centroid
    area_crs = (
        require_projected(crs, "study area")
        if crs is not None
        else utm_crs_for(centroid.x, centroid.y)
    )
    poly = gpd.GeoSeries([poly_wgs], crs=WGS84).to_crs(area_crs).iloc[0]
    return StudyArea(
        name=name,
        kind=kind,
        members=tuple(dict.fromkeys(chosen["name"].astype(str))),
        polygon_wgs84=poly_wgs,
        crs=area_crs,
        polygon=poly,
    )
