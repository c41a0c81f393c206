//! Invariant checks over arbitrary input, shared by the fuzz targets in `fuzz/` and by ordinary
//! tests that run them over the seed corpora in `fixtures/`.
//!
//! Each function accepts any bytes. Input a parser rejects must be rejected with its typed error
//! (never a panic); input it accepts must satisfy the invariants listed on the function.
//!
//! # Panics
//!
//! Every function here panics when an invariant is broken: that is how a fuzzer reports a bug.

use bytes::Bytes;

use crate::manifest::{ManifestKind, media_type};
use crate::{
    AccountId, Algorithm, ByteRange, Digest, Hasher, HasherState, Manifest, Name, Reference,
    RepositoryUserName, Tag, UploadId, UploadRange,
};

/// Parses `data` as a manifest, without a `Content-Type` and with each manifest media type.
///
/// Invariants of an accepted manifest: its bytes are exactly the input, its digest is the SHA-256
/// of the input, its kind agrees with the content type it was given, its total size counts the
/// manifest's own bytes and every reference, its oci-spec view (`ImageManifest` or `ImageIndex`,
/// descriptors and platforms) says the same, and parsing is deterministic.
pub fn manifest(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let content_types =
        std::iter::once(None).chain(ManifestKind::ALL.map(|k| Some(k.media_type())));
    for content_type in content_types {
        let Ok(manifest) = Manifest::parse(bytes.clone(), content_type) else {
            continue;
        };
        assert_eq!(
            manifest.bytes().as_ref(),
            data,
            "bytes must be kept exactly"
        );
        assert_eq!(
            manifest.digest(),
            &Digest::sha256(data),
            "digest must cover the exact bytes"
        );
        if let Some(content_type) = content_type {
            assert_eq!(
                manifest.media_type(),
                content_type,
                "kind must agree with Content-Type"
            );
        }
        let referenced: u64 = manifest
            .references()
            .map(|d| d.size())
            .fold(0, u64::saturating_add);
        assert_eq!(
            manifest.total_size(),
            (data.len() as u64).saturating_add(referenced)
        );
        for descriptor in manifest.references().chain(manifest.subject()) {
            assert_eq!(
                Digest::parse(descriptor.digest().as_str()).as_ref(),
                Ok(descriptor.digest())
            );
            assert!(media_type::is_valid(descriptor.media_type()));
            assert_eq!(
                descriptor.oci().digest().as_ref(),
                descriptor.digest().as_str(),
                "oci-spec's digest must have berth's text"
            );
            if let Some(platform) = descriptor.platform() {
                let oci = platform.to_oci();
                assert_eq!(oci.architecture().to_string(), platform.architecture);
                assert_eq!(oci.os().to_string(), platform.os);
            }
        }
        if manifest.kind().is_index() {
            assert!(manifest.config().is_none() && manifest.layers().is_empty());
            let index = manifest
                .to_image_index()
                .expect("an index has an ImageIndex");
            assert_eq!(index.manifests().len(), manifest.manifests().len());
            assert!(manifest.to_image_manifest().is_none());
        } else {
            assert!(manifest.config().is_some() && manifest.manifests().is_empty());
            let image = manifest
                .to_image_manifest()
                .expect("an image manifest has an ImageManifest");
            assert_eq!(image.layers().len(), manifest.layers().len());
            assert!(manifest.to_image_index().is_none());
        }
        assert_eq!(
            Manifest::parse(bytes.clone(), content_type).as_ref(),
            Ok(&manifest),
            "parsing must be deterministic"
        );
    }
}

/// Parses `data` as each kind of name and reference.
///
/// Invariants of an accepted value: it displays as the exact input and parses back to itself;
/// a [`Name`] splits into a one-component repository and a non-empty image; a
/// [`RepositoryUserName`] is its account's prefix and its local part, and giving it for its
/// account, with or without the prefix, names the same user.
pub fn name(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = Name::parse(s) {
        assert_eq!(name.to_string(), s);
        assert!(!name.repository().as_str().contains('/'));
        assert!(!name.image().as_str().is_empty());
        assert!(s.len() <= Name::MAX_LEN);
        assert_eq!(
            Name::new(name.repository().clone(), name.image().clone()).as_ref(),
            Ok(&name)
        );
    }
    if let Ok(tag) = Tag::parse(s) {
        assert_eq!(tag.as_str(), s);
        assert!(s.len() <= Tag::MAX_LEN);
        assert_eq!(Reference::parse(s), Ok(Reference::Tag(tag)));
    }
    if let Ok(digest) = Digest::parse(s) {
        assert_eq!(digest.as_str(), s);
        assert_eq!(digest.hex().len(), digest.algorithm().hex_len());
        assert_eq!(Reference::parse(s), Ok(Reference::Digest(digest)));
    }
    if let Ok(reference) = Reference::parse(s) {
        assert_eq!(reference.to_string(), s);
    }
    if let Ok(id) = UploadId::parse(s) {
        assert_eq!(id.as_str(), s);
    }
    if let Ok(user) = RepositoryUserName::parse(s) {
        assert_eq!(user.to_string(), s);
        assert!(s.len() <= RepositoryUserName::MAX_LEN);
        assert_eq!(format!("{}-{}", user.account(), user.local()), s);
        assert_eq!(
            RepositoryUserName::for_account(user.account(), s).as_ref(),
            Ok(&user)
        );
        assert_eq!(
            RepositoryUserName::new(user.account(), user.local()).as_ref(),
            Ok(&user)
        );
    }
    if let Ok(user) = RepositoryUserName::for_account(AccountId(10000), s) {
        assert_eq!(user.account(), AccountId(10000));
        assert_eq!(RepositoryUserName::parse(user.as_str()).as_ref(), Ok(&user));
    }
}

/// Parses `data` as a `Range` and as an upload `Content-Range` header.
///
/// Invariants of an accepted range: it displays as a header that parses back to itself, and it
/// resolves against any blob length to a non-empty range inside the blob, or to "not
/// satisfiable".
pub fn range(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(range) = ByteRange::parse(s) {
        assert_eq!(ByteRange::parse(&range.to_string()), Ok(range));
        for total in [0, 1, 2, 100, 1 << 20, u64::MAX] {
            if let Ok(resolved) = range.resolve(total) {
                assert!(
                    resolved.start < resolved.end && resolved.end <= total,
                    "{range} of {total}: {resolved:?}"
                );
            }
        }
    }
    if let Ok(chunk) = UploadRange::parse(s) {
        assert_eq!(UploadRange::parse(&chunk.to_string()), Ok(chunk));
        assert!(chunk.start <= chunk.end);
    }
}

/// Hashes `data` in one call and in pieces split where `data` itself says, with the state saved
/// and restored between pieces; both must give the same digest as one-shot hashing.
pub fn hasher(data: &[u8]) {
    let (&split, rest) = data.split_first().unwrap_or((&0, &[]));
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let whole = Digest::compute(algorithm, rest);
        let mut hasher = Hasher::new(algorithm);
        for piece in rest.chunks(usize::from(split).max(1)) {
            hasher.update(piece);
            let saved = hasher.state().to_bytes();
            hasher =
                Hasher::resume(HasherState::from_bytes(&saved).expect("a saved state restores"));
        }
        assert_eq!(hasher.finish(), whole);
    }
    let _ = HasherState::from_bytes(data);
}
