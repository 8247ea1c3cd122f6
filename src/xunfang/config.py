"""Validated settings, read once from the environment (prefix ``XUNFANG_``) and passed explicitly.

The data directory holds one folder per city (``DATA_DIR/CITY/...``, as ``xunfang data
fetch`` writes it); a city file (``xunfang/data/cities/*.toml``) names the files of one city
in it: boundaries, roads, stations, incidents. The example city file shipped with the
package is the default city of every command; ``XUNFANG_CITY=FILE.toml`` makes another city file the
default (:func:`xunfang.ingest.city.default_city`), and ``--city``/``--boundary`` choose one
per command.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from xunfang.errors import ValidationError

DEFAULT_DATA_DIR = Path("data")
"""Default of ``XUNFANG_DATA_DIR``: ``data`` in the current folder. (``make demo`` and
``make test`` set ``XUNFANG_DATA_DIR`` to ``../shared/data`` themselves.)"""

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "xunfang"
"""Default of ``XUNFANG_CACHE_DIR`` (downloads and built road networks)."""


class Settings(BaseSettings):
    """xunfang settings.

    Attributes
    ----------
    data_dir
        Root of the data layout above (``XUNFANG_DATA_DIR``).
    cache_dir
        Where downloads and computed road networks are cached (``XUNFANG_CACHE_DIR``).
    source_base_url
        Override of the download host of every public source, for mirrors and tests
        (``XUNFANG_SOURCE_BASE_URL``); empty means each source's own address.
    """

    model_config = SettingsConfigDict(env_prefix="XUNFANG_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR)
    cache_dir: Path = Field(default=DEFAULT_CACHE_DIR)
    source_base_url: str = ""

    def city_dir(self, city: str) -> Path:
        """The folder of one city's data, checked to exist.

        Raises
        ------
        ValidationError
            If the folder is missing, with the two ways to provide it.
        """
        path = self.data_dir / city
        if not path.is_dir():
            raise ValidationError(
                f"{path.absolute()} does not exist: {data_dir_hint(self.data_dir, city)}"
            )
        return path


def data_dir_hint(data_dir: Path, city: str | None = None) -> str:
    """Where xunfang looked for data and how to point it elsewhere, for the error of a
    data file that is missing.

    Parameters
    ----------
    data_dir
        The data directory in use.
    city
        The city folder to name (e.g. the one the missing file lies in); None: the hint
        speaks of the city's folder in general.

    Returns
    -------
    str
        E.g. "looked in the data directory /home/me/data (the default: ./data of the
        current folder, as XUNFANG_DATA_DIR is not set), which does not exist; set
        XUNFANG_DATA_DIR (or --data-dir) ...".
    """
    env = os.environ.get("XUNFANG_DATA_DIR")
    if env is not None and Path(env) == data_dir:
        source = "from XUNFANG_DATA_DIR"
    elif env is None and data_dir == DEFAULT_DATA_DIR:
        source = "the default: ./data of the current folder, as XUNFANG_DATA_DIR is not set"
    else:
        source = "from --data-dir"
    missing = "" if data_dir.is_dir() else ", which does not exist"
    folder = f"{city}/" if city else "your city's folder"
    from xunfang.ingest.sources import CITIES  # only on this error's path

    fetch = (
        f", or download it with `xunfang data fetch {city or 'CITY'}` (for the cities "
        "`xunfang data fetch --help` lists)"
        if city is None or city in CITIES
        else ""  # a folder no fetcher knows (e.g. an OSM extract): the hint does not offer one
    )
    return (
        f"looked in the data directory {data_dir.absolute()} ({source}){missing}; set "
        f"XUNFANG_DATA_DIR (or --data-dir) to the folder that holds {folder} (as `make "
        f"demo` does: XUNFANG_DATA_DIR=../shared/data beside the repository){fetch}"
    )


def missing_data_hint(path: str | Path) -> str:
    """:func:`data_dir_hint` when ``path`` (a file, or a glob pattern) is missing and lies
    in the data directory of the environment (``XUNFANG_DATA_DIR``, else ./data), else
    ``""``: a missing file elsewhere is the user's own path, and its error says enough."""
    text = str(path)
    if any(c in text for c in "*?["):
        text = text[: min(text.index(c) for c in "*?[" if c in text)]
    p = Path(text)
    if p.exists() and not any(c in str(path) for c in "*?["):
        return ""
    try:
        data_dir = get_settings().data_dir
    except ValueError:  # an invalid environment: its own error says more
        return ""
    root, where = data_dir.resolve(), p.resolve()
    if where != root and root not in where.parents:
        return ""
    below = where.relative_to(root).parts
    return data_dir_hint(data_dir, below[0] if below else None)


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (``None`` values are ignored)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
