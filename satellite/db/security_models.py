"""Schema that serves security: the index behind the gateways' access key revocation feed.

Gateways ask every half second which keys were revoked lately (``revoked_at`` after a
time); without this index each of those polls would scan every access key.
"""

from __future__ import annotations

from sqlalchemy import Index

from satellite.db.models import AccessKey

__all__ = ["ACCESS_KEYS_REVOKED_AT"]

ACCESS_KEYS_REVOKED_AT = Index("ix_access_keys_revoked_at", AccessKey.revoked_at)
