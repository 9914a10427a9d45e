"""Finding 3 of issue 16: hostile header and query values get a 4xx, never a 5xx, never a
reflected header, and change nothing stored.

Every header and query parameter the router and the handlers read (gateway/s3/router.py,
the handlers' header lookups) is sent, signed, with control characters, CR/LF, invalid
UTF-8 and overlong values, on the operation that reads it. Requests go out as raw bytes
(:func:`tests.s3_requests.raw_signed_head`): no client would send them.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass

import pytest

from tests.planet import planet
from tests.s3_requests import raw_signed_head

pytestmark = pytest.mark.timeout(600)

# Raw header values: control characters, a lone CR, invalid UTF-8, long and too long.
HEADER_VALUES: list[bytes] = [
    b"a\x00b", b"a\x01b", b"\x1b[31mred", b"a\x7fb", b"a\rb", b"\xff\xfe", b"\xc3\x28", b"caf\xc3\xa9",
    b"x" * 7000, b"x" * 9000,
]  # fmt: skip
# Percent-encoded query values: CR/LF (header injection), NUL, DEL, invalid UTF-8, long.
QUERY_VALUES: list[str] = [
    "a%0D%0AX-Injected:%20yes", "%0Aabc", "a%00b", "a%7Fb", "%1B%5B31m", "%FF%FE", "%C3%28", "caf%C3%A9", "x" * 6000,
]  # fmt: skip
INJECTED = re.compile(rb"(?i)^x-injected:")
CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # under /BUCKET; "{key}" etc. filled in
    query: str = ""  # the fixed part of the query
    body: bytes = b""
    headers: tuple[tuple[str, bytes], ...] = ()


# Where each parameter is read: the operation that looks at it.
HEADER_CASES: dict[str, Case] = {}
for _name in ("Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
              "x-amz-checksum-mode"):  # fmt: skip
    HEADER_CASES[_name] = Case("GET", "/victim.bin")
for _name in ("Content-Type", "Content-MD5", "Cache-Control", "Content-Disposition", "Content-Encoding",
              "Content-Language", "Expires", "x-amz-meta-note", "x-amz-tagging", "x-amz-checksum-crc32",
              "x-amz-checksum-sha256", "x-amz-sdk-checksum-algorithm", "x-amz-storage-class", "x-amz-trailer",
              "x-amz-decoded-content-length", "Expect"):  # fmt: skip
    HEADER_CASES[_name] = Case("PUT", "/fuzz/put", body=b"hello")
for _name in ("x-amz-copy-source", "x-amz-metadata-directive", "x-amz-tagging-directive",
              "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
              "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"):  # fmt: skip
    HEADER_CASES[_name] = Case("PUT", "/fuzz/copy", headers=(("x-amz-copy-source", b"/{bucket}/victim.bin"),))
HEADER_CASES["x-amz-copy-source-range"] = Case(
    "PUT", "/fuzz/part", "partNumber=1&uploadId={upload}", headers=(("x-amz-copy-source", b"/{bucket}/victim.bin"),)
)
HEADER_CASES["x-amz-checksum-algorithm"] = Case("POST", "/fuzz/mpu", "uploads")
HEADER_CASES["Host"] = Case("GET", "/victim.bin")

QUERY_CASES: dict[str, Case] = {}
for _name in ("response-content-type", "response-content-language", "response-expires", "response-cache-control",
              "response-content-disposition", "response-content-encoding", "versionId", "partNumber"):  # fmt: skip
    QUERY_CASES[_name] = Case("GET", "/victim.bin")
for _name in ("prefix", "delimiter", "max-keys", "encoding-type", "start-after", "continuation-token", "fetch-owner"):
    QUERY_CASES[_name] = Case("GET", "", "list-type=2")
for _name in ("marker", "list-type"):
    QUERY_CASES[_name] = Case("GET", "")
for _name in ("key-marker", "upload-id-marker", "max-uploads"):
    QUERY_CASES[_name] = Case("GET", "", "uploads")
for _name in ("max-parts", "part-number-marker"):
    QUERY_CASES[_name] = Case("GET", "/fuzz/mpu", "uploadId={upload}")
QUERY_CASES["uploadId"] = Case("PUT", "/fuzz/part", "partNumber=1", body=b"part")
QUERY_CASES["x-id"] = Case("GET", "/victim.bin")


def _status_and_headers(raw: bytes) -> tuple[int, bytes]:
    head, _, _ = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), head


async def _exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)
    except ConnectionResetError:
        return b"HTTP/1.1 400 connection reset\r\n\r\n"
    finally:
        writer.close()


async def test_fuzzed_headers_and_query_parameters_never_get_5xx_nor_reach_a_response_header(tmp_path):
    async with planet(tmp_path, nodes=5, scheme="2/3/4/5") as net:
        s3 = net.client()
        tenant = net.tenants[0]
        bucket = "fuzz-bucket"
        await net.s3(s3.create_bucket, Bucket=bucket)
        victim = os.urandom(20_000)
        await net.s3(s3.put_object, Bucket=bucket, Key="victim.bin", Body=victim, Metadata={"keep": "me"})
        upload = (await net.s3(s3.create_multipart_upload, Bucket=bucket, Key="fuzz/mpu"))["UploadId"]
        host = f"127.0.0.1:{net.gateway.port}"
        accepted: set[str] = set()
        failures: list[str] = []

        async def probe(label: str, case: Case, query: str, extra: list[tuple[str, bytes]]) -> None:
            fill = {"bucket": bucket, "upload": upload}
            path = f"/{bucket}{case.path}"
            full_query = "&".join(q for q in (case.query.format(**fill), query) if q)
            target = path + ("?" + full_query if full_query else "")
            headers = [(n, v.replace(b"{bucket}", bucket.encode())) for n, v in case.headers]
            names = {n.lower() for n, _ in extra}
            headers = [(n, v) for n, v in headers if n.lower() not in names] + extra
            host_value = next((v for n, v in extra if n.lower() == "host"), host.encode())
            headers = [(n, v) for n, v in headers if n.lower() != "host"]
            data = raw_signed_head(case.method, target, host_value.decode("latin-1"), headers,
                                   access_key=tenant.access_key, secret=tenant.secret_key, body=case.body)  # fmt: skip
            raw = await _exchange(net.gateway.port, data)
            status, head = _status_and_headers(raw)
            if status >= 500:
                failures.append(f"{label}: {status} {raw[:300]!r}")
            lines = head.split(b"\r\n")[1:]
            if any(INJECTED.search(line) or CONTROL.search(line) for line in lines):
                failures.append(f"{label}: reflected into a response header: {head[:300]!r}")
            if 200 <= status < 300 and case.method in ("PUT", "POST"):
                accepted.add(case.path)

        for name, case in HEADER_CASES.items():
            for value in HEADER_VALUES:
                await probe(f"header {name}={value[:20]!r}", case, "", [(name, value)])
        for name, case in QUERY_CASES.items():
            for value in QUERY_VALUES:
                await probe(f"query {name}={value[:20]!r}", case, f"{name}={value}", [])
        assert not failures, "\n".join(failures[:40])

        got, body = await net.get(s3, Bucket=bucket, Key="victim.bin")
        assert body == victim and got["Metadata"] == {"keep": "me"}, "the victim object changed"
        keys = {o["Key"] for o in (await net.s3(s3.list_objects_v2, Bucket=bucket)).get("Contents", [])}
        stored = keys - {"victim.bin"}
        assert stored <= {p.lstrip("/") for p in accepted}, f"objects appeared without a 2xx: {stored}"
        parts = await net.s3(s3.list_parts, Bucket=bucket, Key="fuzz/mpu", UploadId=upload)
        assert not parts.get("Parts"), "a part was stored by a hostile request"
