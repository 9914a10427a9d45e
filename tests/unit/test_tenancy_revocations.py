"""The satellite's access key revocation feed, on SQLite and PostgreSQL (issue 16, finding 1).

Gateways poll it with the ``now`` of their previous answer; a revoked key is named in
every answer for ``REVOCATION_OVERLAP`` after its revocation, so no poll can miss it, and
its secret never leaves the satellite again.
"""

from __future__ import annotations

import datetime as dt

from satellite.db.tenancy import TenancyRepository
from satellite.tenancy import SecretBox, TenancyService
from satellite.tenancy.service import REVOCATION_OVERLAP
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)


async def test_a_revoked_key_is_in_every_answer_of_the_overlap_and_loses_its_secret(db, tmp_path) -> None:  # noqa: F811
    svc = TenancyService(TenancyRepository(db), SecretBox.load_or_create(tmp_path / "secrets.key"))
    tenant = await svc.create_tenant("acme")
    kept, revoked = await svc.create_access_key(tenant.id), await svc.create_access_key(tenant.id)
    first, names = await svc.revocations(None)
    assert names == []  # a gateway that just started has nothing to drop
    await svc.revoke_access_key(revoked.access_key_id)
    second, names = await svc.revocations(first)
    assert names == [revoked.access_key_id]
    _, names = await svc.revocations(second)  # asked again from the later time: still named
    assert names == [revoked.access_key_id]
    _, names = await svc.revocations(second + REVOCATION_OVERLAP + dt.timedelta(seconds=1))
    assert names == []
    key, status = await svc.lookup_access_key(revoked.access_key_id)
    assert (status, key.secret_access_key) == ("revoked", "")
    key, status = await svc.lookup_access_key(kept.access_key_id)
    assert (status, key.secret_access_key) == ("active", kept.secret_access_key)
