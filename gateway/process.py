"""The gateway's process model: one process, or a parent supervising worker processes on one port.

``geoshard gateway run --workers N`` (config ``workers``; 0, the default, is one per CPU)
with N ≥ 2 makes the CLI process ``exec`` a lean parent (same pid; :func:`exec_parent`) that
serves no S3 itself: it reserves the port and keeps N ``python -m gateway.process`` workers
running through a :class:`common.workers.WorkerPool`
(``SO_REUSEPORT``, restarts, the configuration on stdin; see ``common/workers.py``), as the
satellite's ``--api-workers`` does. Each worker is a whole :class:`~gateway.peer.GatewayPeer`
on its own event loop, so a machine's cores all decrypt, hash and code.

A client must see one gateway, however many processes answer it. What a worker keeps in
memory is either a pure function of the configuration (bucket keys, signing-key HMACs),
a hint whose staleness costs only time (learned redundancy schemes: a stale one costs a
re-placement), memory of its own (the buffer pool), or a cache that must follow changes:

- **bucket settings** (CORS rules, lifecycle rules): a change made through any worker bumps
  the bucket's generation in a table the parent shares with every worker (a memfd,
  ``gateway.settings_cache``) before it is answered, and every worker's cached copy stops
  counting at once;
- **access keys**: each worker polls the satellite's revocation feed, so a revocation
  reaches every worker within the same bound as every gateway (``gateway.access_keys``);
- **metrics**: the workers write their counters and histograms to files in a directory the
  parent made (prometheus_client's multiprocess mode), and the parent's ``/metrics`` sums
  them, a dead worker's counts included, so no total goes backwards on a restart.

``/health`` on the S3 port is answered by whichever worker takes the connection; on the
metrics port, by the parent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from common.workers import WorkerPool, announce_ready, read_spec, watch_stdin
from gateway.config import GatewayConfig
from gateway.settings_cache import SettingGenerations

if TYPE_CHECKING:
    from gateway.peer import GatewayPeer

__all__ = ["announce", "exec_parent", "main", "serve_one", "serve_workers"]

_GENERATIONS_FD = "generations_fd"  # spec keys beside the configuration's
_ROWS = "workers_total"
_LOG_LEVEL = "log_level"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported


def announce(url: str, metrics_url: str) -> None:
    """The lines ``geoshard gateway run`` prints once it serves (scripts and devnet read them)."""
    print(f"geoshard gateway serving S3 at {url}", flush=True)
    if metrics_url:
        print(f"geoshard gateway metrics at {metrics_url}/metrics", flush=True)


async def serve_one(
    peer: GatewayPeer, announce: Callable[[GatewayPeer], None], stop: asyncio.Event | None = None
) -> None:
    """Run ``peer`` until SIGINT, SIGTERM or ``stop``; ``announce`` once it listens."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main.cancel)
    stopper = asyncio.create_task((stop or asyncio.Event()).wait())
    stopper.add_done_callback(lambda t: t.cancelled() or main.cancel())
    runner = asyncio.create_task(peer.run())
    started = asyncio.create_task(peer.started.wait())
    try:
        await asyncio.wait({runner, started}, return_when=asyncio.FIRST_COMPLETED)
        if started.done():
            from common.collector import settle

            settle()  # what start-up made stays: no collection need walk it again
            announce(peer)
        else:
            started.cancel()
        await runner
    except asyncio.CancelledError:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner  # GatewayPeer.run closes its services in reverse order
        raise
    finally:
        stopper.cancel()


async def serve_workers(
    config: GatewayConfig, count: int, announce: Callable[[str, str], None], *, log_level: str = "INFO"
) -> None:
    """The parent of ``count`` workers: serve until SIGINT or SIGTERM, then stop them all.

    ``announce(s3_url, metrics_url)`` is called once every worker listens."""
    table = SettingGenerations.create_shared(count)
    metrics_dir = tempfile.mkdtemp(prefix="geoshard-gateway-metrics-")
    spec: dict[str, Any] = dataclasses.asdict(config)
    # The token travels resolved, on the pipe; the parent alone serves the metrics port.
    spec.update(satellite_token_file="", metrics_port=-1, workers=1)
    spec.update({_GENERATIONS_FD: table, _ROWS: count, _LOG_LEVEL: log_level})
    pool = WorkerPool(module="gateway.process", spec=spec, host=config.host, port=config.port, count=count,
                      label="gateway worker", env={MULTIPROC_ENV: metrics_dir}, pass_fds=(table,))  # fmt: skip
    metrics: Any = None  # the metrics port's aiohttp runner, when there is one
    supervise: asyncio.Task[None] | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await pool.start()
        metrics_url = ""
        if config.metrics_port >= 0:
            from aiohttp import web

            from gateway.metrics import aggregate_app

            metrics = web.AppRunner(aggregate_app(metrics_dir), access_log=None)
            await metrics.setup()
            site = web.TCPSite(metrics, config.metrics_host, config.metrics_port)
            await site.start()
            mport = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            metrics_url = f"http://{config.metrics_host}:{mport}"
        announce(config.endpoint(pool.port), metrics_url)
        supervise = asyncio.create_task(pool.run())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({supervise, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await pool.close()
        if supervise is not None:
            supervise.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervise
        if metrics is not None:
            await metrics.cleanup()
        os.close(table)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def exec_parent(config: GatewayConfig, count: int, *, log_level: str = "INFO") -> NoReturn:
    """Become the parent of ``count`` workers: ``exec`` (same pid, so supervisors and pid files
    stay right) a lean ``python -m gateway.process --parent FD`` that imports only what
    supervising needs (the CLI that called this has loaded every subcommand's modules, ≈ 70 MB
    that would sit idle), handing it the effective configuration on an inherited pipe."""
    spec = {"config": {**dataclasses.asdict(config), "satellite_token_file": ""}, "workers": count,
            _LOG_LEVEL: log_level}  # fmt: skip
    data = json.dumps(spec).encode()
    r, w = os.pipe()
    if len(data) > 60_000:  # a pipe holds 64 KiB: the write below must not wait for a reader
        raise ValueError("gateway configuration too large to hand over")
    os.write(w, data)
    os.close(w)
    os.set_inheritable(r, True)
    sys.stdout.flush()
    sys.stderr.flush()
    # The command that started it stays on the command line, after "--", for ps and operators.
    try:
        started_as = [a.decode() for a in Path("/proc/self/cmdline").read_bytes().split(b"\0")[:-1]]
    except OSError:
        started_as = []
    os.execv(sys.executable, [sys.executable, "-m", "gateway.process", "--parent", str(r), "--", *started_as])


def _parent(fd: int) -> int:
    with os.fdopen(fd, "rb") as f:
        spec = json.loads(f.read())
    from common.observability import configure_logging

    configure_logging(spec[_LOG_LEVEL], process="gateway")
    config = GatewayConfig(**spec["config"])
    with asyncio.Runner() as runner:
        runner.run(serve_workers(config, spec["workers"], announce, log_level=spec[_LOG_LEVEL]))
    return 0


async def _worker(config: GatewayConfig, generations: SettingGenerations) -> None:
    from gateway.peer import GatewayPeer

    peer = GatewayPeer(config, generations=generations, reuse_port=True)
    stop = asyncio.Event()
    watch_stdin(asyncio.get_running_loop(), stop)
    with contextlib.suppress(asyncio.CancelledError):
        await serve_one(peer, lambda _: announce_ready(), stop)


def main(argv: list[str] | None = None) -> int:
    """One gateway worker: ``python -m gateway.process --index I`` with its spec on stdin."""
    ap = argparse.ArgumentParser(prog="python -m gateway.process", description=main.__doc__)
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--parent", type=int, metavar="FD", help="supervise the workers (see exec_parent)")
    ap.add_argument("started_as", nargs="*", help="after --: the command that started the parent (shown by ps)")
    args = ap.parse_args(argv)
    if args.parent is not None:
        return _parent(args.parent)
    spec = read_spec()
    table, rows, level = spec.pop(_GENERATIONS_FD), spec.pop(_ROWS), spec.pop(_LOG_LEVEL)
    from common.observability import configure_logging
    from gateway.pipeline.heap import keep_freed_buffers

    configure_logging(level, process=f"gateway-{args.index}")
    config = GatewayConfig(**spec)
    generations = SettingGenerations.attach(table, rows, args.index)
    keep_freed_buffers()  # a PUT's windows reuse freed heap instead of faulting in fresh pages
    from common.eventloop import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_worker(config, generations))
    return 0


if __name__ == "__main__":
    sys.exit(main())
