"""``costcouncil agent``: watch this machine's NVIDIA GPUs and send per-job heartbeats.

Registered in :mod:`costcouncil.cli.main` as ``app.command(name="agent")(agent_cmd)``.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from costcouncil.agent import NvmlUnavailable, Resolver, open_nvml, run
from costcouncil.sdk import CostCouncil


def agent_cmd(
    server: Annotated[
        str, typer.Option("--server", help="The CostCouncil server, http(s)://host:port.")
    ],
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="COSTCOUNCIL_AGENT_TOKEN", help="API token for the server."),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between samples.")
    ] = 10.0,
    job_id: Annotated[
        str | None,
        typer.Option("--job-id", help="Report every GPU process as this one job."),
    ] = None,
    resource_id: Annotated[
        str | None,
        typer.Option("--resource-id", help="The billed resource (node/instance id) to report."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Sample once, send, and exit.")] = False,
) -> None:
    """Send per-job GPU utilisation and memory (NVML) to a CostCouncil server as heartbeats."""
    try:
        cc = CostCouncil(server, token=token, flush_interval=min(interval, 5.0))
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--server") from e
    try:
        sampler = open_nvml()
    except NvmlUnavailable as e:
        typer.echo(f"costcouncil agent: no GPU to watch: {e}; exiting.")
        cc.close()
        raise typer.Exit(0) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    host = socket.gethostname()
    resolver = Resolver(host, forced=job_id)
    with _stop_on_signals() as stop:
        try:
            sent = run(
                sampler,
                cc,
                resolver,
                host=host,
                interval=interval,
                stop=stop,
                once=once,
                resource_id=resource_id,
            )
        finally:
            sampler.close()
    delivered = cc.flush(timeout=max(10.0, interval))
    cc.close(timeout=0)
    if once:
        _report(sent, delivered, cc.base_url)


def _report(sent: int, delivered: bool, server: str) -> None:
    if not delivered:
        typer.echo(f"costcouncil agent: {sent} heartbeats not delivered to {server}", err=True)
        raise typer.Exit(1)
    typer.echo(f"costcouncil agent: sent {sent} heartbeats")


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event SIGTERM and SIGINT set (so the loop ends cleanly); handlers restored after."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
