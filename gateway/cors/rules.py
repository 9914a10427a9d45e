"""A bucket's CORS rules: the CORSConfiguration document, checked as AWS checks it, and matching.

A rule allows an origin (``*`` may stand for any run of characters, once), a set of methods
(GET, PUT, POST, DELETE, HEAD) and request headers (wildcards allowed, case-insensitive); it
names the response headers a browser may read (``ExposeHeader``) and how long a preflight
may be cached (``MaxAgeSeconds``). The first rule that allows the origin, the method and
every requested header applies, as at AWS. Pure code: no I/O.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.s3 import xml
from gateway.s3.errors import S3Error

__all__ = ["CorsRule", "cors_configuration", "match", "parse_cors_configuration", "rules_from_json"]

MAX_RULES = 100
_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")


@dataclass(frozen=True)
class CorsRule:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age: int | None = None
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"origins": list(self.origins), "methods": list(self.methods), "headers": list(self.headers),
                "expose": list(self.expose), "max_age": self.max_age, "id": self.id}  # fmt: skip

    def allows_origin(self, origin: str) -> bool:
        return any(_wildcard(pattern, origin) for pattern in self.origins)

    def allows_header(self, header: str) -> bool:
        return any(_wildcard(pattern.lower(), header.lower()) for pattern in self.headers)


def _wildcard(pattern: str, value: str) -> bool:
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def rules_from_json(doc: dict[str, Any] | None) -> list[CorsRule]:
    """The rules stored at the satellite (``{"rules": [...]}``)."""
    out = []
    for r in (doc or {}).get("rules", []):
        out.append(CorsRule(tuple(r["origins"]), tuple(r["methods"]), tuple(r.get("headers") or ()),
                            tuple(r.get("expose") or ()), r.get("max_age"), r.get("id")))  # fmt: skip
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _texts(el: ET.Element, name: str) -> tuple[str, ...]:
    return tuple((c.text or "").strip() for c in el if _local(c.tag) == name)


def parse_cors_configuration(body: bytes) -> list[CorsRule]:
    """PutBucketCors' document, as AWS validates it (MalformedXML / InvalidRequest)."""
    root = xml.parse_document(body, "CORSConfiguration")
    rules = []
    for el in root:
        if _local(el.tag) != "CORSRule":
            raise S3Error("MalformedXML")
        origins, methods = _texts(el, "AllowedOrigin"), _texts(el, "AllowedMethod")
        if not origins or not methods:
            raise S3Error("MalformedXML")
        for m in methods:
            if m not in _METHODS:
                message = f"Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                raise S3Error("InvalidRequest", message)
        for o in origins:
            if o.count("*") > 1:
                raise S3Error("InvalidRequest", f'AllowedOrigin "{o}" can not have more than one wildcard.')
        headers = _texts(el, "AllowedHeader")
        for h in headers:
            if h.count("*") > 1:
                raise S3Error("InvalidRequest", f'AllowedHeader "{h}" can not have more than one wildcard.')
        ages = _texts(el, "MaxAgeSeconds")
        if len(ages) > 1 or (ages and not ages[0].isdigit()):
            raise S3Error("MalformedXML")
        ids = _texts(el, "ID")
        rules.append(CorsRule(origins, methods, headers, _texts(el, "ExposeHeader"),
                              int(ages[0]) if ages else None, ids[0] if ids else None))  # fmt: skip
    if not rules:
        raise S3Error("MalformedXML")
    if len(rules) > MAX_RULES:
        message = f"The number of CORS rules should not exceed allowed limit of {MAX_RULES} rules."
        raise S3Error("InvalidRequest", message)
    return rules


def cors_configuration(rules: Sequence[CorsRule]) -> bytes:
    """GetBucketCors' document."""
    root = ET.Element("CORSConfiguration", xmlns=xml.NS)
    for r in rules:
        el = ET.SubElement(root, "CORSRule")
        if r.id is not None:
            ET.SubElement(el, "ID").text = r.id
        for tag, values in (("AllowedHeader", r.headers), ("AllowedMethod", r.methods), ("AllowedOrigin", r.origins),
                            ("ExposeHeader", r.expose)):  # fmt: skip
            for v in values:
                ET.SubElement(el, tag).text = v
        if r.max_age is not None:
            ET.SubElement(el, "MaxAgeSeconds").text = str(r.max_age)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


def match(rules: Sequence[CorsRule], origin: str, method: str, headers: Sequence[str] = ()) -> CorsRule | None:
    """The first rule allowing ``origin``, ``method`` and every one of ``headers``."""
    for r in rules:
        if r.allows_origin(origin) and method in r.methods and all(r.allows_header(h) for h in headers):
            return r
    return None
