"""Pure, synchronous data-path algorithms: redundancy schemes, encryption, erasure coding, Merkle trees.

The public API is re-exported here; the modules are :mod:`~erasure.scheme`,
:mod:`~erasure.crypto`, :mod:`~erasure.fec`, :mod:`~erasure.merkle` and
:mod:`~erasure.segment` (the layout, and the codec that ties them together).
"""

from .crypto import (
    KEY_SIZE,
    TAG_SIZE,
    WRAPPED_KEY_SIZE,
    decrypt_blocks,
    derive_bucket_key,
    encrypt_segment,
    new_segment_key,
    unwrap_key,
    wrap_key,
)
from .errors import (
    BackendError,
    CorruptPieceError,
    DecryptionError,
    ErasureError,
    LayoutError,
    NotEnoughPiecesError,
    PieceError,
    SchemeError,
)
from .fec import DEFAULT_BACKEND, FecBackend, IsalBackend, ZfecBackend, backend_names, get_backend
from .merkle import (
    MerkleTree,
    StreamingMerkle,
    leaf_count,
    merkle_root,
    root_from_range,
    verify_proof,
    verify_range,
)
from .scheme import RedundancyScheme
from .segment import (
    DEFAULT_SHARE_SIZE,
    EncodedSegment,
    RangePlan,
    SegmentLayout,
    decode_range,
    decode_segment,
    encode_segment,
    piece_root,
    piece_tree,
    rebuild_pieces,
    verify_piece,
    verify_piece_range,
)

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_SHARE_SIZE",
    "KEY_SIZE",
    "TAG_SIZE",
    "WRAPPED_KEY_SIZE",
    "BackendError",
    "CorruptPieceError",
    "DecryptionError",
    "EncodedSegment",
    "ErasureError",
    "FecBackend",
    "IsalBackend",
    "LayoutError",
    "MerkleTree",
    "NotEnoughPiecesError",
    "PieceError",
    "RangePlan",
    "RedundancyScheme",
    "SchemeError",
    "SegmentLayout",
    "StreamingMerkle",
    "ZfecBackend",
    "backend_names",
    "decode_range",
    "decode_segment",
    "decrypt_blocks",
    "derive_bucket_key",
    "encode_segment",
    "encrypt_segment",
    "get_backend",
    "leaf_count",
    "merkle_root",
    "new_segment_key",
    "piece_root",
    "piece_tree",
    "rebuild_pieces",
    "root_from_range",
    "unwrap_key",
    "verify_piece",
    "verify_piece_range",
    "verify_proof",
    "verify_range",
    "wrap_key",
]
