"""The S3 operations the gateway serves, and which bucket configurations name which of them.

The router (:mod:`gateway.s3.router`) turns a request into one of these; handlers dispatch on it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CONFIGURATIONS", "Operation"]


class Operation(enum.Enum):
    """The S3 operations the gateway serves; the value is AWS's operation name."""

    LIST_BUCKETS = "ListBuckets"
    CREATE_BUCKET = "CreateBucket"
    HEAD_BUCKET = "HeadBucket"
    DELETE_BUCKET = "DeleteBucket"
    GET_BUCKET_LOCATION = "GetBucketLocation"
    GET_BUCKET_VERSIONING = "GetBucketVersioning"
    PUT_BUCKET_VERSIONING = "PutBucketVersioning"
    LIST_OBJECT_VERSIONS = "ListObjectVersions"
    LIST_OBJECTS = "ListObjects"
    LIST_OBJECTS_V2 = "ListObjectsV2"
    LIST_MULTIPART_UPLOADS = "ListMultipartUploads"
    DELETE_OBJECTS = "DeleteObjects"
    PUT_OBJECT = "PutObject"
    COPY_OBJECT = "CopyObject"
    GET_OBJECT = "GetObject"
    HEAD_OBJECT = "HeadObject"
    DELETE_OBJECT = "DeleteObject"
    CREATE_MULTIPART_UPLOAD = "CreateMultipartUpload"
    UPLOAD_PART = "UploadPart"
    UPLOAD_PART_COPY = "UploadPartCopy"
    COMPLETE_MULTIPART_UPLOAD = "CompleteMultipartUpload"
    ABORT_MULTIPART_UPLOAD = "AbortMultipartUpload"
    LIST_PARTS = "ListParts"
    GET_OBJECT_TAGGING = "GetObjectTagging"
    PUT_OBJECT_TAGGING = "PutObjectTagging"
    DELETE_OBJECT_TAGGING = "DeleteObjectTagging"
    GET_OBJECT_ATTRIBUTES = "GetObjectAttributes"
    GET_BUCKET_CORS = "GetBucketCors"
    PUT_BUCKET_CORS = "PutBucketCors"
    DELETE_BUCKET_CORS = "DeleteBucketCors"
    POST_OBJECT = "PostObject"  # a browser form upload; authenticated by its signed policy
    PREFLIGHT = "OPTIONS"  # a browser's CORS preflight (unsigned), for a bucket or an object
    GET_BUCKET_ACL = "GetBucketAcl"
    PUT_BUCKET_ACL = "PutBucketAcl"
    GET_OBJECT_ACL = "GetObjectAcl"
    PUT_OBJECT_ACL = "PutObjectAcl"
    GET_BUCKET_OWNERSHIP_CONTROLS = "GetBucketOwnershipControls"
    PUT_BUCKET_OWNERSHIP_CONTROLS = "PutBucketOwnershipControls"
    GET_BUCKET_POLICY = "GetBucketPolicy"
    PUT_BUCKET_POLICY = "PutBucketPolicy"
    DELETE_BUCKET_POLICY = "DeleteBucketPolicy"
    GET_BUCKET_POLICY_STATUS = "GetBucketPolicyStatus"
    GET_PUBLIC_ACCESS_BLOCK = "GetPublicAccessBlock"
    PUT_PUBLIC_ACCESS_BLOCK = "PutPublicAccessBlock"
    DELETE_PUBLIC_ACCESS_BLOCK = "DeletePublicAccessBlock"
    GET_BUCKET_ENCRYPTION = "GetBucketEncryption"
    PUT_BUCKET_ENCRYPTION = "PutBucketEncryption"
    DELETE_BUCKET_ENCRYPTION = "DeleteBucketEncryption"
    GET_BUCKET_LIFECYCLE = "GetBucketLifecycleConfiguration"
    PUT_BUCKET_LIFECYCLE = "PutBucketLifecycleConfiguration"
    DELETE_BUCKET_LIFECYCLE = "DeleteBucketLifecycle"
    GET_OBJECT_LOCK_CONFIGURATION = "GetObjectLockConfiguration"
    PUT_OBJECT_LOCK_CONFIGURATION = "PutObjectLockConfiguration"
    GET_OBJECT_RETENTION = "GetObjectRetention"
    PUT_OBJECT_RETENTION = "PutObjectRetention"
    GET_OBJECT_LEGAL_HOLD = "GetObjectLegalHold"
    PUT_OBJECT_LEGAL_HOLD = "PutObjectLegalHold"


# Bucket configurations: GET, PUT and DELETE of ?<subresource>.
CONFIGURATIONS: Mapping[str, Mapping[str, Operation]] = MappingProxyType(
    {
        "encryption": {"GET": Operation.GET_BUCKET_ENCRYPTION, "PUT": Operation.PUT_BUCKET_ENCRYPTION,
                       "DELETE": Operation.DELETE_BUCKET_ENCRYPTION},
        "cors": {"GET": Operation.GET_BUCKET_CORS, "PUT": Operation.PUT_BUCKET_CORS,
                 "DELETE": Operation.DELETE_BUCKET_CORS},
        "lifecycle": {"GET": Operation.GET_BUCKET_LIFECYCLE, "PUT": Operation.PUT_BUCKET_LIFECYCLE,
                      "DELETE": Operation.DELETE_BUCKET_LIFECYCLE},
        "acl": {"GET": Operation.GET_BUCKET_ACL, "PUT": Operation.PUT_BUCKET_ACL},
        "ownershipControls": {"GET": Operation.GET_BUCKET_OWNERSHIP_CONTROLS,
                              "PUT": Operation.PUT_BUCKET_OWNERSHIP_CONTROLS},
        "policyStatus": {"GET": Operation.GET_BUCKET_POLICY_STATUS},
        "policy": {"GET": Operation.GET_BUCKET_POLICY, "PUT": Operation.PUT_BUCKET_POLICY,
                   "DELETE": Operation.DELETE_BUCKET_POLICY},
        "object-lock": {"GET": Operation.GET_OBJECT_LOCK_CONFIGURATION,
                        "PUT": Operation.PUT_OBJECT_LOCK_CONFIGURATION},
        "publicAccessBlock": {"GET": Operation.GET_PUBLIC_ACCESS_BLOCK, "PUT": Operation.PUT_PUBLIC_ACCESS_BLOCK,
                              "DELETE": Operation.DELETE_PUBLIC_ACCESS_BLOCK},
    }
)  # fmt: skip
