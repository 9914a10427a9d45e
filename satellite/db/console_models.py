"""The admin console's table: every change made through the admin API, for the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from satellite.db.models import Base, BigId

__all__ = ["AdminAuditEntry"]


class AdminAuditEntry(Base):
    """One admin API request that could change something (POST, PUT, DELETE), with its outcome.

    Written by the admin API itself, whoever calls it (console, CLI, a script), so the log
    cannot be bypassed by skipping the console. The body is kept as sent (secrets never
    travel in admin requests; a created key's secret is only in the response, not logged).
    """

    __tablename__ = "admin_audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    remote: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(8))
    route: Mapped[str] = mapped_column(String(128))  # the route pattern: "POST /v1/nodes/{node}/disqualify"
    path: Mapped[str] = mapped_column(String(512))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(String(2000), default="")
    result: Mapped[str] = mapped_column(String(500), default="")  # the error message, when it failed
