"""Authorization before the body: an upload the network would refuse is refused on its headers.

A PutObject or UploadPart body can be gigabytes; the satellite's refusals (a bucket of
another tenant, an upload that does not exist, a policy whose nodes are not there) used to
come with the first begin-segment, after a whole segment had been read. :func:`authorize_body`
asks the satellite once, with what the headers declare, before a body byte is read and
before ``100 Continue`` is sent (:func:`gateway.s3.body.defer_continue` holds it back
until a handler starts reading). A refused request then costs its headers: the error
response closes the connection rather than read the body it announced
(:func:`gateway.s3.errors.error_response`).

The satellite checks again at begin-segment and commit, so this is an early "no", never a
"yes" that could outlive a change. Its answer names the bucket's scheme, which the
gateway learns, so the upload's first segment overlaps placement with encoding. It also
says whether a small object may be inline (the bucket's policy allows the satellite's own
location); when not, the object is placed as pieces, and refused here like a large one
when its policy has no nodes.

A small PutObject (stored inline, so its body costs nothing to read) into a bucket whose
"inline" this gateway learned within ``credential_cache_ttl`` asks nothing here: its commit
makes every check the preflight would (owner, policy, ACL, inline allowed) and refuses with the
same errors. A commit refused for an inline segment its policy no longer allows forgets what
was learned (handlers.object_put), so the client's retry is asked about and pieced.
"""

from __future__ import annotations

from erasure import TAG_SIZE, RedundancyScheme
from gateway.handlers.common import INLINE_ALLOWED, Call
from gateway.s3.acl_headers import requested_acl
from gateway.s3.router import Operation

__all__ = ["authorize_body"]

def _declared_size(call: Call) -> int | None:
    headers = call.request.headers
    raw = headers.get("x-amz-decoded-content-length") or headers.get("Content-Length")
    if raw is None or not raw.strip().isdigit():
        return None  # the body reader refuses it with the right error
    return int(raw)


async def authorize_body(call: Call) -> None:
    """Raise what the satellite would refuse this upload with; nothing for other operations."""
    op = call.endpoint.operation
    if op not in (Operation.PUT_OBJECT, Operation.UPLOAD_PART):
        return
    size = _declared_size(call)
    if size is None:
        return
    if op is Operation.UPLOAD_PART:
        placed, upload_id = True, call.endpoint.upload_id
    else:
        placed, upload_id = size + TAG_SIZE > call.services.config.inline_threshold, None
    small_put = op is Operation.PUT_OBJECT and not placed
    if small_put and call.services.inline_known(call.tenant_id, call.bucket):
        call.request[INLINE_ALLOWED] = True
        return
    acl = requested_acl(call.request.headers) if op is Operation.PUT_OBJECT else None
    answer = await call.sat.authorize_write(call.tenant_id, call.bucket, call.key, size, placed=placed,
                                            upload_id=upload_id, acl=acl)  # fmt: skip
    call.request[INLINE_ALLOWED] = bool(answer.get("inline", True))
    if small_put:
        call.services.learn_inline(call.tenant_id, call.bucket, call.request[INLINE_ALLOWED])
    if (placed or not answer.get("inline", True)) and "scheme" in answer:
        call.services.schemes[(call.tenant_id, call.bucket)] = RedundancyScheme.from_dict(answer["scheme"])
