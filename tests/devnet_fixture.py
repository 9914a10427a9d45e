"""A real ``geoshard devnet`` for tests: separate processes on loopback, as a user runs it.

One devnet per xdist worker at most: tests that use it are grouped with
``@pytest.mark.xdist_group("devnet")`` so they share one network.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["Devnet", "SharedDevnet", "devnet", "free_port", "shared_devnet", "start_devnet", "stop_shared_devnet_after"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_range(count: int) -> int:
    """A base port with ``count`` free ports above it on every node's loopback address."""
    for _ in range(200):
        base = random.randint(20000, 50000)
        try:
            for i in range(count):
                with socket.socket() as s:
                    s.bind((f"127.0.{10 + i}.1", base + i))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


@dataclass
class Devnet:
    data: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    def client_env(self) -> dict[str, str]:
        """The environment a user gets from ``. devnet.env``, on top of this one.

        A CA bundle inherited from the machine is dropped on a plain-HTTP devnet, as a
        user's shell would not have one pointed at it: rclone refuses to start with a
        custom bundle on an HTTP endpoint.
        """
        env = dict(os.environ)
        env.pop("AWS_CA_BUNDLE", None)
        env.update(self.env)
        return env

    def boto3(self, **kwargs: object):  # type: ignore[no-untyped-def]
        import boto3

        kwargs.setdefault("endpoint_url", self.endpoint)
        return boto3.client(
            "s3",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
            **kwargs,
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            k, v = line[len("export ") :].split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    return env


def start_devnet(
    data: Path, *, nodes: int = 10, extra: tuple[str, ...] = (), timeout: float = 300, env: dict[str, str] | None = None
) -> Devnet:
    """Start ``geoshard devnet`` on ``data`` (``env`` is added to this process's environment).

    On a loaded machine (several engineers' suites on two cores) ten nodes can take minutes
    to check in. A devnet that is not up in time is stopped as a user stops it (SIGINT), so
    that it takes its satellite and nodes with it: a SIGKILL would leave them running."""
    data.mkdir(parents=True, exist_ok=True)
    env_file = data / "devnet.env"
    if env_file.exists():
        env_file.unlink()
    log = data / "devnet-stdout.log"
    argv = [
        sys.executable, "-m", "geoshard.cli", "devnet",
        "--data", str(data),
        "--nodes", str(nodes),
        "--port", str(free_port()),
        "--satellite-port", str(free_port()),
        "--admin-port", str(free_port()),
        "--node-port-base", str(_free_range(nodes)),
        "--dashboard-port-base", str(_free_range(nodes)),
        *extra,
    ]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + timeout
    while not env_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"devnet exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            Devnet(data, proc, {}, log).stop()  # SIGINT: devnet stops its children (SIGKILL would orphan them)
            raise RuntimeError(f"devnet not up after {timeout}s:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    return Devnet(data, proc, _read_env(env_file), log)


_HOLDERS: list[SharedDevnet] = []  # this worker's shared devnet (one session, one holder)


class SharedDevnet:
    """The worker's one shared devnet, started on first use and stopped as soon as the tests
    that share it are done (``pytest_runtest_teardown`` in tests/conftest.py), not at the end
    of the session: an idle devnet's satellite would take a share of a core from every test
    after it."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.net: Devnet | None = None

    def get(self) -> Devnet:
        if self.net is None:
            self.net = start_devnet(self.factory.mktemp("devnet"))
        return self.net

    def stop(self) -> None:
        net, self.net = self.net, None
        if net is not None:
            net.stop()


@pytest.fixture(scope="session")
def shared_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedDevnet]:
    holder = SharedDevnet(tmp_path_factory)
    _HOLDERS.append(holder)
    try:
        yield holder
    finally:
        holder.stop()


@pytest.fixture
def devnet(shared_devnet: SharedDevnet) -> Devnet:
    return shared_devnet.get()


def stop_shared_devnet_after(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the shared devnet once the next test on this worker does not use it (xdist sends
    the whole ``devnet`` group to one worker, so its tests run one after another)."""
    if "devnet" not in item.fixturenames or (nextitem is not None and "devnet" in nextitem.fixturenames):
        return
    for holder in _HOLDERS:
        holder.stop()
