//! Manifests: parsed and validated from the exact bytes received, never re-serialised.
//!
//! Four document kinds are accepted ([`ManifestKind`]): the OCI image manifest and image index,
//! and Docker's schema 2 manifest and manifest list. OCI artifacts are OCI manifests (or indexes)
//! with an `artifactType` or a non-image config, possibly pointing at another manifest through
//! `subject` (signatures, SBOMs, attestations), which the referrers API lists.
//!
//! The kind comes from the document's `mediaType` field, else from the request's `Content-Type`,
//! else from its shape (`manifests` means an index, `config` an image manifest). When both the
//! field and a specific header are present they must agree; a field that belongs to the other
//! kind (`manifests` in an image manifest, `config` in an index) is refused, which closes the
//! type-confusion hole the OCI spec warns about.
//!
//! The vocabulary is `oci-spec`'s: [`ManifestKind::oci_media_type`], [`Descriptor::oci`],
//! [`Manifest::to_image_manifest`] and [`Manifest::to_image_index`] hand the Rust OCI ecosystem its
//! own types. They are built from what passed berth's rules, never read by oci-spec's serde, which
//! is looser (see `oci_tests.rs` and ARCHITECTURE.md for each case).

mod descriptor;
pub mod media_type;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use bytes::Bytes;
use oci_spec::image::{ImageIndex, ImageManifest, ImageManifestBuilder};
use serde::Deserialize;

use self::descriptor::RawDescriptor;
pub use self::descriptor::{Descriptor, DescriptorError, Platform};
use crate::digest::{Algorithm, Digest};

/// The kind of a manifest document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManifestKind {
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest,
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex,
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList,
}

impl ManifestKind {
    /// Every kind.
    pub const ALL: [ManifestKind; 4] = [
        ManifestKind::OciManifest,
        ManifestKind::OciIndex,
        ManifestKind::DockerManifest,
        ManifestKind::DockerManifestList,
    ];

    /// The kind's media type.
    pub const fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => media_type::OCI_IMAGE_MANIFEST,
            ManifestKind::OciIndex => media_type::OCI_IMAGE_INDEX,
            ManifestKind::DockerManifest => media_type::DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => media_type::DOCKER_MANIFEST_LIST,
        }
    }

    /// The kind a media type names, if any.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.media_type() == media_type)
    }

    /// The kind's media type as oci-spec's value: its own variant for the OCI kinds,
    /// `MediaType::Other` for Docker's, which oci-spec has no variant for.
    pub fn oci_media_type(self) -> oci_spec::image::MediaType {
        self.media_type().into()
    }

    /// The kind an oci-spec media type names, if any.
    pub fn from_oci_media_type(media_type: &oci_spec::image::MediaType) -> Option<Self> {
        Self::from_media_type(media_type.as_ref())
    }

    /// Whether documents of this kind list other manifests (a multi-platform image).
    pub const fn is_index(self) -> bool {
        matches!(
            self,
            ManifestKind::OciIndex | ManifestKind::DockerManifestList
        )
    }

    const fn is_oci(self) -> bool {
        matches!(self, ManifestKind::OciManifest | ManifestKind::OciIndex)
    }
}

impl fmt::Display for ManifestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.media_type())
    }
}

/// Why a document is not a manifest berth accepts. Each variant names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The bytes are not a JSON object of the expected shape.
    #[error("manifest is not valid JSON: {0}")]
    InvalidJson(String),
    /// Neither the document nor the request says which kind of manifest this is, and its shape
    /// does not tell either.
    #[error("manifest has no mediaType and its kind cannot be inferred")]
    MissingMediaType,
    /// The media type is not a manifest kind berth accepts.
    #[error("manifest media type {0:?} is not supported")]
    UnsupportedMediaType(String),
    /// The request's `Content-Type` and the document's `mediaType` disagree.
    #[error("Content-Type {header:?} does not match the manifest's mediaType {document:?}")]
    MediaTypeMismatch {
        /// The media type from the request header.
        header: String,
        /// The media type the document declares.
        document: String,
    },
    /// `schemaVersion` is missing or not 2.
    #[error("schemaVersion must be 2, found {}", .0.map_or_else(|| "none".to_owned(), |v| v.to_string()))]
    SchemaVersion(Option<i64>),
    /// A field the kind requires is missing.
    #[error("{kind} requires the field {field:?}")]
    MissingField {
        /// The manifest kind.
        kind: ManifestKind,
        /// The missing field.
        field: &'static str,
    },
    /// A field that belongs to another kind is present.
    #[error("{kind} must not have the field {field:?}")]
    UnexpectedField {
        /// The manifest kind.
        kind: ManifestKind,
        /// The field that must not be there.
        field: &'static str,
    },
    /// A descriptor is invalid; `at` says which (`config`, `layers[2]`, `manifests[0]`, `subject`).
    #[error("{at}: {rule}")]
    InvalidDescriptor {
        /// Where the descriptor is.
        at: String,
        /// The rule it broke.
        rule: DescriptorError,
    },
    /// An index entry's media type is not a manifest kind.
    #[error("{at}: an index may only list manifests, found media type {media_type:?}")]
    ChildNotManifest {
        /// Where the entry is.
        at: String,
        /// Its media type.
        media_type: String,
    },
    /// `artifactType` is not an RFC 6838 `type/subtype`.
    #[error("artifactType {0:?} is not a valid media type")]
    InvalidArtifactType(String),
    /// The config is the empty descriptor but no `artifactType` says what the artifact is.
    #[error(
        "an artifact whose config is {} must set artifactType",
        media_type::OCI_EMPTY
    )]
    MissingArtifactType,
}

/// The document as JSON, before validation: every field optional so that rules name what is
/// missing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    subject: Option<RawDescriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// A validated manifest and the exact bytes it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    bytes: Bytes,
    digest: Digest,
    kind: ManifestKind,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Vec<Descriptor>,
    manifests: Vec<Descriptor>,
    subject: Option<Descriptor>,
    annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// Parses and validates a manifest from the bytes received, with the request's `Content-Type`
    /// if it had one. The digest is the SHA-256 of exactly these bytes.
    pub fn parse(bytes: Bytes, content_type: Option<&str>) -> Result<Self, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(&bytes)
            .map_err(|e| ManifestError::InvalidJson(e.to_string()))?;
        let header = content_type.and_then(media_type::from_content_type);
        let media_type = match (&raw.media_type, header) {
            (Some(document), Some(header)) if *document != header => {
                return Err(ManifestError::MediaTypeMismatch {
                    header,
                    document: document.clone(),
                });
            }
            (Some(document), _) => document.clone(),
            (None, Some(header)) => header,
            (None, None) => match (&raw.config, &raw.manifests) {
                (None, Some(_)) => media_type::OCI_IMAGE_INDEX.to_owned(),
                (Some(_), None) => media_type::OCI_IMAGE_MANIFEST.to_owned(),
                _ => return Err(ManifestError::MissingMediaType),
            },
        };
        let kind = ManifestKind::from_media_type(&media_type)
            .ok_or(ManifestError::UnsupportedMediaType(media_type))?;
        if raw.schema_version != Some(2) {
            return Err(ManifestError::SchemaVersion(raw.schema_version));
        }
        if !kind.is_oci() && raw.media_type.is_none() {
            return Err(ManifestError::MissingField {
                kind,
                field: "mediaType",
            });
        }
        let unexpected = |present: bool, field| {
            if present {
                Err(ManifestError::UnexpectedField { kind, field })
            } else {
                Ok(())
            }
        };
        if kind.is_index() {
            unexpected(raw.config.is_some(), "config")?;
            unexpected(raw.layers.is_some(), "layers")?;
        } else {
            unexpected(raw.manifests.is_some(), "manifests")?;
        }
        if !kind.is_oci() {
            unexpected(raw.artifact_type.is_some(), "artifactType")?;
            unexpected(raw.subject.is_some(), "subject")?;
        }
        if let Some(artifact_type) = &raw.artifact_type
            && !media_type::is_valid(artifact_type)
        {
            return Err(ManifestError::InvalidArtifactType(artifact_type.clone()));
        }

        let descriptor = |raw: RawDescriptor, at: &dyn Fn() -> String| {
            raw.validate()
                .map_err(|rule| ManifestError::InvalidDescriptor { at: at(), rule })
        };
        let list = |raws: Option<Vec<RawDescriptor>>, field: &'static str| {
            raws.unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, raw)| descriptor(raw, &|| format!("{field}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        let missing = |field| ManifestError::MissingField { kind, field };

        let (config, layers, manifests) = if kind.is_index() {
            let manifests = raw.manifests.ok_or_else(|| missing("manifests"))?;
            let manifests = list(Some(manifests), "manifests")?;
            for (i, child) in manifests.iter().enumerate() {
                if ManifestKind::from_media_type(child.media_type()).is_none() {
                    return Err(ManifestError::ChildNotManifest {
                        at: format!("manifests[{i}]"),
                        media_type: child.media_type().to_owned(),
                    });
                }
            }
            (None, Vec::new(), manifests)
        } else {
            let config = descriptor(raw.config.ok_or_else(|| missing("config"))?, &|| {
                "config".to_owned()
            })?;
            let layers = list(Some(raw.layers.ok_or_else(|| missing("layers"))?), "layers")?;
            if config.media_type() == media_type::OCI_EMPTY && raw.artifact_type.is_none() {
                return Err(ManifestError::MissingArtifactType);
            }
            (Some(config), layers, Vec::new())
        };
        let subject = raw
            .subject
            .map(|raw| descriptor(raw, &|| "subject".to_owned()))
            .transpose()?;

        Ok(Manifest {
            digest: Digest::sha256(&bytes),
            bytes,
            kind,
            artifact_type: raw.artifact_type,
            config,
            layers,
            manifests,
            subject,
            annotations: raw.annotations.unwrap_or_default(),
        })
    }

    /// The exact bytes received, to store and serve unchanged.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The SHA-256 digest of [`bytes`](Manifest::bytes): the artifact's identity.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The digest of the bytes under another algorithm, for a manifest pushed by a `sha512`
    /// reference.
    pub fn digest_with(&self, algorithm: Algorithm) -> Digest {
        match algorithm {
            Algorithm::Sha256 => self.digest.clone(),
            _ => Digest::compute(algorithm, &self.bytes),
        }
    }

    /// The document kind.
    pub fn kind(&self) -> ManifestKind {
        self.kind
    }

    /// The media type to serve the manifest with.
    pub fn media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// The artifact type as the referrers API defines it: `artifactType` when set, otherwise the
    /// config's media type; `None` for an index without `artifactType`.
    pub fn artifact_type(&self) -> Option<&str> {
        self.artifact_type
            .as_deref()
            .or_else(|| self.config.as_ref().map(Descriptor::media_type))
    }

    /// The config blob (image manifests only).
    pub fn config(&self) -> Option<&Descriptor> {
        self.config.as_ref()
    }

    /// The layer blobs (image manifests only), in order.
    pub fn layers(&self) -> &[Descriptor] {
        &self.layers
    }

    /// The child manifests (indexes only), in order.
    pub fn manifests(&self) -> &[Descriptor] {
        &self.manifests
    }

    /// The manifest this one refers to (signatures, SBOMs, attestations), if any. The subject
    /// need not exist in the registry.
    pub fn subject(&self) -> Option<&Descriptor> {
        self.subject.as_ref()
    }

    /// The document's annotations.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }

    /// An image manifest (OCI or Docker schema 2) as oci-spec's [`ImageManifest`], built from the
    /// validated values (never from re-reading the bytes), with the kind berth decided as its
    /// `mediaType`; `None` for an index.
    ///
    /// For handing to the Rust OCI ecosystem, not for serving: serialising it does not give
    /// [`bytes`](Manifest::bytes) (nor their digest) back.
    pub fn to_image_manifest(&self) -> Option<ImageManifest> {
        let config = self.config.clone()?;
        let layers: Vec<oci_spec::image::Descriptor> =
            self.layers.iter().cloned().map(Into::into).collect();
        let mut manifest = ImageManifestBuilder::default()
            .schema_version(oci_spec::image::SCHEMA_VERSION)
            .config(config)
            .layers(layers)
            .build()
            .expect("the builder's required fields (schemaVersion, config, layers) are set");
        manifest.set_media_type(Some(self.kind.oci_media_type()));
        manifest.set_artifact_type(self.oci_artifact_type());
        manifest.set_subject(self.oci_subject());
        manifest.set_annotations(self.oci_annotations());
        Some(manifest)
    }

    /// An index (OCI image index or Docker manifest list) as oci-spec's [`ImageIndex`], built
    /// from the validated values; `None` for an image manifest. Like
    /// [`to_image_manifest`](Manifest::to_image_manifest), not for serving.
    pub fn to_image_index(&self) -> Option<ImageIndex> {
        if !self.kind.is_index() {
            return None;
        }
        let mut index = ImageIndex::default();
        index.set_media_type(Some(self.kind.oci_media_type()));
        index.set_manifests(self.manifests.iter().cloned().map(Into::into).collect());
        index.set_artifact_type(self.oci_artifact_type());
        index.set_subject(self.oci_subject());
        index.set_annotations(self.oci_annotations());
        Some(index)
    }

    fn oci_artifact_type(&self) -> Option<oci_spec::image::MediaType> {
        self.artifact_type.as_deref().map(Into::into)
    }

    fn oci_subject(&self) -> Option<oci_spec::image::Descriptor> {
        self.subject.clone().map(Into::into)
    }

    fn oci_annotations(&self) -> Option<HashMap<String, String>> {
        (!self.annotations.is_empty()).then(|| self.annotations.clone().into_iter().collect())
    }

    /// Every blob the manifest references: config first, then layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(&self.layers)
    }

    /// Every descriptor that must exist in the registry before this manifest is accepted: blobs,
    /// then child manifests. Not the subject, which may arrive later.
    pub fn references(&self) -> impl Iterator<Item = &Descriptor> {
        self.blobs().chain(&self.manifests)
    }

    /// The artifact's size as a registry console shows it: the manifest's own bytes plus the
    /// declared size of everything it references (for an index, its children's manifests, whose
    /// own blobs count in their artifacts).
    pub fn total_size(&self) -> u64 {
        self.references().fold(self.bytes.len() as u64, |total, d| {
            total.saturating_add(d.size())
        })
    }
}

#[cfg(test)]
mod oci_tests;
#[cfg(test)]
mod tests;
