//! Where everything lives in the bucket: the whole key layout, in one place.
//!
//! ```text
//! <prefix>/                                 the store's root ("" for the bucket's root)
//! ├── blobs/
//! │   └── <algorithm>/                      sha256 | sha512
//! │       └── <hex[0..2]>/                  fan-out, so listings and S3 partitions stay even
//! │           └── <hex>                     a blob's bytes; written only once verified, never
//! │                                         partially (a single PUT or a server-side copy)
//! └── uploads/
//!     └── <upload-id>/                      one upload session (random 128-bit id)
//!         ├── state                         the session: a JSON header (offset, times, hash
//!         │                                 state, multipart id and part e-tags) followed by
//!         │                                 the not-yet-flushed tail bytes; see `session.rs`
//!         └── data                          the key the session's S3 multipart upload targets;
//!                                           it exists as an object only between completing
//!                                           that upload and copying it under blobs/
//! ```
//!
//! Nothing else is written. Every key is made of ASCII letters, digits, `-`, `_` and `/` (plus
//! whatever the operator's prefix holds), so no key needs escaping on any S3 implementation.

use berth_model::{Digest, UploadId};
use object_store::path::Path;

/// The keys of one store, under its prefix.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The prefix without leading or trailing `/`; empty for the bucket's root.
    prefix: String,
}

impl Layout {
    /// A layout under `prefix` (leading and trailing slashes are ignored).
    pub(crate) fn new(prefix: &str) -> Result<Self, object_store::path::Error> {
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            // Refuses empty segments, `.`/`..` and characters S3 keys should not hold.
            Path::parse(prefix)?;
        }
        Ok(Layout {
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    /// `<prefix>/blobs`
    pub(crate) fn blobs(&self) -> Path {
        self.key("blobs")
    }

    /// `<prefix>/blobs/<algorithm>/<hex[0..2]>/<hex>`
    pub(crate) fn blob(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        self.key(&format!("blobs/{}/{}/{hex}", digest.algorithm(), &hex[..2]))
    }

    /// The digest a key under `blobs/` names, or `None` for a key this layout never writes.
    pub(crate) fn parse_blob(&self, path: &Path) -> Option<Digest> {
        let rest = self.strip(path)?.strip_prefix("blobs/")?;
        let mut parts = rest.split('/');
        let (algorithm, fan, hex) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !hex.starts_with(fan) {
            return None;
        }
        Digest::parse(&format!("{algorithm}:{hex}")).ok()
    }

    /// `<prefix>/uploads`
    pub(crate) fn uploads(&self) -> Path {
        self.key("uploads")
    }

    /// `<prefix>/uploads/<id>`: everything a session owns.
    pub(crate) fn upload_dir(&self, id: &UploadId) -> Path {
        self.key(&format!("uploads/{id}"))
    }

    /// `<prefix>/uploads/<id>/state`
    pub(crate) fn upload_state(&self, id: &UploadId) -> Path {
        self.key(&format!("uploads/{id}/state"))
    }

    /// `<prefix>/uploads/<id>/data`
    pub(crate) fn upload_data(&self, id: &UploadId) -> Path {
        self.key(&format!("uploads/{id}/data"))
    }

    /// The session a `state` key belongs to, or `None` for any other key.
    pub(crate) fn parse_upload_state(&self, path: &Path) -> Option<UploadId> {
        let rest = self.strip(path)?.strip_prefix("uploads/")?;
        let id = rest.strip_suffix("/state")?;
        UploadId::parse(id).ok()
    }

    fn strip<'a>(&self, path: &'a Path) -> Option<&'a str> {
        let key = path.as_ref();
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for prefix in ["", "registry", "/a/b/"] {
            let layout = Layout::new(prefix).unwrap();
            let digest = Digest::sha256(b"x");
            let key = layout.blob(&digest);
            assert!(
                key.as_ref()
                    .contains(&format!("blobs/sha256/{}/", &digest.hex()[..2]))
            );
            assert_eq!(layout.parse_blob(&key), Some(digest));
            let id = UploadId::from_random([3; 16]);
            assert_eq!(
                layout.parse_upload_state(&layout.upload_state(&id)),
                Some(id)
            );
            assert_eq!(layout.parse_upload_state(&layout.upload_data(&id)), None);
            assert_eq!(layout.parse_blob(&layout.upload_data(&id)), None);
        }
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert!(Layout::new("a//b").is_err());
        assert!(Layout::new("a/../b").is_err());
    }
}
