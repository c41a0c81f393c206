//! The `BlobStore` trait: the contract every blob backend of berth fulfils.
//!
//! Blobs are content-addressed bytes (image configs, layers, manifests' payloads) stored once by
//! digest. This crate will define the trait (stat, ranged reads, resumable upload sessions that
//! verify the digest while streaming and publish atomically, delete, listing for garbage
//! collection), its error type, an in-memory backend, a fault-injecting wrapper and the
//! conformance suite (feature `conformance`) that every backend runs.
