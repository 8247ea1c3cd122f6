"""Validated settings, read once from the environment (prefix ``XUNFANG_``) and passed explicitly.

The data directory holds one folder per city (``DATA_DIR/CITY/...``, as ``xunfang data
fetch`` writes it); a city file (``xunfang/data/cities/*.toml``) names the files of one city
in it: boundaries, roads, stations, incidents. The example city file shipped with the
package is the default city of every command; ``XUNFANG_CITY=FILE.toml`` makes another city file the
default (:func:`xunfang.ingest.city.default_city`), and ``--city``/``--boundary`` choose one
per command.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from xunfang.errors import ValidationError

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

    data_dir: Path = Field(default=Path("data"))
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
                f"data directory {path} does not exist: set XUNFANG_DATA_DIR (or --data-dir) to "
                f"the folder that holds {city}/, or download it with `xunfang data fetch {city}`"
            )
        return path


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (``None`` values are ignored)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
