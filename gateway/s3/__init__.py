"""The S3 wire protocol, independent of storage: routing, errors, authentication, body
decoding, checksums, XML documents and the small HTTP helpers the handlers need."""
