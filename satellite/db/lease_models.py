"""The table of chore leases: which satellite process runs each singleton background chore."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from satellite.db.models import Base

__all__ = ["ChoreLease"]


class ChoreLease(Base):
    """One singleton chore (audit, gc, settlement, ...) and the process that holds it until ``expires_at``.

    A process renews its lease well before it expires; a process that dies stops renewing and
    another process with that role takes the chore over once the lease has expired (or at once,
    when the holder is known to be dead, see ``satellite.leases``).
    """

    __tablename__ = "chore_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))  # "host:pid:token" of the holding process
    acquired_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
