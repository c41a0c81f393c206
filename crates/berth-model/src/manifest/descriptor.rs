//! Content descriptors: how a manifest points at a blob or another manifest.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::media_type;
use crate::digest::{Digest, DigestError};

/// A validated descriptor: the media type, digest and size of referenced content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size of the referenced content in bytes.
    pub size: u64,
    /// The artifact type of a referenced manifest, when the descriptor states it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Platform of a child manifest in an index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Locations the content may be fetched from instead of the registry ("foreign" layers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations of the descriptor.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The platform an image index entry runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, …).
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
    annotations: Option<BTreeMap<String, String>>,
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
        if let Some(data) = self.data {
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
        Ok(Descriptor {
            media_type,
            digest,
            size,
            artifact_type: self.artifact_type,
            platform: self.platform,
            urls: self.urls.unwrap_or_default(),
            annotations: self.annotations.unwrap_or_default(),
        })
    }
}
