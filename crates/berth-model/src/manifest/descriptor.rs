//! Content descriptors: how a manifest points at a blob or another manifest.

use std::collections::HashMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::media_type;
use crate::digest::{Digest, DigestError};

/// A validated descriptor: the media type, digest and size of referenced content.
///
/// Built on [`oci_spec::image::Descriptor`], which [`oci`](Descriptor::oci) hands out whole (the
/// value a registry client or another OCI crate takes). Two parts stay berth's own, next to it:
/// the [`Digest`] (oci-spec's accepts algorithms berth cannot store blobs under, such as
/// `sha384`) and the [`Platform`] (oci-spec's reads `os.version` from a key named `os_version`).
/// The oci-spec digest always has the same text as berth's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    oci: oci_spec::image::Descriptor,
    digest: Digest,
    platform: Option<Platform>,
}

impl Descriptor {
    /// The descriptor as oci-spec's type, with every field the document gave (the platform
    /// converted by [`Platform::to_oci`]).
    pub fn oci(&self) -> &oci_spec::image::Descriptor {
        &self.oci
    }

    /// Media type of the referenced content, as the document spells it.
    pub fn media_type(&self) -> &str {
        self.oci.media_type().as_ref()
    }

    /// Digest of the referenced content.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Size of the referenced content in bytes.
    pub fn size(&self) -> u64 {
        self.oci.size()
    }

    /// The artifact type of a referenced manifest, when the descriptor states it.
    pub fn artifact_type(&self) -> Option<&str> {
        self.oci.artifact_type().as_ref().map(AsRef::as_ref)
    }

    /// Platform of a child manifest in an index.
    pub fn platform(&self) -> Option<&Platform> {
        self.platform.as_ref()
    }

    /// Locations the content may be fetched from instead of the registry ("foreign" layers).
    pub fn urls(&self) -> &[String] {
        self.oci.urls().as_deref().unwrap_or_default()
    }

    /// The descriptor's annotation under `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.oci
            .annotations()
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }

    /// The embedded content (`data`, base64 in the document), already checked against the size
    /// and the digest.
    pub fn data(&self) -> Option<&str> {
        self.oci.data().as_deref()
    }
}

impl From<Descriptor> for oci_spec::image::Descriptor {
    fn from(descriptor: Descriptor) -> Self {
        descriptor.oci
    }
}

/// The platform an image index entry runs on.
///
/// berth's own rather than [`oci_spec::image::Platform`], whose JSON keys for the OS version and
/// features are `os_version`/`os_features` instead of the spec's `os.version`/`os.features` (a
/// Windows manifest list read through it silently loses its OS version), and whose `Arch` reads
/// `armbe` as `arm64be`. [`to_oci`](Platform::to_oci) gives oci-spec's type with the exact text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, …; `unknown` for buildx's attestation entries).
    pub architecture: String,
    /// Operating system (`linux`, `windows`, …).
    pub os: String,
    /// CPU variant (`v8`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Operating system version (Windows images).
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Operating system features the image requires (`win32k`).
    #[serde(default, rename = "os.features", skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

impl Platform {
    /// The platform as oci-spec's type. Architecture and OS names oci-spec would read as another
    /// name (`armbe` becomes `arm64be` through `Arch::from`) are kept as `Other` with the exact
    /// text, so the conversion never changes what the document said.
    pub fn to_oci(&self) -> oci_spec::image::Platform {
        use oci_spec::image::{Arch, Os};
        let arch = match Arch::from(self.architecture.as_str()) {
            known if known.to_string() == self.architecture => known,
            _ => Arch::Other(self.architecture.clone()),
        };
        let os = match Os::from(self.os.as_str()) {
            known if known.to_string() == self.os => known,
            _ => Os::Other(self.os.clone()),
        };
        let mut platform = oci_spec::image::Platform::default();
        platform.set_architecture(arch);
        platform.set_os(os);
        platform.set_variant(self.variant.clone());
        platform.set_os_version(self.os_version.clone());
        platform.set_os_features((!self.os_features.is_empty()).then(|| self.os_features.clone()));
        platform
    }
}

/// Which rule a descriptor broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// `mediaType` is missing.
    #[error("mediaType is missing")]
    MissingMediaType,
    /// `mediaType` is not an RFC 6838 `type/subtype`.
    #[error("mediaType {0:?} is not a valid media type")]
    InvalidMediaType(String),
    /// `digest` is missing.
    #[error("digest is missing")]
    MissingDigest,
    /// `digest` is invalid.
    #[error("digest is invalid: {0}")]
    InvalidDigest(DigestError),
    /// `size` is missing.
    #[error("size is missing")]
    MissingSize,
    /// `size` is negative.
    #[error("size {0} is negative")]
    NegativeSize(i64),
    /// `data` is not valid base64.
    #[error("data is not valid base64")]
    InvalidData,
    /// The embedded `data` has another length than `size`.
    #[error("data holds {actual} bytes but size says {declared}")]
    DataSizeMismatch {
        /// The `size` field.
        declared: u64,
        /// The decoded data's length.
        actual: u64,
    },
    /// The embedded `data` does not hash to `digest`.
    #[error("data does not match the digest")]
    DataDigestMismatch,
    /// `artifactType` is not an RFC 6838 `type/subtype`.
    #[error("artifactType {0:?} is not a valid media type")]
    InvalidArtifactType(String),
}

/// A descriptor as it appears in JSON, before validation: every field optional, so that a missing
/// one is reported by name rather than as a parse error.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<i64>,
    artifact_type: Option<String>,
    platform: Option<Platform>,
    urls: Option<Vec<String>>,
    annotations: Option<HashMap<String, String>>,
    data: Option<String>,
}

impl RawDescriptor {
    pub(super) fn validate(self) -> Result<Descriptor, DescriptorError> {
        let media_type = self.media_type.ok_or(DescriptorError::MissingMediaType)?;
        if !media_type::is_valid(&media_type) {
            return Err(DescriptorError::InvalidMediaType(media_type));
        }
        let digest = Digest::parse(&self.digest.ok_or(DescriptorError::MissingDigest)?)
            .map_err(DescriptorError::InvalidDigest)?;
        let size = self.size.ok_or(DescriptorError::MissingSize)?;
        let size = u64::try_from(size).map_err(|_| DescriptorError::NegativeSize(size))?;
        if let Some(artifact_type) = &self.artifact_type
            && !media_type::is_valid(artifact_type)
        {
            return Err(DescriptorError::InvalidArtifactType(artifact_type.clone()));
        }
        if let Some(data) = &self.data {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| DescriptorError::InvalidData)?;
            if bytes.len() as u64 != size {
                return Err(DescriptorError::DataSizeMismatch {
                    declared: size,
                    actual: bytes.len() as u64,
                });
            }
            if Digest::compute(digest.algorithm(), &bytes) != digest {
                return Err(DescriptorError::DataDigestMismatch);
            }
        }
        let mut oci =
            oci_spec::image::Descriptor::new(media_type.as_str().into(), size, oci_digest(&digest));
        oci.set_artifact_type(self.artifact_type.as_deref().map(Into::into));
        oci.set_platform(self.platform.as_ref().map(Platform::to_oci));
        oci.set_urls(self.urls);
        oci.set_annotations(self.annotations);
        oci.set_data(self.data);
        Ok(Descriptor {
            oci,
            digest,
            platform: self.platform,
        })
    }
}

/// oci-spec's digest with berth's text. oci-spec's grammar (any registered-looking algorithm,
/// lowercase hex of the right length for sha256 and sha512) includes all berth accepts.
pub(crate) fn oci_digest(digest: &Digest) -> oci_spec::image::Digest {
    oci_spec::image::Digest::try_from(digest.as_str())
        .expect("berth's digests (sha256 or sha512, lowercase hex) are oci-spec digests")
}
