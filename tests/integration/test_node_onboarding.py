"""A new operator following the README: ``node init``, ``run``, ``status`` and ``exit``
against a real satellite on loopback.

Each defect found trying the README as a new operator would has its test here: a 1 kB
capacity, a satellite id that is not the satellite's, a port already taken, a node that
checks in less often than the satellite expects, a status that says online while the
satellite says offline and hides a failed exit, and prompts in a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.identity import Identity
from geoshard.cli import main
from storage_node.config import NodeConfig
from storage_node.peer import Peer
from tests.ops_fixtures import running_satellite

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _init_argv(data: Path, satellite: str, *extra: str, capacity: str = "100MB") -> list[str]:
    return [
        "node", "init", "--data", str(data), "--capacity", capacity, "--country", "DE", "--region", "eu",
        "--wallet", WALLET, "--satellite", satellite, *extra,
    ]


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_refuses_a_1kb_capacity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sat = Identity.generate().id
    assert main(_init_argv(tmp_path / "n", f"{sat}@http://127.0.0.1:9", "--offline", capacity="1KB")) == 2
    err = capsys.readouterr().err
    assert "too small" in err and "at least 50.00 MB" in err
    assert not (tmp_path / "n" / "config.toml").exists()


async def test_init_refuses_a_satellite_id_that_is_not_the_satellites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_satellite(tmp_path) as sat:
        wrong = Identity.generate().id
        code, _, err = await _cli(capsys, *_init_argv(tmp_path / "n", f"{wrong}@{sat.api_url}", "--port", "0"))
        assert code == 2
        assert f"has id {sat.identity.id}, not the {wrong}" in err
        assert not (tmp_path / "n" / "config.toml").exists()


async def test_init_checks_a_given_id_at_the_satellite_and_prints_the_exact_next_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_satellite(tmp_path) as sat:
        code, out, err = await _cli(capsys, *_init_argv(tmp_path / "n", f"{sat.identity.id}@{sat.api_url}",
                                                        "--port", "0"))
    assert code == 0, err
    assert f"checked at {sat.api_url}/api/v1/identity" in out
    assert f"geoshard node run --config {tmp_path / 'n' / 'config.toml'}" in out


def test_init_refuses_a_port_already_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sat = Identity.generate().id
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        argv = _init_argv(tmp_path / "n", f"{sat}@http://127.0.0.1:9", "--offline", "--port", str(port),
                          "--listen-host", "127.0.0.1")
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is already in use" in err and "--port" in err
    assert not (tmp_path / "n" / "config.toml").exists()


def test_init_without_a_terminal_names_the_missing_flags(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "geoshard.cli", "node", "init", "--data", str(tmp_path / "n")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert res.returncode == 2
    assert "missing --capacity, --country, --region, --wallet, --satellite" in res.stderr


def _converse(argv: list[str], answers: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal, answering each prompt that contains a key."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen, pending = "", dict(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
                seen += chunk
                for key in list(pending):
                    if key in seen.rsplit("\n", 1)[-1]:
                        os.write(master, (pending.pop(key) + "\n").encode())
            elif proc.poll() is not None:
                break
        return proc.wait(10), seen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


async def test_init_in_a_terminal_asks_for_what_the_flags_leave_out_and_suggests_a_capacity(tmp_path: Path) -> None:
    async with running_satellite(tmp_path) as sat:
        argv = [sys.executable, "-m", "geoshard.cli", "node", "init", "--data", str(tmp_path / "n"), "--port", "0"]
        answers = {"capacity": "", "country": "fr", "region": "", "wallet": WALLET, "satellite": sat.api_url}
        code, transcript = await asyncio.to_thread(_converse, argv, answers)
    assert code == 0, transcript
    suggested = re.search(r"capacity to offer \(e\.g\. 500GB, 2TB\) \[(\d+[KMGT]?B)\]", transcript)
    assert suggested, transcript
    assert "region for placement policies [eu]" in transcript
    cfg = NodeConfig.load(tmp_path / "n" / "config.toml")
    assert cfg.country == "FR" and cfg.region == "eu" and cfg.satellite_id == sat.identity.id
    assert cfg.capacity > 0 and "geoshard node run --config" in transcript


@contextlib.asynccontextmanager
async def _node(tmp_path: Path, sat_id: str, sat_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    """A node peer configured as ``node init`` leaves it (README defaults) on loopback."""
    cfg = NodeConfig(
        data_dir=tmp_path / "node", satellite_id=sat_id, satellite_url=sat_url, capacity=100 * 10**6,
        country="DE", region="eu", wallet=WALLET, listen_host="127.0.0.1", port=0, **overrides,  # type: ignore[arg-type]
    )
    peer = Peer(cfg, Identity.load_or_create(cfg.data_dir / "identity.pem"))
    task = asyncio.create_task(peer.run())
    try:
        yield peer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_node_with_the_readme_interval_follows_the_satellites_check_in_interval(tmp_path: Path) -> None:
    # The node's configured 300 s would leave it offline on a satellite that expects 1 s.
    async with running_satellite(tmp_path, checkin_interval=1) as sat, _node(
        tmp_path, sat.identity.id, sat.api_url
    ) as peer:
        assert peer.config.checkin_interval == 300.0
        async with asyncio.timeout(15):
            while peer.contact.state.successes < 3:
                await asyncio.sleep(0.05)
        assert peer.contact.state.satellite_interval == 1.0
        assert peer.contact.state.next_delay == 1.0


async def test_status_says_offline_when_the_satellite_does_and_shows_a_failed_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_satellite(tmp_path, online_window=2) as sat:
        async with _node(tmp_path, sat.identity.id, sat.api_url) as peer:
            async with asyncio.timeout(15):
                while peer.contact.state.successes < 1:
                    await asyncio.sleep(0.05)
            config = str(tmp_path / "node" / "config.toml")
            peer.config.save(config)
            code, out, err = await _cli(capsys, "node", "status", "--config", config)
            assert code == 0, err
            assert "sees this node ONLINE" in out
            code, out, err = await _cli(capsys, "node", "exit", "--config", config, "--yes")
            assert code == 0 and "exiting" in out, err
        # The node is stopped: within the satellite's 2 s window it counts as offline.
        async with asyncio.timeout(15):
            while True:
                code, out, _ = await _cli(capsys, "node", "status", "--config", config)
                if "OFFLINE" in out:
                    break
                await asyncio.sleep(0.2)
        assert "offline after 2s" in out and "ONLINE" not in out
        # The exit chore fails an exit whose node stays away longer than exit_max_offline.
        await sat.exit_chore.run_once(now=time.time() + sat.config.exit_max_offline + 10)
        code, out, _ = await _cli(capsys, "node", "status", "--config", config)
        assert "exit         failed" in out and "FAILED" in out and "offline for" in out
        code, out, _ = await _cli(capsys, "node", "status", "--config", config, "--json")
        st = json.loads(out)
        assert st["graceful_exit"]["status"] == "failed" and st["reputation"]["online"] is False


async def test_node_run_prints_the_address_it_listens_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with running_satellite(tmp_path) as sat:
        data = tmp_path / "n"
        code, _, err = await _cli(capsys, *_init_argv(data, f"{sat.identity.id}@{sat.api_url}", "--port", "0",
                                                      "--listen-host", "127.0.33.1"))
        assert code == 0, err
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "geoshard.cli", "node", "run", "--config", str(data / "config.toml"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            m = re.search(r"serving at (http://\S+) \(listening on (\S+),", line)
            assert m, line
            assert m.group(1).startswith("http://127.0.33.1:") and m.group(2).startswith("127.0.33.1:")
            host, port = m.group(2).rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5):
                pass
        finally:
            proc.terminate()
            await proc.wait()
