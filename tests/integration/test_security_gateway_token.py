"""What the gateway token grants (issue 16, finding 4): signing keys, never secrets.

A gateway verifies every tenant's signatures, so its token must let it check them; it
need not let it *learn* them. The metainfo API answers a SigV4 signing key scoped to one
day and region (an HMAC chain of the secret: it signs for that scope only and cannot be
turned back into the secret), checks SigV2 signatures itself, and gives a revoked key
nothing. SigV2 and SigV4 requests still verify end to end through a real gateway.
"""

from __future__ import annotations

import base64

from botocore.credentials import Credentials

from common.s3keys import sigv4_signing_key
from gateway import satellite_client as sc
from tests.planet import planet
from tests.s3_requests import error_code, send, sign


async def test_gateway_token_gets_scoped_signing_keys_and_sigv2_checks_never_a_secret(tmp_path):
    async with planet(tmp_path, nodes=5, scheme="2/3/4/5") as net:
        t = net.tenants[0]
        async with sc.SatelliteClient(net.satellite.api_url, net.satellite.config.gateway_token) as sat:
            plain = await sat.get_access_key(t.access_key)
            scoped = await sat.get_access_key(t.access_key, "20261201", "eu-west-1")
            assert t.secret_key not in str(plain) and t.secret_key not in str(scoped)
            assert base64.b64decode(scoped["signing_key"]) == sigv4_signing_key(t.secret_key, "20261201", "eu-west-1")
            check = await sat.verify_sigv2(t.access_key, "bm90LWl0", ["GET\n\n\n0\n/b/k"])
            assert check == {"tenant_id": t.id, "status": "active", "match": False}

            await net.satellite.tenancy.revoke_access_key(t.access_key)
            revoked = await sat.get_access_key(t.access_key, "20261201", "eu-west-1")
            assert revoked["status"] == "revoked" and "signing_key" not in revoked


async def test_sigv2_and_sigv4_verify_through_the_gateway_without_it_holding_a_secret(tmp_path):
    async with planet(tmp_path, nodes=5, scheme="2/3/4/5") as net:
        t = net.tenants[0]
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="sigv2-bucket")
        await net.s3(s3.put_object, Bucket="sigv2-bucket", Key="k", Body=b"signed by v4")  # SigV4, boto3's default
        url = f"{net.endpoint}/sigv2-bucket/k"
        good = Credentials(t.access_key, t.secret_key)
        for signer in ("v2", "v2-query"):
            status, _, body = await send(sign(signer, "GET", url, credentials=good))
            assert (status, body) == (200, b"signed by v4"), (signer, status, body[:200])
        status, _, body = await send(sign("v2-query", "GET", url, credentials=Credentials(t.access_key, "wrong")))
        assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
        status, _, body = await send(sign("v2", "GET", url, credentials=Credentials("GSNOSUCHKEY00000000", "x")))
        assert (status, error_code(body)) == (403, "InvalidAccessKeyId")
        await net.satellite.tenancy.revoke_access_key(t.access_key)
        status, _, body = await send(sign("v2-query", "GET", url, credentials=good))
        assert (status, error_code(body)) == (403, "InvalidAccessKeyId")
