"""Dashboard and API speed: p50/p95/p99 and requests/s of a realistic mix at 20 clients.

Run: ``.venv/bin/python benchmarks/api.py --rows 20000000`` (``make bench`` runs a smaller
``--rows``). It generates the demo organisation with that many cost rows (or reuses
``--workspace DIR``, already allocated), starts ``costcouncil serve`` on loopback with an admin
user and token, and drives it from this process with ``--clients`` concurrent clients for
``--seconds``: overview, costs by team per day over a random month, costs by model per week over
a random quarter with a team filter, explorer drill levels, unit economics, GPU, allocation pages
and members' scoped overviews — dates and filters drawn at random so no two requests need be the
same. The same clients first hammer ``GET /health`` (the framework's floor per request), the
baseline each figure is printed against. Goal on 2 cores: p95 < 150 ms at 20 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from events import free_port

EXE = Path(sys.executable).parent / "costcouncil"


def prepare(args: argparse.Namespace) -> Path:
    if args.workspace:
        return Path(args.workspace)
    target = Path(tempfile.mkdtemp(prefix="cc-api-bench-")) / "demo"
    print(f"generating the demo organisation with {args.rows:,} cost rows in {target} ...")
    started = time.monotonic()
    subprocess.run(
        [str(EXE), "demo", str(target), "--rows", str(args.rows), "--no-serve"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"  generated, ingested, allocated and rolled up in {time.monotonic() - started:.0f} s")
    return target


def token_for(workspace: Path) -> tuple[str, str]:
    from costcouncil.workspace.access.accounts import Access
    from costcouncil.workspace.core import Workspace

    access = Access.open(Workspace.open(workspace))
    try:
        if "bench@example.com" not in {u["email"] for u in access.users()}:
            access.add_user("bench@example.com", "admin", [], None, actor="bench")
            access.add_user("bench-member@example.com", "member", ["vision"], None, actor="bench")
        return (
            access.create_token("bench@example.com", "bench"),
            access.create_token("bench-member@example.com", "bench"),
        )
    finally:
        access.close()


def plan(months: list[str], teams: list[str]) -> list[tuple[str, str, dict[str, str]]]:
    """The mix: (name, path, params) with random dates and filters, one per request."""
    rng = random.Random(7)
    out = []
    for _ in range(100_000):
        month = rng.choice(months)
        year, m = (int(x) for x in month.split("-"))
        nxt = f"{year + m // 12:04d}-{m % 12 + 1:02d}-01"
        span = {"from": f"{month}-01", "to": nxt}
        team = rng.choice(teams)
        pick = rng.random()
        if pick < 0.10:
            out.append(("overview", "/overview.json", {}))
        elif pick < 0.35:
            out.append(("costs by team/day", "/v1/costs", {**span, "by": "team", "grain": "day"}))
        elif pick < 0.50:
            first = min(rng.choice(months), month)
            q = {"from": f"{first}-01", "to": nxt}
            out.append(("costs by model/week", "/v1/costs",
                        {**q, "by": "model", "grain": "week", "team": team}))  # fmt: skip
        elif pick < 0.70:
            level = rng.choice([{}, {"team": team}, {"team": team, "project": "(none)"}])
            out.append(("explorer", "/explorer.json", {**span, **level}))
        elif pick < 0.80:
            out.append(("unit economics", "/v1/unit-economics", {**span, "by": "model"}))
        elif pick < 0.88:
            out.append(("gpu", "/v1/gpu", span))
        elif pick < 0.95:
            out.append(("allocations", "/v1/allocations", {**span, "team": team, "limit": "100"}))
        else:
            out.append(("member overview", "/overview.json", {"member": "1"}))
    return out


async def drive(
    url: str, tokens: tuple[str, str], requests: list[tuple[str, str, dict[str, str]]],
    clients: int, seconds: float,
) -> tuple[dict[str, list[float]], float, int]:  # fmt: skip
    latencies: dict[str, list[float]] = defaultdict(list)
    errors = 0
    cursor = iter(requests)
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < stop:
            name, path, params = next(cursor)
            token = tokens[1] if params.pop("member", None) else tokens[0]
            started = time.perf_counter()
            answer = await http.get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
            latencies[name].append(time.perf_counter() - started)
            errors += answer.status_code != 200

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return latencies, time.monotonic() - started, errors


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--workspace", help="an allocated workspace to reuse")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    workspace = prepare(args)
    tokens = token_for(workspace)
    port = free_port()
    proc = subprocess.Popen([str(EXE), "serve", str(workspace), "--port", str(port)],
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        months = sorted({r["period"][:7] for r in httpx.get(
            f"{url}/v1/costs", params={"from": "1970-01-01", "to": "2199-01-01", "grain": "month"},
            headers=auth, timeout=600).json()["rows"]})  # fmt: skip
        teams = [r["team"] for r in httpx.get(f"{url}/v1/costs", params={"by": "team"},
                                              headers=auth, timeout=600).json()["rows"]]  # fmt: skip
        floor = [("health", "/health", {}) for _ in range(100_000)]
        base, base_s, _ = asyncio.run(
            drive(url, tokens, floor, args.clients, min(10.0, args.seconds))
        )
        mix, mix_s, errors = asyncio.run(
            drive(url, tokens, plan(months, teams), args.clients, args.seconds)
        )
    finally:
        proc.terminate()
        proc.wait(30)
    every = [v for values in mix.values() for v in values]
    health = base["health"]
    print(
        f"\nworkspace {workspace}: {len(months)} months, {len(teams)} teams; {args.clients} clients"
    )
    print(f"{'':22} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, values in sorted(mix.items()):
        print(
            f"{name:22} {len(values):>9,} {pct(values, 50):>8.1f} {pct(values, 95):>8.1f} {pct(values, 99):>8.1f}"
        )
    print(
        f"{'ALL (mix)':22} {len(every):>9,} {pct(every, 50):>8.1f} {pct(every, 95):>8.1f} {pct(every, 99):>8.1f}"
    )
    print(
        f"{'floor: /health':22} {len(health):>9,} {pct(health, 50):>8.1f} {pct(health, 95):>8.1f} {pct(health, 99):>8.1f}"
    )
    rps, floor_rps = len(every) / mix_s, len(health) / base_s
    print(
        f"\nmix: {rps:,.0f} requests/s ({rps / floor_rps:.2f} x the /health floor of {floor_rps:,.0f}/s); "
        f"p95 {pct(every, 95):.0f} ms = {pct(every, 95) / pct(health, 95):.1f} x the floor's p95 (goal p95 < 150 ms); "
        f"mean {statistics.mean(every) * 1000:.0f} ms; non-200 answers: {errors}"
    )


if __name__ == "__main__":
    main()
