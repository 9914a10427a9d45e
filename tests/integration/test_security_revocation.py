"""Finding 1 of issue 16: a revoked access key stops working on every gateway within ~2 s.

Two gateway processes share one satellite and keep their production credential cache
(60 s). After the warm-up, requests cost the satellite no key lookups at all (the cache
works); after the admin revokes the key, both gateways refuse it within the bound, each
measured from the moment the admin API answered.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.gateway_process import gateway_process
from tests.planet import planet

BOUND = 2.0  # seconds: what the issue asks ("within a second or two")


def _client(url: str, access_key: str, secret: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=access_key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1}))  # fmt: skip


async def test_revocation_reaches_two_gateways_within_two_seconds_while_the_cache_saves_lookups(tmp_path):
    async with planet(tmp_path, nodes=5, scheme="2/3/4/5") as net:
        tenant = net.tenants[0]
        await net.s3(net.client().create_bucket, Bucket="revoke")
        lookups = 0
        real_lookup = net.satellite.tenancy.lookup_access_key

        async def counting_lookup(access_key_id: str):  # type: ignore[no-untyped-def]
            nonlocal lookups
            lookups += 1
            return await real_lookup(access_key_id)

        net.satellite.tenancy.lookup_access_key = counting_lookup  # type: ignore[method-assign]
        token = net.satellite.config.gateway_token
        async with (
            gateway_process(tmp_path / "gw1", net.satellite.api_url, token) as gw1,
            gateway_process(tmp_path / "gw2", net.satellite.api_url, token) as gw2,
        ):
            clients = [_client(gw.url, tenant.access_key, tenant.secret_key) for gw in (gw1, gw2)]
            for s3 in clients:  # warm each gateway's cache
                await net.s3(s3.put_object, Bucket="revoke", Key="warm", Body=b"x")
            warm = lookups
            for i in range(5):
                for s3 in clients:
                    await net.s3(s3.put_object, Bucket="revoke", Key=f"cached-{i}", Body=b"y")
            assert lookups == warm, "the credential cache was not used"

            async with aiohttp.ClientSession() as http:
                url = f"{net.satellite.admin_url}/v1/keys/{tenant.access_key}"
                headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
                async with http.delete(url, headers=headers) as r:
                    assert r.status == 200, await r.text()
            revoked_at = time.monotonic()

            async def refused_after(s3) -> float:  # type: ignore[no-untyped-def]
                n = 0
                while time.monotonic() - revoked_at < 10:
                    n += 1
                    try:
                        await net.s3(s3.put_object, Bucket="revoke", Key=f"after-{n}", Body=b"z")
                    except ClientError as e:
                        assert e.response["Error"]["Code"] == "InvalidAccessKeyId"
                        return time.monotonic() - revoked_at
                raise AssertionError("the revoked key still works 10 s after revocation")

            latencies = await asyncio.gather(*(refused_after(s3) for s3 in clients))
            print(f"revocation latency: gateway 1 {latencies[0]:.3f} s, gateway 2 {latencies[1]:.3f} s")
            assert max(latencies) <= BOUND, f"revocation took {max(latencies):.2f} s on one gateway"


async def test_a_gateway_whose_revocation_feed_is_silent_stops_trusting_its_cache(tmp_path):
    # The feed answers once, at start, and then not for an hour: a silent feed.
    async with planet(tmp_path, nodes=5, scheme="2/3/4/5", credential_cache_ttl=60.0,
                      revocation_poll_interval=3600.0, revocation_max_staleness=3.0) as net:  # fmt: skip
        cache = net.gateway.credentials
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="silent")
        await cache.poll_once()  # as the feed's poll at start did: synced, for the next 3 s
        asked = cache.lookups
        await net.s3(s3.put_object, Bucket="silent", Key="a", Body=b"1")
        assert cache.lookups == asked, "a synced cache should answer without the satellite"
        await net.satellite.tenancy.revoke_access_key(net.tenants[0].access_key)
        async with asyncio.timeout(5):
            while cache.trusted:
                await asyncio.sleep(0.05)
        try:
            await net.s3(s3.put_object, Bucket="silent", Key="b", Body=b"2")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidAccessKeyId"
        else:
            raise AssertionError("a stale cache kept a revoked key alive")
