"""Measurement writes per second and latency of the API at 1, 10 and 50 concurrent clients.

Loopback only and bounded: a `sotmeasure serve` subprocess on 127.0.0.1 with a temporary
SQLite database (and a temporary PostgreSQL database when one answers at 127.0.0.1:5432),
a fixed number of requests per level and a time cap per level. Each request is
POST /visits/{id}/measurements with a finished result (the import endpoint), i.e. one
authenticated, validated, committed measurement row. Afterwards the rows are counted to
check that every 201 was stored and nothing else was.

    python bench/api_load.py [--requests 400] [--levels 1,10,50] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench_server import PASSWORD, USER_EMAIL, postgres_database, server


@dataclass
class LevelResult:
    backend: str
    clients: int
    requests: int
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def writes_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0


def _payload(k: int) -> dict[str, Any]:
    lld = (k % 21) - 10.0
    return {
        "phase": "pre" if k % 2 == 0 else "post",
        "result": {
            "lld_mm": lld,
            "lld_ci95_mm": [lld - 1.2, lld + 1.2],
            "lld_table_mm": lld,
            "short_side": "left" if lld > 0.5 else ("right" if lld < -0.5 else "none"),
            "pelvic_tilt_deg": 0.5,
            "pelvic_tilt_ci95_deg": [0.1, 0.9],
            "body_axis_deg": 0.4,
            "frames_used": 85,
            "frames_rejected": {"heels not visible": 3},
            "calibration": "camera+pose",
            "error_budget": {"lld_half_mm": 1.2},
            "provenance": {"software_version": "bench", "n": k},
        },
    }


async def run_level(
    base: str, headers: dict[str, str], visit_id: int, clients: int, total: int, cap_s: float
) -> tuple[list[float], int, int, float]:
    """`total` writes spread over `clients` concurrent connections, stopped at `cap_s`."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    start = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:

        async def worker() -> None:
            nonlocal errors
            for k in counter:
                if time.perf_counter() - start > cap_s:
                    return
                t0 = time.perf_counter()
                try:
                    response = await http.post(f"/visits/{visit_id}/measurements", json=_payload(k))
                    ok = response.status_code == 201
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                if not ok:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    return latencies, len(latencies) - errors, errors, elapsed


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def bench_backend(
    backend: str, database_url: str, data_dir: Path, levels: list[int], total: int, cap_s: float
) -> list[LevelResult]:
    results: list[LevelResult] = []
    with server(database_url, data_dir, extra_env={"SOTMEASURE_PROCESSING_WORKERS": "0"}) as base:
        token = httpx.post(
            f"{base}/auth/token", data={"username": USER_EMAIL, "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        patient = httpx.post(f"{base}/patients", json={"code": "BENCH-1"}, headers=headers).json()
        visit = httpx.post(f"{base}/patients/{patient['id']}/visits", json={}, headers=headers)
        visit_id = visit.json()["id"]
        stored_ok = 0
        for clients in levels:
            latencies, ok, errors, seconds = asyncio.run(
                run_level(base, headers, visit_id, clients, total, cap_s)
            )
            stored_ok += ok
            results.append(
                LevelResult(
                    backend, clients, len(latencies), ok, errors, seconds,
                    _percentile(latencies, 50) * 1000, _percentile(latencies, 99) * 1000,
                )
            )  # fmt: skip
        rows = httpx.get(f"{base}/visits/{visit_id}/measurements", headers=headers).json()
        if len(rows) != stored_ok:
            raise RuntimeError(f"{backend}: {stored_ok} writes answered 201 but {len(rows)} stored")
        print(f"{backend}: {len(rows)} rows stored = {stored_ok} answered 201", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="writes per level")
    parser.add_argument("--levels", default="1,10,50", help="concurrent clients per level")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap per level")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    results: list[LevelResult] = []
    with tempfile.TemporaryDirectory(prefix="sotm-bench-") as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        results += bench_backend(
            "sqlite", f"sqlite:///{sqlite_dir / 'bench.db'}", sqlite_dir, levels,
            args.requests, args.max_seconds,
        )  # fmt: skip
        with postgres_database("sotm_bench") as pg_url:
            if pg_url is not None:
                pg_dir = Path(tmp) / "postgres"
                results += bench_backend(
                    "postgresql", pg_url, pg_dir, levels, args.requests, args.max_seconds
                )
    print(f"{'backend':<11} {'clients':>7} {'requests':>8} {'errors':>6} "
          f"{'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8}")  # fmt: skip
    for r in results:
        print(
            f"{r.backend:<11} {r.clients:>7} {r.requests:>8} {r.errors:>6} "
            f"{r.writes_per_s:>9.1f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f}"
        )


if __name__ == "__main__":
    main()
