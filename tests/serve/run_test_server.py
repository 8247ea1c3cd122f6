"""Run the dispatch service on the synthetic grid (tests start this in a subprocess).

    python tests/serve/run_test_server.py --port 8123 --user disp:dispatcher

The database comes from XUNFANG_DATABASE_URL; users get password ``pw-<name>-1``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grid_geo import synthetic_geo

from xunfang.serve.api.app import prepare_database, run
from xunfang.serve.api.security import Role, hash_password
from xunfang.serve.api.settings import ServeSettings
from xunfang.store import repo
from xunfang.store.db import Database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", action="append", default=[])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = ServeSettings()
    db = Database(settings.database_url)
    prepare_database(db)
    with db.write() as s:
        for spec in args.user:
            name, role, *unit = spec.split(":")
            if repo.get_user(s, name) is None:
                repo.add_user(s, name, hash_password(f"pw-{name}-1"), Role(role).value, *unit)
    db.dispose()
    if args.workers > 1:  # each worker builds the grid itself
        run(
            settings,
            None,
            port=args.port,
            log_level="info",
            workers=args.workers,
            geo_factory="grid_geo:synthetic_geo",
        )
    else:
        run(settings, synthetic_geo(), port=args.port, log_level="info")


if __name__ == "__main__":
    main()
