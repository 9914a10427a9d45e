"""The S3 operations, one module per area, and the one ``match`` that dispatches to them.

Every request reaches :func:`dispatch` already parsed into a typed
:class:`~gateway.s3.router.Endpoint` and authenticated; handlers raise
:class:`~gateway.s3.errors.S3Error` or let domain errors (the satellite client's, the
pipeline's) propagate to the one error table (registered in :mod:`.domain_errors`).
"""

from __future__ import annotations

from aiohttp import web

from gateway.handlers import (
    access,
    acl,
    attributes,
    bucket,
    copy,
    cors,
    delete,
    encryption,
    lifecycle,
    list,
    multipart,
    object_get,
    object_lock,
    object_put,
    tagging,
    versioning,
)
from gateway.handlers.common import Call
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error
from gateway.s3.router import Operation

__all__ = ["dispatch"]


async def dispatch(call: Call, auth: AuthResult) -> web.StreamResponse:
    match call.endpoint.operation:
        case Operation.LIST_BUCKETS:
            return await bucket.list_buckets(call)
        case Operation.CREATE_BUCKET:
            return await bucket.create_bucket(call, auth)
        case Operation.HEAD_BUCKET:
            return await bucket.head_bucket(call)
        case Operation.DELETE_BUCKET:
            return await bucket.delete_bucket(call)
        case Operation.GET_BUCKET_LOCATION:
            return await bucket.get_bucket_location(call)
        case Operation.GET_BUCKET_VERSIONING:
            return await versioning.get_bucket_versioning(call)
        case Operation.PUT_BUCKET_VERSIONING:
            return await versioning.put_bucket_versioning(call, auth)
        case Operation.LIST_OBJECT_VERSIONS:
            return await versioning.list_object_versions(call)
        case Operation.LIST_OBJECTS:
            return await list.list_objects(call)
        case Operation.LIST_OBJECTS_V2:
            return await list.list_objects_v2(call)
        case Operation.LIST_MULTIPART_UPLOADS:
            return await multipart.list_multipart_uploads(call)
        case Operation.DELETE_OBJECTS:
            return await delete.delete_objects(call, auth)
        case Operation.PUT_OBJECT:
            return await object_put.put_object(call, auth)
        case Operation.COPY_OBJECT:
            return await copy.copy_object(call)
        case Operation.GET_OBJECT:
            return await object_get.get_object(call)
        case Operation.HEAD_OBJECT:
            return await object_get.head_object(call)
        case Operation.DELETE_OBJECT:
            return await delete.delete_object(call)
        case Operation.CREATE_MULTIPART_UPLOAD:
            return await multipart.create_multipart_upload(call)
        case Operation.UPLOAD_PART:
            return await multipart.upload_part(call, auth)
        case Operation.UPLOAD_PART_COPY:
            return await multipart.upload_part_copy(call)
        case Operation.COMPLETE_MULTIPART_UPLOAD:
            return await multipart.complete_multipart_upload(call, auth)
        case Operation.ABORT_MULTIPART_UPLOAD:
            return await multipart.abort_multipart_upload(call)
        case Operation.LIST_PARTS:
            return await multipart.list_parts(call)
        case Operation.GET_OBJECT_TAGGING:
            return await tagging.get_object_tagging(call)
        case Operation.PUT_OBJECT_TAGGING:
            return await tagging.put_object_tagging(call, auth)
        case Operation.DELETE_OBJECT_TAGGING:
            return await tagging.delete_object_tagging(call)
        case Operation.GET_OBJECT_ATTRIBUTES:
            return await attributes.get_object_attributes(call)
        case Operation.POST_OBJECT | Operation.PREFLIGHT:  # answered by their middlewares, never here
            raise S3Error("MethodNotAllowed", Method=call.request.method, ResourceType="BUCKET")
        case Operation.GET_BUCKET_ACL | Operation.GET_OBJECT_ACL:
            return await acl.get_acl(call)
        case Operation.PUT_BUCKET_ACL | Operation.PUT_OBJECT_ACL:
            return await acl.put_acl(call, auth)
        case Operation.GET_BUCKET_OWNERSHIP_CONTROLS:
            return await acl.get_ownership_controls(call)
        case Operation.PUT_BUCKET_OWNERSHIP_CONTROLS:
            return await acl.put_ownership_controls(call, auth)
        case Operation.GET_BUCKET_POLICY:
            return await access.get_bucket_policy(call)
        case Operation.PUT_BUCKET_POLICY:
            return await access.put_bucket_policy(call, auth)
        case Operation.DELETE_BUCKET_POLICY:
            return await access.delete_bucket_policy(call)
        case Operation.GET_BUCKET_POLICY_STATUS:
            return await access.get_bucket_policy_status(call)
        case Operation.GET_PUBLIC_ACCESS_BLOCK:
            return await access.get_public_access_block(call)
        case Operation.PUT_PUBLIC_ACCESS_BLOCK:
            return await access.put_public_access_block(call, auth)
        case Operation.DELETE_PUBLIC_ACCESS_BLOCK:
            return await access.delete_public_access_block(call)
        case Operation.GET_BUCKET_CORS:
            return await cors.get_bucket_cors(call)
        case Operation.PUT_BUCKET_CORS:
            return await cors.put_bucket_cors(call, auth)
        case Operation.DELETE_BUCKET_CORS:
            return await cors.delete_bucket_cors(call)
        case Operation.GET_BUCKET_ENCRYPTION:
            return await encryption.get_bucket_encryption(call)
        case Operation.PUT_BUCKET_ENCRYPTION:
            return await encryption.put_bucket_encryption(call, auth)
        case Operation.DELETE_BUCKET_ENCRYPTION:
            return await encryption.delete_bucket_encryption(call)
        case Operation.GET_BUCKET_LIFECYCLE:
            return await lifecycle.get_bucket_lifecycle(call)
        case Operation.PUT_BUCKET_LIFECYCLE:
            return await lifecycle.put_bucket_lifecycle(call, auth)
        case Operation.DELETE_BUCKET_LIFECYCLE:
            return await lifecycle.delete_bucket_lifecycle(call)
        case Operation.GET_OBJECT_LOCK_CONFIGURATION:
            return await object_lock.get_lock_configuration(call)
        case Operation.PUT_OBJECT_LOCK_CONFIGURATION:
            return await object_lock.put_lock_configuration(call, auth)
        case Operation.GET_OBJECT_RETENTION:
            return await object_lock.get_retention(call)
        case Operation.PUT_OBJECT_RETENTION:
            return await object_lock.put_retention(call, auth)
        case Operation.GET_OBJECT_LEGAL_HOLD:
            return await object_lock.get_legal_hold(call)
        case Operation.PUT_OBJECT_LEGAL_HOLD:
            return await object_lock.put_legal_hold(call, auth)
    raise RuntimeError(f"no handler for {call.endpoint.operation}")
