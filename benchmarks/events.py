"""Live ingest speed: events/s, POST-to-visible latency and memory of ``costcouncil serve``.

Run: ``.venv/bin/python benchmarks/events.py --seconds 30`` (``make bench``). It starts
``costcouncil serve`` on a fresh workspace on loopback, then runs a load generator in this process:
``--senders`` threads each post batches of ``--batch`` ``llm_call`` events (NDJSON, unique ids)
as fast as the server acknowledges them. Every ``--sample``-th batch carries its own ``customer``
and a watcher polls ``GET /v1/live/costs?customer=...`` until the batch's requests show, giving the
latency from the start of the POST to the events being visible in cost figures.

Printed: sustained events/s over the run, p50/p99 visibility latency, the server's peak memory
(VmHWM), how long compaction took to drain the log afterwards, and for scale the same senders
against the server's ``GET /health`` (the framework's floor per request) as requests/s. Goal on 2
cores: >= 50,000 events/s in batches of 1,000 and p99 visibility < 5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
]
TEAMS = ["search", "vision", "support", "ads", "platform"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "costcouncil"
    subprocess.run([str(exe), "init", str(workspace)], check=True, capture_output=True)
    proc = subprocess.Popen(
        [str(exe), "serve", str(workspace), "--port", str(port), "--compact-seconds", "2"],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).raise_for_status()
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def batch(prefix: str, size: int, customer: str) -> bytes:
    """``size`` llm_call events as the SDK sends them: unique id, UTC time, tokens, owner keys."""
    lines = []
    second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    for i in range(size):
        provider, model = MODELS[i % len(MODELS)]
        stamp = f"{second}.{i:06d}Z"
        lines.append(
            f'{{"type":"llm_call","id":"{prefix}-{i}","time":"{stamp}","provider":"{provider}","model":"{model}",'
            f'"input_tokens":{800 + i % 400},"output_tokens":{90 + i % 50},'
            f'"team":"{TEAMS[i % len(TEAMS)]}","feature":"answers","customer":"{customer}"}}'
        )
    return ("\n".join(lines) + "\n").encode()


class Load:
    """Senders and a visibility watcher sharing counters."""

    def __init__(self, url: str, size: int, sample: int) -> None:
        self.url, self.size, self.sample = url, size, sample
        self.sent = 0
        self.batches = 0
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def sender(self, worker: int) -> None:
        client = httpx.Client(timeout=30)
        n = 0
        headers = {"Content-Type": "application/x-ndjson"}
        while not self.stop.is_set():
            n += 1
            watched = n % self.sample == 0
            customer = f"w{worker}-b{n}" if watched else "bulk"
            body = batch(f"w{worker}-{n}", self.size, customer)
            started = time.perf_counter()
            answer = client.post(f"{self.url}/v1/events", content=body, headers=headers)
            answer.raise_for_status()
            with self.lock:
                self.sent += answer.json()["accepted"]
                self.batches += 1
            if watched:
                threading.Thread(target=self.watch, args=(customer, started), daemon=True).start()
        client.close()

    def watch(self, customer: str, started: float) -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                rows = client.get(f"{self.url}/v1/live/costs", params={"customer": customer}).json()
                if rows["totals"]["requests"] >= self.size:
                    with self.lock:
                        self.latencies.append(time.perf_counter() - started)
                    return
                time.sleep(0.05)


def floor(url: str, senders: int, seconds: float) -> float:
    """Requests/s of GET /health with the same number of senders: the framework's floor."""
    count = [0]
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def run() -> None:
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() < end:
                client.get(f"{url}/health").raise_for_status()
                with lock:
                    count[0] += 1

    threads = [threading.Thread(target=run) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / seconds


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--sample", type=int, default=10, help="watch every Nth batch of a sender")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cc-events-"))
    port = free_port()
    server = start_server(folder / "ws", port)
    url = f"http://127.0.0.1:{port}"
    try:
        health_rps = floor(url, args.senders, 3)
        load = Load(url, args.batch, args.sample)
        threads = [threading.Thread(target=load.sender, args=(w,)) for w in range(args.senders)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        load.stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        time.sleep(1)
        drain_started = time.perf_counter()
        while httpx.get(f"{url}/health").json()["pending"] > 0:
            time.sleep(0.2)
        drain = time.perf_counter() - drain_started
        rss = peak_rss_mb(server.pid)
        report(args, load, elapsed, drain, rss, health_rps)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def report(
    args: argparse.Namespace, load: Load, elapsed: float, drain: float, rss: float, health: float
) -> None:
    rate = load.sent / elapsed
    lat = sorted(load.latencies)
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
    print(f"cores: {os.cpu_count()}, senders: {args.senders}, batch: {args.batch}")
    print(f"events accepted: {load.sent:,} in {elapsed:.1f} s over {load.batches:,} batches")
    print(f"sustained: {rate:,.0f} events/s (goal 50,000: ratio {rate / 50_000:.2f})")
    print(
        f"visible in /v1/live/costs: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {len(lat)} batches (goal p99 < 5 s)"
    )
    print(
        f"server peak memory: {rss:,.0f} MB; log drained into the lake {drain:.1f} s after load stopped"
    )
    print(
        f"floor: GET /health {health:,.0f} requests/s; events used {load.batches / elapsed:,.0f} requests/s"
    )


if __name__ == "__main__":
    main()
