"""Benchmark: alert fan-out latency from a sighting to connected field pages.

An officer's sighting (``POST /api/alerts``) goes to the ``units`` nearest available units
within ``within_min`` minutes; the field pages hear it on the live feed (``/ws``). This measures,
for each sighting and each connected page, the time from sending the POST to the page
receiving the ``alert.created`` event (loopback, one server process):

* baseline: 1 connected field page (same run, same server, same sightings);
* 50 connected field pages (WebSocket clients), every one a recipient.

p50 / p99 in milliseconds are printed (nearest rank). The server is ``xunfang serve``
(uvicorn, one worker) on Chicago police district 1 (the real road network from the data
directory), in a subprocess on 127.0.0.1; units are placed at random road nodes of the
area and the sightings use ``within_min = 60`` and ``units`` = the number of pages so that
every unit (all available) is a recipient. The
machine is shared (2 CPUs, other work running): compare the two rows, not the absolute
figures with another machine.

    .venv/bin/python benchmarks/bench_field.py [--pages 50] [--sightings 40]
        [--data-dir DIR] [--area district:1] [--pg-url URL]

Bounded: 40 sightings 0.1 s apart per row (a few seconds), plus the server's start-up.
Road data (c) OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dispatch_api import ServeProcess, default_data_dir, random_points
from xunfang.serve.api.geo import build_geo
from xunfang.serve.api.security import Principal, Role, create_token, hash_password
from xunfang.store import repo
from xunfang.store.db import Database
from xunfang.store.migrate import upgrade

SEED = 20261201


def pct_ms(values_s: list[float], q: float) -> float:
    """Nearest-rank percentile of seconds, in milliseconds."""
    return float(np.percentile(np.asarray(values_s) * 1000.0, q, method="inverted_cdf"))


async def fan_out(
    url: str,
    tokens: list[str],
    reporter: str,
    lon: float,
    lat: float,
    n: int,
    tag: str,
    units: int,
) -> list[float]:
    """Connect one page per token, send ``n`` sightings (each to ``units`` units), return
    every page's latencies."""
    sent: dict[str, float] = {}
    got: list[float] = []
    ws_url = url.replace("http://", "ws://") + "/ws"
    conns = [await connect(ws_url, max_size=2**22) for _ in tokens]
    for ws, tok in zip(conns, tokens, strict=True):
        await ws.send(json.dumps({"token": tok}))
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello
    expected = len(conns) * n

    async def listen(ws: object) -> None:
        while True:
            msg = json.loads(await ws.recv())  # type: ignore[attr-defined]
            if msg["type"] == "alert.created" and msg["data"]["description"] in sent:
                got.append(time.perf_counter() - sent[msg["data"]["description"]])

    listeners = [asyncio.create_task(listen(ws)) for ws in conns]
    headers = {"Authorization": f"Bearer {reporter}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as c:
        for i in range(n):
            desc = f"bench {tag} sighting {i}"
            sent[desc] = time.perf_counter()
            r = await c.post(
                "/api/alerts",
                json={
                    "description": desc,
                    "lon": lon,
                    "lat": lat,
                    "within_min": 60,
                    "units": units,
                },
            )
            r.raise_for_status()
            await asyncio.sleep(0.1)
    deadline = time.monotonic() + 30
    while len(got) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for task in listeners:
        task.cancel()
    for ws in conns:
        await ws.close()
    if len(got) < expected:
        raise SystemExit(f"{tag}: only {len(got)} of {expected} deliveries arrived in 30 s")
    return got


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--area", default="district:1")
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--sightings", type=int, default=40)
    parser.add_argument("--pg-url", default=None, help="run on PostgreSQL instead of SQLite")
    args = parser.parse_args()
    if not (args.data_dir / "chicago").is_dir():
        sys.exit(f"{args.data_dir} has no chicago/: pass --data-dir or set XUNFANG_DATA_DIR")
    rng = np.random.default_rng(SEED)
    geo = build_geo(args.area, args.data_dir)
    n = args.pages
    ulon, ulat = random_points(geo, n + 1, rng)
    secret = secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.pg_url or f"sqlite:///{tmp}/field.db"
        db = Database(url)
        upgrade(db)
        pw = hash_password(secrets.token_urlsafe(16))
        with db.write() as s:
            repo.add_user(s, "bench-admin", pw, "admin")
            for i in range(n + 1):
                repo.add_user(s, f"f{i:03d}", pw, "officer", f"F{i:03d}")
        db.dispose()
        server = ServeProcess(args, url, secret, Path(tmp) / "server.log")
        try:
            admin = create_token(Principal("bench-admin", Role.ADMIN), secret, 60)[0]
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30
            ) as c:
                for i, (lo, la) in enumerate(zip(ulon.tolist(), ulat.tolist(), strict=True)):
                    r = c.post(
                        "/api/units",
                        json={"id": f"F{i:03d}", "kind": "booth", "lon": lo, "lat": la},
                    )
                    r.raise_for_status()
            tokens = [
                create_token(Principal(f"f{i:03d}", Role.OFFICER, f"F{i:03d}"), secret, 60)[0]
                for i in range(n + 1)
            ]
            reporter = tokens[n]  # the reporter's unit is never a recipient
            slon, slat = float(ulon[n]), float(ulat[n])
            print(
                f"{args.area}: {geo.network.n_nodes:,} road nodes; {n} field pages, "
                f"{args.sightings} sightings, {'PostgreSQL' if args.pg_url else 'SQLite'}, "
                "loopback, one server process (shared 2-CPU machine)"
            )
            print("alert fan-out, POST /api/alerts -> alert.created on each page:")
            for label, toks in (
                ("baseline,  1 page ", tokens[:1]),
                (f"{n:>2} pages        ", tokens[:n]),
            ):
                lat_s = asyncio.run(
                    fan_out(
                        server.url, toks, reporter, slon, slat, args.sightings, label.strip(), n
                    )
                )
                print(
                    f"  {label}: p50 {pct_ms(lat_s, 50):7.1f} ms   p99 {pct_ms(lat_s, 99):7.1f} ms"
                    f"   (n={len(lat_s)})"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
