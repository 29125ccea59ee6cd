"""Budget enforcement under load: a race against one hard budget, and the speed of ``check``.

Run: ``.venv/bin/python benchmarks/budgets.py`` (about two minutes with the defaults). It makes a
fresh workspace with a finance user, its API token and a few budgets, and starts
``costcouncil serve`` on loopback (compaction every 2 s, so the enforcer also re-reads spend
while the race runs). Then:

**Race** — ``--clients`` SDK clients (threads over ``--procs`` processes, one keep-alive
connection each) for ``--seconds``: each reserves 0.17–0.39 against the hard budget ``race``,
then settles 50–100 % of the estimate (seven in nine; three of those seven with the call's usage
event posted with the settle), releases (one in nine) or lets a 1 s hold lapse (one in nine). A watcher reads the
budget every 0.2 s. Printed: overspend (spent + held past the amount, at any reading and at the
end — must be 0), reservations lost (holds the server recorded that no client got, holds a
client got that the server has not, or whose end differs: settled / released / expired, or
still open — must be 0), and the final spent figure beside the sum of the settled costs (equal
to the cent).

**Speed** — 50 clients, each one keep-alive HTTP/1.1 connection driven by raw asyncio streams
(``--gen-procs`` processes, so the generator is not the bottleneck), hit ``POST
/v1/budgets/check`` for ``--speed-seconds``, then ``GET /health`` the same way: first paced at
``--rate`` requests/s in all (latency from each request's scheduled time, so a stall is not
hidden), then as fast as they can. Printed per run: requests, p50 and p99, throughput, the
generator's and the server's CPU use, and the ratios to the ``/health`` floor. Goal on 2 cores:
p99 <= 10 ms at >= 1,000 checks/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from costcouncil.sdk import BudgetDenied, CostCouncil

EXE = Path(sys.executable).parent / "costcouncil"
CENT = Decimal("0.01")
RACE_KEYS = {"team": "bench", "feature": "race"}
CHECK_KEYS = {"team": "bench", "feature": "speed", "model": "gpt-4o"}
FATES = ("settle", "settle+event", "release", "lapse")
WEIGHTS = (4, 3, 1, 1)
EVENT = {"provider": "openai", "input_tokens": 900, "output_tokens": 120}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the workspace and the server ------------------------------------------------------------


def make_workspace(root: Path, amount: Decimal) -> str:
    """A fresh workspace with a finance user and budgets; the user's API token."""
    from costcouncil.budgets import Amount, Budget
    from costcouncil.workspace.access.accounts import Access
    from costcouncil.workspace.budgets.store import BudgetStore
    from costcouncil.workspace.core import Workspace

    subprocess.run([str(EXE), "init", str(root)], check=True, capture_output=True)
    ws = Workspace.open(root)
    access = Access.open(ws)
    access.add_user("gateway@example.com", "finance", [], "benchmark password 1")
    token = access.create_token("gateway@example.com", "gateway")
    access.close()
    store = BudgetStore.open(ws)
    hard = Budget("race", "team=bench,feature=race", Amount("fixed", amount), hard=True)
    store.save(ws, hard, actor="bench")
    store.save(ws, Budget("org", "org", Amount("fixed", Decimal("1000000"))), actor="bench")
    for team in ("bench", "search", "vision", "ads"):
        budget = Budget(f"{team}-llm", f"team={team},model=gpt-4o",
                        Amount("fixed", Decimal("50000")), hard=team == "bench")  # fmt: skip
        store.save(ws, budget, actor="bench")
    store.close()
    return token


def start_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [str(EXE), "serve", str(root), "--port", str(port), "--compact-seconds", "2"]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the race --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RacePlan:
    url: str
    token: str
    clients: int
    seconds: float
    seed: int


def race_client(
    plan: RacePlan, index: int, until: float, out: list[tuple[str, str, str]], tally: dict[str, int]
) -> None:
    """Reserve, then settle / release / let lapse, until ``until``; records
    ``(hold, fate, actual)`` of every reservation granted."""
    rng = random.Random(plan.seed * 1000 + index)
    cc = CostCouncil(plan.url, plan.token, budget_timeout=30)
    while time.time() < until:
        estimate = Decimal(rng.randint(17, 39)) / 100
        fate = rng.choices(FATES, WEIGHTS)[0]
        try:
            r = cc.reserve(estimate, ttl=1.0 if fate == "lapse" else None, **RACE_KEYS).start()
        except BudgetDenied as e:
            tally["unreachable" if not e.decision.reachable else "denied"] += 1
            continue
        assert r.id is not None
        actual = (estimate * rng.randint(50, 100) / 100).quantize(CENT)
        if fate == "settle":
            r.settle(actual)
        elif fate == "settle+event":
            r.settle(actual, event={**EVENT, "model": "gpt-4o"})
        elif fate == "release":
            r.release()
        out.append((r.id, fate, str(actual) if fate.startswith("settle") else ""))
    cc.close()


def race_process(plan: RacePlan, first: int, count: int, go: Any, results: Any) -> None:
    """``count`` race clients as threads in this process, from when every process is ready
    (``go``, a barrier); puts their records on ``results``."""
    records: list[tuple[str, str, str]] = []  # list.append is atomic
    tallies = [{"denied": 0, "unreachable": 0} for _ in range(count)]
    go.wait()
    until = time.time() + plan.seconds
    threads = [threading.Thread(target=race_client,
                                args=(plan, first + i, until, records, tallies[i]))
               for i in range(count)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = {k: sum(t[k] for t in tallies) for k in ("denied", "unreachable")}
    results.put({"records": records, **totals})


@dataclass
class Watch:
    """The highest spent + held the budget showed while the race ran."""

    url: str
    token: str
    highest: Decimal = Decimal(0)
    readings: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            while not self.stop.wait(0.2):
                spent, held, _ = figures(client)
                self.highest = max(self.highest, spent + held)
                self.readings += 1


def figures(client: httpx.Client) -> tuple[Decimal, Decimal, Decimal]:
    """The race budget's spent, held and amount as the server shows them."""
    current = client.get("/v1/budgets/race").json()["current"]
    return Decimal(current["spent"]), Decimal(current["held"]), Decimal(current["amount"])


def race(args: argparse.Namespace, url: str, token: str, root: Path) -> None:
    plan = RacePlan(url, token, args.clients, args.seconds, args.seed)
    watch = Watch(url, token)
    watcher = threading.Thread(target=watch.run)
    ctx = mp.get_context("spawn")
    results: Any = ctx.Queue()
    shares = [s for s in np.array_split(np.arange(args.clients), args.procs) if len(s)]
    go = ctx.Barrier(len(shares) + 1)
    procs = [ctx.Process(target=race_process, args=(plan, int(s[0]), len(s), go, results))
             for s in shares]  # fmt: skip
    for p in procs:
        p.start()
    go.wait()
    watcher.start()
    parts = [results.get() for _ in procs]
    for p in procs:
        p.join()
    watch.stop.set()
    watcher.join()
    time.sleep(7)  # the last 1 s holds lapse and the budget thread (every 5 s) records them
    report_race(args, url, token, root, parts, watch)


def report_race(
    args: argparse.Namespace, url: str, token: str, root: Path, parts: list[dict[str, Any]],
    watch: Watch,
) -> None:  # fmt: skip
    records = {hold: (fate, actual) for p in parts for hold, fate, actual in p["records"]}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        spent, held, amount = figures(client)
    stored = stored_holds(root)
    lost = sorted(set(records) ^ set(stored))
    ends = {"settle": "settled", "settle+event": "settled", "release": "released",
            "lapse": "expired"}  # fmt: skip
    wrong = [h for h in set(records) & set(stored) if stored[h][0] != ends[records[h][0]]]
    wrong += [h for h, (fate, actual) in records.items() if actual and h in stored
              and Decimal(stored[h][1] or "nan") != Decimal(actual)]  # fmt: skip
    settled = sum((Decimal(a) for f, a in records.values() if a), Decimal(0))
    counts = {f: sum(1 for g, _ in records.values() if g == f) for f in FATES}
    denied = sum(p["denied"] for p in parts)
    unreachable = sum(p["unreachable"] for p in parts)
    over = max(Decimal(0), watch.highest - amount, spent + held - amount)
    print(f"race: {args.clients} clients over {args.procs} processes for {args.seconds:g} s "
          f"against a hard budget of {amount}")  # fmt: skip
    print(f"  reservations granted {len(records):,} ({', '.join(f'{f} {n:,}' for f, n in counts.items())}), "
          f"denied {denied:,}, unreachable {unreachable}; {len(records) / args.seconds:,.0f} granted/s")  # fmt: skip
    print(f"  overspend: {over} (highest spent + held seen {watch.highest} over {watch.readings} "
          f"readings; at the end spent {spent} + held {held})")  # fmt: skip
    print(f"  reservations lost: {len(lost) + len(wrong)} ({len(lost)} known to one side only, "
          f"{len(wrong)} ended otherwise than the client ended them)")  # fmt: skip
    for hold in (lost + wrong)[:5]:
        print(f"    {hold}: client {records.get(hold)}, server {stored.get(hold)}")
    print(f"  final spent {spent} vs sum of settled costs {settled}: "
          f"{'equal' if spent == settled else 'DIFFERENT'}")  # fmt: skip


def stored_holds(root: Path) -> dict[str, tuple[str, str | None]]:
    """The race budget's holds in the app database: id -> (state, actual)."""
    from costcouncil.appdb.budgets import BudgetHold, BudgetRow
    from costcouncil.workspace.budgets.store import BudgetStore
    from costcouncil.workspace.core import Workspace

    store = BudgetStore.open(Workspace.open(root))
    with store.session() as s:
        rows = (
            s.query(BudgetHold.id, BudgetHold.state, BudgetHold.actual)
            .join(BudgetRow, BudgetRow.id == BudgetHold.budget_id)
            .filter(BudgetRow.name == "race")
            .all()
        )
    store.close()
    return {h: (state, actual) for h, state, actual in rows}


# -- speed: a raw keep-alive HTTP/1.1 load generator -------------------------------------------


@dataclass(frozen=True)
class SpeedPlan:
    port: int
    request: bytes
    connections: int
    rate: float  # requests/s of this process in all; 0: as fast as answered
    seconds: float


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length framed); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            await reader.readexactly(int(line[15:]))
            break
    return status


async def connection(
    plan: SpeedPlan, k: int, start: float, out: list[float], bad: list[int]
) -> None:
    """One keep-alive connection: a request at a time (paced at its share of ``plan.rate``),
    each latency from the request's scheduled time."""
    reader, writer = await asyncio.open_connection("127.0.0.1", plan.port)
    end = start + plan.seconds
    gap = plan.connections / plan.rate if plan.rate else 0.0
    due = start + (k * gap / plan.connections if gap else 0.0)
    await asyncio.sleep(max(0.0, start - time.time()))
    while (now := time.time()) < end:
        if gap and due > now:
            await asyncio.sleep(due - now)
        sent = due if gap else time.time()
        writer.write(plan.request)
        if await read_answer(reader) != 200:
            bad.append(1)
        out.append(time.time() - sent)
        due += gap
    writer.close()


def speed_process(plan: SpeedPlan, go: Any, results: Any) -> None:
    """``plan.connections`` connections in this process, from when every process is ready."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    latencies: list[float] = []
    bad: list[int] = []

    async def run() -> None:
        go.wait()  # the other processes are up; a second for everyone's connections
        start = time.time() + 1.0
        await asyncio.gather(
            *(connection(plan, k, start, latencies, bad) for k in range(plan.connections))
        )

    cpu = time.process_time()
    asyncio.run(run())
    results.put({"latencies": latencies, "bad": len(bad), "cpu": time.process_time() - cpu})


@dataclass(frozen=True)
class Run:
    name: str
    count: int
    p50: float
    p99: float
    rate: float
    bad: int
    gen_cpu: float
    server_cpu: float


def load(args: argparse.Namespace, name: str, request: bytes, rate: float, server: int) -> Run:
    ctx = mp.get_context("spawn")
    results: Any = ctx.Queue()
    shares = [len(s) for s in np.array_split(np.arange(args.speed_clients), args.gen_procs)]
    go = ctx.Barrier(len(shares) + 1)
    procs = [ctx.Process(target=speed_process, args=(SpeedPlan(args.port, request, n,
             rate * n / args.speed_clients, args.speed_seconds), go, results))
             for n in shares]  # fmt: skip
    for p in procs:
        p.start()
    go.wait()
    time.sleep(1.0)
    before = cpu_seconds(server)
    parts = [results.get() for _ in procs]
    server_cpu = cpu_seconds(server) - before
    for p in procs:
        p.join()
    lat = np.array([x for p in parts for x in p["latencies"]]) * 1000
    seconds = args.speed_seconds
    return Run(name, len(lat), float(np.percentile(lat, 50)), float(np.percentile(lat, 99)),
               len(lat) / seconds, sum(p["bad"] for p in parts),
               sum(p["cpu"] for p in parts) / seconds, server_cpu / seconds)  # fmt: skip


def requests(token: str) -> tuple[bytes, bytes]:
    body = httpx.Request("POST", "/", json={"keys": CHECK_KEYS, "cost": "0.25"}).read()
    check = (b"POST /v1/budgets/check HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: application/json\r\nAuthorization: Bearer " + token.encode() +
             b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
    health = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    return check, health


def speed(args: argparse.Namespace, token: str, server: int) -> None:
    check, health = requests(token)
    runs = []
    for rate, how in ((args.rate, f"paced at {args.rate:.0f}/s"), (0.0, "as fast as answered")):
        runs.append(load(args, f"check, {how}", check, rate, server))
        runs.append(load(args, f"floor /health, {how}", health, rate, server))
    print(f"speed: {args.speed_clients} clients (keep-alive, {args.gen_procs} generator processes), "
          f"{args.speed_seconds:g} s a run, {os.cpu_count()} cores")  # fmt: skip
    print(f"  {'run':<36} {'requests':>9} {'p50 ms':>7} {'p99 ms':>7} {'req/s':>7} "
          f"{'non-200':>7} {'gen CPU':>7} {'srv CPU':>7}")  # fmt: skip
    for r in runs:
        print(f"  {r.name:<36} {r.count:>9,} {r.p50:>7.2f} {r.p99:>7.2f} {r.rate:>7,.0f} "
              f"{r.bad:>7} {r.gen_cpu:>7.0%} {r.server_cpu:>7.0%}")  # fmt: skip
    for paced, fast in ((runs[0], runs[1]), (runs[2], runs[3])):
        print(f"  {paced.name.split(',')[1].strip()}: check / floor p50 {paced.p50 / fast.p50:.2f}x, "
              f"p99 {paced.p99 / fast.p99:.2f}x, throughput {paced.rate / fast.rate:.2f}x")  # fmt: skip
    met = runs[0].p99 <= 10 and runs[0].rate >= 1000
    print(f"  goal p99 <= 10 ms at >= 1,000 checks/s: {'met' if met else 'NOT met'} "
          f"(p99 {runs[0].p99:.2f} ms at {runs[0].rate:,.0f} checks/s; saturated: "
          f"{runs[2].rate:,.0f} checks/s, p99 {runs[2].p99:.2f} ms)")  # fmt: skip


# -- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="length of the race")
    parser.add_argument("--clients", type=int, default=50, help="racing clients")
    parser.add_argument("--procs", type=int, default=2, help="processes the racers run in")
    parser.add_argument("--amount", type=Decimal, default=Decimal("150.00"),
                        help="the hard budget the race runs against")  # fmt: skip
    parser.add_argument("--speed-seconds", type=float, default=10, help="length of a speed run")
    parser.add_argument("--speed-clients", type=int, default=50)
    parser.add_argument("--gen-procs", type=int, default=2, help="generator processes")
    parser.add_argument("--rate", type=float, default=1000, help="paced requests/s in all")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-race", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cc-budgets-"))
    token = make_workspace(folder / "ws", args.amount)
    args.port = free_port()
    server = start_server(folder / "ws", args.port)
    url = f"http://127.0.0.1:{args.port}"
    try:
        if not args.skip_race:
            race(args, url, token, folder / "ws")
        if not args.skip_speed:
            speed(args, token, server.pid)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
