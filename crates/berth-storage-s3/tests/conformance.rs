//! The `BlobStore` conformance suite against a real S3 server on loopback (see `support`).
#![cfg(feature = "s3-server-tests")]

mod support;

berth_storage::conformance_tests!(support::harness);
