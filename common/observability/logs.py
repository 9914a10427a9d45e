"""Process logging: plain lines for people, or one JSON object a line for log shippers.

``GEOSHARD_LOG_FORMAT=json`` (or ``log_format="json"``) makes every record one JSON
object: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``msg``, ``process`` (gateway,
satellite, storage-node), ``request_id`` when the record was logged while serving a
request (the ``x-amz-request-id`` the S3 client got), and ``exc`` with the traceback.
Every process configures logging through :func:`configure_logging`, so one variable in a
compose file or a systemd unit switches them all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

from common.observability.requestid import current_request_id

__all__ = ["JsonFormatter", "RequestIdFilter", "configure_logging"]

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` from the context of the task that logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "process": self.process,
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, process: str, log_format: str | None = None) -> None:
    """Root logging for a process; ``log_format``: ``plain`` or ``json`` (default from
    ``GEOSHARD_LOG_FORMAT``, else plain)."""
    fmt = (log_format or os.environ.get("GEOSHARD_LOG_FORMAT") or "plain").lower()
    if fmt not in ("plain", "json"):
        raise ValueError(f"log format {fmt!r}: use plain or json")
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter(process) if fmt == "json" else logging.Formatter(PLAIN))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
