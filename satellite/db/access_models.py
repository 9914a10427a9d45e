"""Access control's own table: a tenant-wide S3 Block Public Access, set by an admin.

A bucket's access configuration (Object Ownership, canned ACL, Block Public Access, policy)
lives in ``bucket_settings`` under reserved names, one row each, read in one query; an
object's canned ACL is stored with the object's metadata row, so it is read with the object
and replaced by each new write, as AWS resets an overwritten object's ACL. What remains is
the block an admin puts on a whole tenant, which applies on top of every bucket's own (the
account-level block of AWS).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from satellite.db.models import Base

__all__ = ["TenantAccessBlock"]


class TenantAccessBlock(Base):
    """A tenant's Block Public Access (the four flags, as ``PublicAccessBlockConfiguration``)."""

    __tablename__ = "tenant_access_blocks"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    block: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime]
