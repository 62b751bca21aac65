"""Concurrent uploads with processing: N clients upload the fixture clip at once, the
server's worker measures every one, and the database must be consistent afterwards.

Loopback only and bounded: a `sotmeasure serve` subprocess on 127.0.0.1 with a temporary
SQLite database (and PostgreSQL when one answers at 127.0.0.1:5432), N uploads of
tests/fixtures/sessions/pre_block/video.mp4 (each made distinct by a few trailing bytes,
so every upload is a new stored file), a time cap on processing. Checked afterwards:
every 202 has a row, every row is `done` or `failed` with a reason, rows = uploads,
recordings rows = stored files, no scratch files left.

    python bench/upload_load.py [--uploads 8] [--clients 8] [--workers 1] [--max-seconds 900]
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

import httpx
from sqlalchemy import create_engine, text

from bench_server import patient_visits, postgres_database, server

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "tests" / "fixtures" / "sessions" / "pre_block" / "video.mp4"


@dataclass
class Outcome:
    backend: str
    uploads: int
    accepted: int
    upload_errors: int
    upload_p50_ms: float
    upload_p99_ms: float
    upload_wall_s: float
    done: int
    failed: int
    unfinished: int
    processing_wall_s: float
    consistent: bool
    notes: str


async def upload_all(
    base: str, headers: dict[str, str], visits: list[int], clients: int, clip: bytes
) -> tuple[list[int], list[float], int, float]:
    """Upload one distinct copy of the clip per visit, `clients` at a time."""
    gate = asyncio.Semaphore(clients)
    latencies: list[float] = []
    ids: list[int] = []
    errors = 0

    async def one(client: httpx.AsyncClient, k: int, visit_id: int) -> None:
        nonlocal errors
        body = clip + f"\n#upload-{k}".encode()  # trailing bytes: same video, new sha256
        async with gate:
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    f"/visits/{visit_id}/recordings",
                    files={"file": (f"clip{k}.mp4", body)},
                    data={"phase": "pre" if k % 2 == 0 else "post"},
                )
            except httpx.HTTPError:
                errors += 1
                return
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code == 202:
                ids.append(int(r.json()["id"]))
            else:
                errors += 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as client:
        await asyncio.gather(*(one(client, k, v) for k, v in enumerate(visits)))
    return ids, latencies, errors, time.perf_counter() - t0


def _check_database(url: str, data_dir: Path, accepted: int) -> tuple[bool, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, failure_reason, lld_mm FROM measurements")
            ).all()
            recordings = int(conn.execute(text("SELECT count(*) FROM recordings")).scalar_one())
    finally:
        engine.dispose()
    problems = []
    if len(rows) != accepted:
        problems.append(f"{len(rows)} rows for {accepted} accepted uploads")
    for status, reason, lld in rows:
        if status == "done" and lld is None:
            problems.append("a done row without numbers")
        if status == "failed" and not reason:
            problems.append("a failed row without a reason")
        if status not in ("done", "failed"):
            problems.append(f"a row left {status}")
    stored = [p for p in (data_dir / "recordings").iterdir() if p.is_file()]
    if len(stored) != recordings:
        problems.append(f"{len(stored)} stored files for {recordings} recording rows")
    leftovers = list((data_dir / "tmp").iterdir())
    if leftovers:
        problems.append(f"{len(leftovers)} scratch files left in tmp/")
    return not problems, "; ".join(sorted(set(problems))) or "ok"


def run_backend(
    backend: str, url: str, root: Path, uploads: int, clients: int, workers: int, cap_s: float
) -> Outcome:
    data_dir = root / f"data-{backend}"
    clip = CLIP.read_bytes()
    with server(
        url,
        data_dir,
        extra_env={
            "SOTMEASURE_PROCESSING_WORKERS": str(workers),
            "SOTMEASURE_POLL_INTERVAL_S": "0.5",
        },
        startup_timeout_s=90,
    ) as base:
        headers, visits = patient_visits(base, uploads, "U")
        ids, lat, errors, upload_wall = asyncio.run(
            upload_all(base, headers, visits, clients, clip)
        )
        t0 = time.perf_counter()
        statuses: dict[int, str] = {}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            while time.perf_counter() - t0 < cap_s:
                statuses = {m: c.get(f"/measurements/{m}").json()["status"] for m in ids}
                if all(s in ("done", "failed") for s in statuses.values()):
                    break
                time.sleep(2.0)
        processing_wall = time.perf_counter() - t0
    consistent, notes = _check_database(url, data_dir, len(ids))  # after an orderly stop
    values = list(statuses.values())
    return Outcome(
        backend,
        uploads,
        len(ids),
        errors,
        statistics.median(lat) if lat else float("nan"),
        statistics.quantiles(lat, n=100)[98] if len(lat) >= 2 else float("nan"),
        upload_wall,
        values.count("done"),
        values.count("failed"),
        sum(v not in ("done", "failed") for v in values),
        processing_wall,
        consistent,
        notes,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="server worker threads")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="processing cap")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="sotm-upload-") as tmp:
        root = Path(tmp)
        results.append(
            run_backend(
                "sqlite",
                f"sqlite:///{root / 'bench.db'}",
                root,
                args.uploads,
                args.clients,
                args.workers,
                args.max_seconds,
            )
        )
        if not args.sqlite_only:
            with postgres_database("sotm_upload") as pg:
                if pg:
                    results.append(
                        run_backend(
                            "postgresql",
                            pg,
                            root,
                            args.uploads,
                            args.clients,
                            args.workers,
                            args.max_seconds,
                        )
                    )
    print(
        "| backend | uploads | clients | accepted | upload errors | upload p50 ms | upload p99 ms "
        "| uploads wall s | done | failed | unfinished | processing wall s | s per measurement "
        "| DB consistent |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        per = r.processing_wall_s / max(r.done + r.failed, 1)
        print(
            f"| {r.backend} | {r.uploads} | {args.clients} | {r.accepted} | {r.upload_errors} "
            f"| {r.upload_p50_ms:.0f} | {r.upload_p99_ms:.0f} | {r.upload_wall_s:.1f} "
            f"| {r.done} | {r.failed} | {r.unfinished} | {r.processing_wall_s:.0f} | {per:.1f} "
            f"| {'yes' if r.consistent else 'NO: ' + r.notes} |"
        )
    ok = all(r.consistent and r.upload_errors == 0 and r.unfinished == 0 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
