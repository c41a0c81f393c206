//! A `BlobStore` on the local filesystem: berth's embedded default for blobs.
//!
//! Writes go to a temporary file on the same filesystem, hashed while written, fsynced and then
//! renamed into a content-addressed layout, so a crash never exposes a partial blob.
