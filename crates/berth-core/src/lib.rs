//! The embeddable berth registry engine.
//!
//! It will combine a `BlobStore` and a `MetadataStore` into a `Registry` exposing every registry
//! operation as one typed call (uploads, manifests, tags, deletes, referrers, quota, pull
//! statistics, garbage collection), with no HTTP types in sight.
