"""The gateway's data path: objects to encrypted, erasure-coded pieces on nodes, and back.

:mod:`~gateway.pipeline.upload` cuts a streamed body into segments, encodes them off the
event loop and lands their pieces with long-tail cancellation;
:mod:`~gateway.pipeline.download` reads a byte range back from the fastest ``k`` nodes,
verifying every share; :mod:`~gateway.pipeline.piece_client` moves one piece to or from
one node. The satellite is reached only through the small protocols in
:mod:`~gateway.pipeline.types`, which the gateway adapts its satellite client to.
"""

from .download import DownloadConfig, ObjectDownloader
from .errors import (
    BadReceipt,
    BadShare,
    NodeRefused,
    NodeUnavailable,
    NotEnoughPieces,
    PieceTransferError,
    PipelineDataError,
    PipelineError,
)
from .piece_client import PieceClient, PieceClientConfig
from .types import (
    BadPieceReporter,
    BegunSegment,
    PieceSource,
    PieceTarget,
    SegmentPlacer,
    SegmentSource,
    SegmentUpload,
    UploadedPiece,
)
from .upload import (
    DEFAULT_INLINE_THRESHOLD,
    DEFAULT_SEGMENT_SIZE,
    Hasher,
    ObjectUploader,
    UploadConfig,
    UploadResult,
    encrypt_inline,
)

__all__ = [
    "DEFAULT_INLINE_THRESHOLD",
    "DEFAULT_SEGMENT_SIZE",
    "BadPieceReporter",
    "BadReceipt",
    "BadShare",
    "BegunSegment",
    "DownloadConfig",
    "Hasher",
    "NodeRefused",
    "NodeUnavailable",
    "NotEnoughPieces",
    "ObjectDownloader",
    "ObjectUploader",
    "PieceClient",
    "PieceClientConfig",
    "PieceSource",
    "PieceTarget",
    "PieceTransferError",
    "PipelineDataError",
    "PipelineError",
    "SegmentPlacer",
    "SegmentSource",
    "SegmentUpload",
    "UploadConfig",
    "UploadResult",
    "UploadedPiece",
    "encrypt_inline",
]
