"""Pure, synchronous data-path algorithms: redundancy schemes, encryption, erasure coding, Merkle trees."""
