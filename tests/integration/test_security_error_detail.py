"""Finding 5 of issue 16: a failed read tells the S3 client what AWS would, and no more.

Node ids, piece ids and node addresses are the network's layout; the client of an
unreadable object gets AWS's 503 words, while the gateway's log has the detail under the
request id the client was given, so an operator can still find what failed.
"""

from __future__ import annotations

import logging
import os

import pytest
from botocore.exceptions import ClientError

from tests.planet import planet


async def test_unreadable_segment_is_a_plain_503_and_the_detail_is_logged_with_the_request_id(tmp_path, caplog):
    async with planet(tmp_path, nodes=6, scheme="2/3/4/5") as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="lost")
        await net.s3(s3.put_object, Bucket="lost", Key="k", Body=os.urandom(300_000))
        for node in net.nodes[:-1]:  # one node left: fewer than the k = 2 pieces a read needs
            await node.server.close()
        caplog.set_level(logging.WARNING, logger="gateway")
        with pytest.raises(ClientError) as info:
            await net.get(s3, Bucket="lost", Key="k")
        resp = info.value.response
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert resp["Error"]["Code"] == "ServiceUnavailable"
        assert resp["Error"]["Message"] == "Service is unable to handle request."
        request_id = resp["ResponseMetadata"]["RequestId"]
        client_view = repr(resp)
        node_ids = [n.identity.id for n in net.nodes]
        assert not [i for i in node_ids if i[:12] in client_view], "node ids reached the client"
        assert "127.0." not in client_view, "node addresses reached the client"
        assert "piece" not in client_view.lower()
        logged = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
        assert logged, "the failure was not logged under the client's request id"
        assert any(any(i[:12] in line for i in node_ids) for line in logged), "the log lost which nodes failed"
