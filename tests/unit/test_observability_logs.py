"""JSON logs: one object a line, with the request id of the task that logged."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from common.observability import configure_logging, set_request_id


@pytest.fixture
def restore_root_logging():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


async def test_json_lines_carry_the_request_id_of_the_task_that_logged(monkeypatch, restore_root_logging) -> None:
    monkeypatch.setenv("GEOSHARD_LOG_FORMAT", "json")
    configure_logging("INFO", process="satellite")
    out = io.StringIO()
    logging.getLogger().handlers[0].setStream(out)  # type: ignore[attr-defined]
    log = logging.getLogger("satellite.test")

    async def serve(rid: str | None) -> None:
        set_request_id(rid)
        await asyncio.sleep(0)
        log.info("handled %s", rid)

    await asyncio.gather(serve("AAAA1111"), serve("BBBB2222"), serve(None), serve("bad id; rm -rf"))
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    by_msg = {line["msg"]: line for line in lines}
    assert by_msg["handled AAAA1111"]["request_id"] == "AAAA1111"
    assert by_msg["handled BBBB2222"]["request_id"] == "BBBB2222"
    assert "request_id" not in by_msg["handled None"]
    assert "request_id" not in by_msg["handled bad id; rm -rf"]  # not a valid id: never echoed
    assert by_msg["failed"]["level"] == "ERROR" and "ValueError: boom" in by_msg["failed"]["exc"]
    assert all(line["process"] == "satellite" and line["ts"].endswith("+00:00") for line in lines)


def test_an_unknown_log_format_is_refused(monkeypatch, restore_root_logging) -> None:
    monkeypatch.setenv("GEOSHARD_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="plain or json"):
        configure_logging("INFO", process="gateway")
