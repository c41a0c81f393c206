//! A `BlobStore` on S3-compatible object storage, for berth nodes that share their blobs.
//!
//! Chunked uploads map onto S3 multipart uploads whose state persists, so that another node can
//! continue an upload that one node started.
