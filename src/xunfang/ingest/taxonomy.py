"""Map source offence / call types into one taxonomy of type groups.

The table is a TOML file (the default ships as ``xunfang/data/taxonomy.toml``); see its
header for the rule format. Classification runs once per distinct
``(type, subtype, premise)`` combination, so a million rows cost no more than their
few thousand distinct combinations.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from xunfang.errors import DataFileError, read_toml_text

OTHER = "other"
_CODE = re.compile(r"^[1-9]\d{5}$")


@dataclass(frozen=True)
class _Rule:
    type: str | None
    subtype: re.Pattern[str] | None
    premise: re.Pattern[str] | None
    group: str


@dataclass(frozen=True)
class Taxonomy:
    """A validated type-group table.

    Attributes
    ----------
    groups
        The group names, in display order.
    labels
        ``labels[lang][group]`` display names (``en``, ``zh``).
    schemes
        Scheme name -> (rules, type map).
    source
        Where the table was read from.
    """

    groups: tuple[str, ...]
    labels: dict[str, dict[str, str]]
    schemes: dict[str, tuple[tuple[_Rule, ...], dict[str, str]]]
    source: str
    code_families: dict[str, dict[str, str]] = field(default_factory=dict)
    """Scheme -> first digit of a 6-digit category code -> group (cn110)."""

    def label(self, group: str, lang: str = "en") -> str:
        """Display name of a group in ``lang`` (falls back to the group key)."""
        return self.labels.get(lang, {}).get(group, group)

    def classify(
        self, scheme: str, type_: pd.Series, subtype: pd.Series, premise: pd.Series
    ) -> tuple[pd.Series, pd.Series]:
        """Type group of every row.

        Parameters
        ----------
        scheme
            A scheme of the table (``chicago``, ``portland``, ``cn110``, ...).
        type_, subtype, premise
            Aligned string Series (missing values allowed).

        Returns
        -------
        (groups, unmapped)
            ``groups``: Series of group names; ``unmapped``: boolean Series, True where
            neither a rule nor the type map matched (those rows get ``"other"``).

        Raises
        ------
        DataFileError
            If the table has no such scheme.
        """
        if scheme not in self.schemes:
            raise DataFileError(
                self.source,
                f"no taxonomy scheme {scheme!r}; schemes: {sorted(self.schemes)}",
                field="taxonomy",
            )
        rules, types = self.schemes[scheme]
        families = self.code_families.get(scheme, {})
        key = pd.DataFrame(
            {
                "t": type_.fillna("").astype(str).str.strip(),
                "s": subtype.fillna("").astype(str).str.strip(),
                "p": premise.fillna("").astype(str).str.strip(),
            }
        )
        codes, uniques = pd.factorize(key["t"] + "\x1f" + key["s"] + "\x1f" + key["p"])
        answers = [self._one(rules, types, families, *str(u).split("\x1f")) for u in uniques]
        group_arr = np.array([a[0] for a in answers] + [OTHER], dtype=object)
        unmapped_arr = np.array([a[1] for a in answers] + [True], dtype=bool)
        return (
            pd.Series(group_arr[codes], index=type_.index, dtype="string"),
            pd.Series(unmapped_arr[codes], index=type_.index),
        )

    @staticmethod
    def _one(
        rules: tuple[_Rule, ...],
        types: dict[str, str],
        families: dict[str, str],
        t: str,
        s: str,
        p: str,
    ) -> tuple[str, bool]:
        tu = t.upper()
        for rule in rules:
            if rule.type is not None and rule.type != tu:
                continue
            if rule.subtype is not None and not rule.subtype.search(s):
                continue
            if rule.premise is not None and not rule.premise.search(p):
                continue
            return rule.group, False
        if tu in types:
            return types[tu], False
        if families and _CODE.match(t) and t[0] in families:
            return families[t[0]], False
        return OTHER, True


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy table (the shipped default when ``path`` is None).

    Raises
    ------
    DataFileError
        On TOML syntax errors, unknown group names, bad regular expressions, or rules
        without a ``group`` — naming the scheme and rule number.
    """
    if path is None:
        text = resources.files("xunfang.data").joinpath("taxonomy.toml").read_text("utf-8")
        source = "xunfang/data/taxonomy.toml"
    else:
        source = str(path)
        try:
            text = read_toml_text(path)
        except OSError as exc:
            raise DataFileError(path, f"cannot read taxonomy table: {exc.strerror}") from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(source, f"not valid TOML: {exc}") from exc
    groups = tuple(doc.get("groups", ()))
    if not groups or OTHER not in groups:
        raise DataFileError(
            source, f"'groups' must list the group names, including {OTHER!r}", field="groups"
        )
    labels = {lang: dict(v) for lang, v in doc.get("labels", {}).items()}
    schemes: dict[str, tuple[tuple[_Rule, ...], dict[str, str]]] = {}
    families: dict[str, dict[str, str]] = {}
    for name, body in doc.items():
        if name in ("groups", "labels") or not isinstance(body, dict):
            continue
        rules = []
        for i, raw in enumerate(body.get("rules", []), start=1):
            where = f"{name}.rules[{i}]"
            group = raw.get("group")
            if group not in groups:
                raise DataFileError(
                    source, f"{where}: group {group!r} is not one of {groups}", field="group"
                )
            try:
                rules.append(
                    _Rule(
                        type=str(raw["type"]).upper() if "type" in raw else None,
                        subtype=re.compile(raw["subtype"], re.I) if "subtype" in raw else None,
                        premise=re.compile(raw["premise"], re.I) if "premise" in raw else None,
                        group=group,
                    )
                )
            except re.error as exc:
                raise DataFileError(source, f"{where}: bad regular expression: {exc}") from exc
        types: dict[str, str] = {}
        for t, group in body.get("types", {}).items():
            if group not in groups:
                raise DataFileError(
                    source,
                    f"{name}.types[{t!r}]: group {group!r} is not one of {groups}",
                    field="types",
                )
            types[str(t).upper()] = group
        schemes[name] = (tuple(rules), types)
        fam = {str(k): str(v) for k, v in body.get("code_families", {}).items()}
        for digit, group in fam.items():
            if digit not in "123456789" or len(digit) != 1 or group not in groups:
                raise DataFileError(
                    source,
                    f"{name}.code_families[{digit!r}]: keys are the digits 1-9 and values "
                    f"one of {groups}, got {group!r}",
                    field="code_families",
                )
        if fam:
            families[name] = fam
    return Taxonomy(
        groups=groups, labels=labels, schemes=schemes, source=source, code_families=families
    )


def type_mask(
    frame: pd.DataFrame, wanted: list[str] | tuple[str, ...], taxonomy: Taxonomy | None = None
) -> tuple[np.ndarray, list[str]]:
    """Rows of an incident frame whose type group, type or subtype is one of ``wanted``.

    Each value is matched, case-insensitively and in this order, against the type-group
    keys (``service``), their display names in every language (``求助服务``, ``service /
    help``), then the ``type`` values of the data (``BURGLARY``, ``求助``) and its
    ``subtype`` values (``走失求助``): the first kind that matches a row is used for that
    value, and the rows of all values are kept (a union). A value that matches no row
    (a group absent from the data included) is returned as unknown.

    Parameters
    ----------
    frame
        An incident frame with ``type_group``, ``type`` and ``subtype`` columns (``subtype``
        may be missing).
    wanted
        The values given by the user (``--types``).
    taxonomy
        The type-group table (default: :func:`load_taxonomy`).

    Returns
    -------
    mask, unknown
        Boolean array of ``len(frame)``; the values that matched no row, in the order
        given (the caller raises, naming what exists).
    """
    tax = taxonomy or load_taxonomy()
    by_name: dict[str, str] = {g.lower(): g for g in tax.groups}
    for names in tax.labels.values():
        for g, label in names.items():
            by_name.setdefault(label.strip().lower(), g)
    group = frame["type_group"].astype(str).to_numpy()
    columns = [
        frame[c].astype(str).str.strip().str.lower().to_numpy()
        for c in ("type", "subtype")
        if c in frame.columns
    ]
    mask = np.zeros(len(frame), dtype=bool)
    unknown: list[str] = []
    for value in wanted:
        key = str(value).strip().lower()
        hits = ([group == by_name[key]] if key in by_name else []) + [c == key for c in columns]
        for hit in hits:
            if hit.any():
                mask |= hit
                break
        else:
            unknown.append(str(value))
    return mask, unknown


def unknown_types_message(frame: pd.DataFrame, unknown: list[str]) -> str:
    """The error text for ``--types`` values that match no row (see :func:`type_mask`):
    names the groups present and a few types and subtypes of the data."""

    def few(col: str) -> list[str]:
        if col not in frame.columns:
            return []
        return sorted(frame[col].dropna().astype(str).unique())[:8]

    return (
        f"--types {unknown} match no type group {few('type_group')}, type (e.g. "
        f"{few('type')}) or subtype (e.g. {few('subtype')}) of the data"
    )
