//! The OCI data model of berth: digests, names, references, manifests, media types and byte
//! ranges.
//!
//! Everything here is pure (no IO, no async) and every type is validated when it is built, so
//! that the rest of berth passes [`Digest`], [`Name`], [`Tag`], [`Reference`] and [`Manifest`]
//! around instead of strings. Each parser's error is an enum whose variants name the rule that
//! failed, for the protocol layer to turn into an OCI error code and a readable message.
//!
//! Manifests keep the exact bytes they were parsed from: the digest is computed over those bytes,
//! and they are served unchanged.
//!
//! ```
//! use berth_model::{Manifest, Name, Reference};
//!
//! let name = Name::parse("team-a/backend/api").unwrap();
//! assert_eq!(name.repository().as_str(), "team-a");
//! assert_eq!(name.image().as_str(), "backend/api");
//! assert!(matches!(Reference::parse("v1.2").unwrap(), Reference::Tag(_)));
//!
//! let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
//! let manifest = Manifest::parse(body.to_vec().into(), None).unwrap();
//! assert!(manifest.kind().is_index());
//! ```

pub mod check;
mod digest;
pub mod glob;
pub mod http_text;
pub mod manifest;
mod name;
pub mod range;
mod reference;
mod remote;
mod tenancy;
mod upload;

pub use digest::{
    Algorithm, Digest, DigestError, DigestMismatch, DigestVerifier, Hasher, HasherState,
    HasherStateError,
};
pub use glob::{Glob, GlobError};
pub use manifest::{Descriptor, DescriptorError, Manifest, ManifestError, ManifestKind, Platform};
pub use name::{ImageName, Name, NameError, RepositoryName, Tag, TagError};
pub use range::{ByteRange, RangeError, RangeNotSatisfiable, UploadRange};
pub use reference::{Reference, ReferenceError};
pub use remote::{RegistryName, RegistryNameError};
pub use tenancy::{
    Access, AccountId, Permission, RepositoryUserName, RepositoryUserNameError, Timestamp,
};
pub use upload::{UploadId, UploadIdError};
