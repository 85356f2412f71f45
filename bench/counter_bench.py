#!/usr/bin/env python3
"""Benchmark the visitor counter on loopback: counted hits/s vs /healthz requests/s.

Starts `python -m counter` on 127.0.0.1 with a throwaway database and a generated
page list, then drives it with many keep-alive connections (asyncio streams):
first POST /api/hit where every request is a new visitor (its own User-Agent), so
every hit is a committed write; then GET /healthz on the same server. Each phase is
bounded in time; only 127.0.0.1 is ever contacted. Prints p50/p99 latency, the
ratio, and a markdown table row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"  # the only address this benchmark talks to
ROOT = Path(__file__).resolve().parent.parent
USER_AGENTS = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    b"Gecko) Chrome/131.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    b"(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    b"Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like "
    b"Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    b"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
]


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    ok: int = 0
    counted: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Return acknowledged requests per second."""
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Return the p-th latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=12.0, help="seconds per phase, all rounds"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternations of the two phases"
    )
    parser.add_argument("--concurrency", type=int, default=128, help="connections")
    parser.add_argument("--pages", type=int, default=500, help="generated pages")
    parser.add_argument("--port", type=int, default=0, help="server port (0: free one)")
    parser.add_argument(
        "--database-url",
        default="",
        help="COUNTER_DATABASE_URL (default: a fresh SQLite file in a temp folder)",
    )
    parser.add_argument(
        "--synchronous", default="FULL", help="COUNTER_SQLITE_SYNCHRONOUS (FULL)"
    )
    parser.add_argument("--max-batch", type=int, default=512, help="COUNTER_MAX_BATCH")
    parser.add_argument(
        "--keep-log", action="store_true", help="keep the temp folder and server.log"
    )
    parser.add_argument(
        "--limits",
        choices=("production", "off"),
        default="production",
        help="production: the deployed limits (rate limit per address, new-visitor "
        "cap, allowed origin, a 64-byte secret); off: no rate limit and no cap",
    )
    args = parser.parse_args(argv)
    if not 0 < args.duration <= 120 or not 1 <= args.concurrency <= 1024:
        parser.error("--duration must be in (0, 120] and --concurrency in [1, 1024]")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in [1, 20]")
    return args


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(
    args: argparse.Namespace, workdir: Path, port: int
) -> subprocess.Popen:
    """Start the counter with a generated page list and wait until it is healthy."""
    pages = [f"/tin-tuc/bai-{i}/" for i in range(args.pages)]
    (workdir / "pages.json").write_text(json.dumps({"pages": pages}))
    env = {
        **os.environ,
        "COUNTER_HOST": HOST,
        "COUNTER_PORT": str(port),
        "COUNTER_PAGES": str(workdir / "pages.json"),
        "COUNTER_DATABASE_URL": args.database_url or str(workdir / "bench.sqlite3"),
        "COUNTER_SQLITE_SYNCHRONOUS": args.synchronous,
        "COUNTER_MAX_BATCH": str(args.max_batch),
        "COUNTER_LOG_LEVEL": os.environ.get("COUNTER_LOG_LEVEL", "WARNING"),
        "COUNTER_TRUSTED_PROXIES": HOST,
        "COUNTER_MODE": "production",
        "COUNTER_SECRET": secrets.token_hex(32),
        "COUNTER_ALLOWED_ORIGINS": f"http://{HOST}:{port}",
        "PYTHONPATH": str(ROOT),
    }
    if args.limits == "off":
        env |= {"COUNTER_RATE_LIMIT": "off", "COUNTER_NEW_VISITORS_PER_ADDRESS": "0"}
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "counter"], env=env, cwd=workdir, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(workdir / 'server.log').read_text()}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not become healthy in 20 s")


class HitRequests:
    """Prebuilt parts of POST /api/hit, so the client spends little per request.

    Each request comes from its own documentation-range (3fff::/20) IPv6 /64 (only a
    header value: nothing is sent there), with one of a few browser UAs and the
    site's Origin, so the production limits apply but never refuse a visit.
    """

    def __init__(self, port: int, pages: int) -> None:
        """Build the request heads (one per UA) and tails (one per page)."""
        self.heads = [
            b"POST /api/hit HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: text/plain\r\n"
            b"Origin: http://%s:%d\r\nSec-Fetch-Site: same-origin\r\n"
            b"User-Agent: %s\r\n" % (HOST.encode(), port, HOST.encode(), port, ua)
            for ua in USER_AGENTS
        ]
        self.tails = []
        for i in range(pages):
            body = b'{"page":"/tin-tuc/bai-%d/"}' % i
            self.tails.append(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def build(self, worker: int, seq: int) -> bytes:
        """Return the request of visit seq on connection worker."""
        return b"".join(
            (
                self.heads[seq % len(self.heads)],
                b"X-Forwarded-For: 3fff:%x:%x:%x::1\r\n" % prefix64(worker, seq),
                self.tails[(worker * 7919 + seq) % len(self.tails)],
            )
        )


def prefix64(worker: int, seq: int) -> tuple[int, int, int]:
    """Return hextets that give visit seq of a worker its own /64 in 3fff::/20."""
    number = worker << 24 | seq & 0xFFFFFF  # 44 bits: 3fff:0xxx:xxxx:xxxx::/64
    return number >> 32 & 0xFFF, number >> 16 & 0xFFFF, number & 0xFFFF


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response with a Content-Length; return status and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    start = head.lower().index(b"\r\ncontent-length:") + 17
    length = int(head[start : head.index(b"\r\n", start)])
    return int(head[9:12]), await reader.readexactly(length)


async def client(
    phase: Phase, port: int, worker: int, deadline: float, hits: HitRequests | None
) -> None:
    """Send requests on one keep-alive connection until the deadline."""
    reader, writer = await asyncio.open_connection(HOST, port)
    health = b"GET /healthz HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (HOST.encode(), port)
    clock = time.perf_counter
    seq = 0
    try:
        while clock() < deadline:
            request = health if hits is None else hits.build(worker, seq)
            seq += 1
            start = clock()
            writer.write(request)
            status, body = await read_response(reader)
            phase.latencies.append(clock() - start)
            if status == 200:
                phase.ok += 1
                phase.counted += b'"counted":true' in body
            else:
                phase.failed += 1
    finally:
        writer.close()


async def run_phase(
    phase: Phase, args: argparse.Namespace, port: int, hits: bool, offset: int = 0
) -> None:
    """Add one round (duration / rounds seconds) of args.concurrency clients to phase."""
    requests = HitRequests(port, args.pages) if hits else None
    start = time.perf_counter()
    deadline = start + args.duration / args.rounds
    workers = range(offset, offset + args.concurrency)
    await asyncio.gather(*(client(phase, port, w, deadline, requests) for w in workers))
    phase.seconds += time.perf_counter() - start


def site_total(port: int) -> int:
    """Ask the server for the site total."""
    url = f"http://{HOST}:{port}/api/count?page=/tin-tuc/bai-0/"
    request = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 check"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["site"]


def report(hits: Phase, health: Phase, args: argparse.Namespace, total: int) -> None:
    """Print the results and a markdown table row."""
    ratio = hits.rate / health.rate if health.rate else 0.0
    for phase in (hits, health):
        print(
            f"{phase.name:>8}: {phase.ok} ok, {phase.failed} failed in "
            f"{phase.seconds:.1f} s = {phase.rate:,.0f}/s, "
            f"p50 {phase.percentile(50):.1f} ms, p99 {phase.percentile(99):.1f} ms"
        )
    print(
        f"counted hits acknowledged: {hits.counted}, stored site total grew by {total}"
    )
    print(f"ratio hits/healthz: {ratio:.2f}")
    print()
    print(
        "| concurrency | visits/s (counted) | p50 ms | p99 ms | healthz/s "
        "| p50 ms | p99 ms | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.concurrency} | {hits.rate:,.0f} | {hits.percentile(50):.1f} "
        f"| {hits.percentile(99):.1f} | {health.rate:,.0f} "
        f"| {health.percentile(50):.1f} | {health.percentile(99):.1f} | {ratio:.2f} |"
    )


async def bench(args: argparse.Namespace, port: int) -> tuple[Phase, Phase]:
    """Alternate rounds of hits and of /healthz, so both see the same machine."""
    hits, health = Phase("hits"), Phase("healthz")
    for round_number in range(args.rounds):
        await run_phase(hits, args, port, hits=True, offset=round_number * 1024)
        await run_phase(health, args, port, hits=False)
    return hits, health


def run_bench(args: argparse.Namespace, port: int) -> tuple[Phase, Phase, int]:
    """Run both phases; return them and the growth of the stored site total."""
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    before = site_total(port)
    hits, health = runner(bench(args, port))
    return hits, health, site_total(port) - before


def main(argv: list[str] | None = None) -> int:
    """Start a server, run both phases, stop the server, report."""
    args = parse_args(argv)
    port = args.port or free_port()
    with tempfile.TemporaryDirectory(prefix="counter-bench-") as tmp:
        if args.keep_log:
            tmp = tempfile.mkdtemp(prefix="counter-bench-")
        proc = start_server(args, Path(tmp), port)
        try:
            hits, health, total = run_bench(args, port)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report(hits, health, args, total)
    if args.keep_log:
        print(f"server log: {tmp}/server.log")
    if total != hits.counted:  # every acknowledged visit is stored, and no more
        print("ERROR: the stored site total differs from the acknowledged hits")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
