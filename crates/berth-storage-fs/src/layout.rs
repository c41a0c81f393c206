//! Where everything lives under the store's root directory.
//!
//! ```text
//! <root>/
//! ├── blobs/
//! │   ├── sha256/
//! │   │   └── <hex[0..2]>/
//! │   │       └── <hex>                 a complete blob whose digest was verified; never modified,
//! │   │                                 only replaced whole by rename or unlinked by delete
//! │   └── sha512/…                      the same for SHA-512 digests
//! └── uploads/
//!     └── <upload-id>/                  one resumable upload session (one-shot puts use one too)
//!         ├── data                      the bytes received; also the session's lock (flock)
//!         ├── state                     offset, saved hash state and times; replaced atomically
//!         └── state.tmp                 the next `state` while it is written
//! ```
//!
//! `data` and the blobs are on the same filesystem, so publishing a blob is one `rename`: a crash
//! leaves either the whole blob or none. Blob directories are created on demand and kept.

use std::path::{Path, PathBuf};

use berth_model::{Digest, UploadId};

/// Paths under one root.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Self {
        Layout { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub(crate) fn blob(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.blobs()
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    pub(crate) fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    pub(crate) fn session(&self, id: &UploadId) -> PathBuf {
        self.uploads().join(id.as_str())
    }

    pub(crate) fn data(&self, id: &UploadId) -> PathBuf {
        self.session(id).join("data")
    }

    pub(crate) fn state(&self, id: &UploadId) -> PathBuf {
        self.session(id).join("state")
    }

    pub(crate) fn state_tmp(&self, id: &UploadId) -> PathBuf {
        self.session(id).join("state.tmp")
    }
}
