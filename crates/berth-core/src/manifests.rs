//! Manifests, tags, the catalog and referrers.

use berth_meta::{Artifact, BlobRef, Push, Repository};
use berth_model::{Digest, Manifest, ManifestKind, Name, Reference, Tag};
use berth_policy::{Action, Principal, QuotaExceeded};
use bytes::Bytes;

use crate::{Error, ReadError, Registry, RequestBody, Result, actor};

/// A stored manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    /// Its digest.
    pub digest: Digest,
    /// The manifest it refers to, if any (answered as `OCI-Subject`).
    pub subject: Option<Digest>,
}

/// What `HEAD` on a manifest answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// Set when a proxy repository serves its cached copy because the upstream failed.
    pub warning: Option<String>,
}

/// A manifest read: its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRead {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// The bytes as pushed.
    pub bytes: Bytes,
    /// Set when a proxy repository serves its cached copy because the upstream failed.
    pub warning: Option<String>,
}

/// The record of a push of `manifest` (its bytes stored under `digest`).
#[allow(clippy::too_many_arguments)] // each is one field of the record
pub(crate) fn push_of(
    name: &Name,
    digest: &Digest,
    manifest: &Manifest,
    size: u64,
    tag: Option<Tag>,
    actor: String,
    at: berth_model::Timestamp,
    cached: bool,
) -> Push {
    Push {
        name: name.clone(),
        digest: digest.clone(),
        media_type: manifest.media_type().to_owned(),
        artifact_type: manifest.artifact_type().map(str::to_owned),
        manifest_size: size,
        total_size: manifest.total_size(),
        subject: manifest.subject().map(|s| s.digest().clone()),
        annotations: manifest.annotations().clone(),
        // Its own bytes are listed too, so the push fails (instead of recording an artifact
        // without bytes) if a collector forgot them since they were stored.
        blobs: manifest
            .blobs()
            .filter(|d| d.urls().is_empty()) // foreign layers live elsewhere
            .map(|d| BlobRef {
                digest: d.digest().clone(),
                size: d.size(),
            })
            .chain(std::iter::once(BlobRef {
                digest: digest.clone(),
                size,
            }))
            .collect(),
        children: manifest
            .manifests()
            .iter()
            .map(|d| d.digest().clone())
            .collect(),
        tag,
        actor,
        at,
        cached,
    }
}

pub(crate) fn meta_push_error(e: berth_meta::Error) -> Error {
    match e {
        berth_meta::Error::BlobUnknown(d) | berth_meta::Error::ManifestUnknown(d) => {
            Error::ManifestBlobUnknown(d)
        }
        berth_meta::Error::QuotaExceeded { used, delta, limit } => {
            crate::metrics::quota_refused();
            Error::QuotaExceeded(QuotaExceeded {
                usage: used,
                delta,
                limit,
            })
        }
        other => Error::metadata(other),
    }
}

impl Registry {
    /// Validates and stores a manifest pushed to `name` by tag or digest. The caller is
    /// authorized before a byte of `body` is read; then the body is read whole, within
    /// [`RegistryConfig::max_manifest_size`](crate::RegistryConfig) and the shared
    /// [`MemoryBudget`](crate::MemoryBudget).
    pub async fn put_manifest(
        &self,
        principal: &Principal,
        name: &Name,
        reference: &Reference,
        body: RequestBody,
        content_type: Option<&str>,
    ) -> Result<PushedManifest> {
        let repository = self
            .authorize(principal, Action::Push, name.repository())
            .await?;
        Self::refuse_proxy(&repository)?;
        let limit = self.config.max_manifest_size;
        let declared = body.length();
        let held = self.budget.read(body, limit).await.map_err(|e| match e {
            ReadError::TooLarge { limit } => Error::ManifestTooLarge {
                size: declared.unwrap_or(limit + 1),
                limit,
            },
            ReadError::Busy => Error::Busy,
            ReadError::Body(e) => Error::Body(e),
        })?;
        let bytes = held.bytes().clone();
        let size = bytes.len() as u64;
        let manifest = Manifest::parse(bytes, content_type)?;
        let digest = match reference.digest() {
            Some(expected) => {
                let actual = manifest.digest_with(expected.algorithm());
                if actual != *expected {
                    return Err(berth_model::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    }
                    .into());
                }
                actual
            }
            None => manifest.digest().clone(),
        };
        // Every blob (and child manifest) must be readable through this repository (uploaded
        // or mounted into it): a manifest cannot reach into another tenant's blobs by naming
        // their digests. And each descriptor must give the stored size, or the console and the
        // quota would believe the manifest.
        let children = manifest.manifests().iter();
        for descriptor in manifest
            .blobs()
            .filter(|d| d.urls().is_empty())
            .chain(children)
        {
            let stored = self
                .meta
                .linked_blob(name.repository(), descriptor.digest())
                .await
                .map_err(Error::metadata)?
                .ok_or_else(|| Error::ManifestBlobUnknown(descriptor.digest().clone()))?;
            if stored != descriptor.size() {
                return Err(Error::ManifestBlobSize {
                    digest: descriptor.digest().clone(),
                    declared: descriptor.size(),
                    stored,
                });
            }
        }
        self.store_manifest_bytes(name, &digest, &manifest).await?;
        let push = push_of(
            name,
            &digest,
            &manifest,
            size,
            reference.tag().cloned(),
            actor(principal),
            self.now(),
            false,
        );
        self.meta.record_push(push).await.map_err(meta_push_error)?;
        // Usage changed: this node's next early quota check sees it.
        self.forget_repository(name.repository());
        self.note_replication_event(
            &repository,
            name,
            reference,
            berth_meta::TaskAction::Copy,
            manifest.subject().is_some(),
        );
        Ok(PushedManifest {
            digest,
            subject: manifest.subject().map(|s| s.digest().clone()),
        })
    }

    /// Stores a manifest's bytes under its digest and links them into `name`'s repository,
    /// before its metadata is recorded: bytes first, metadata second, so a recorded artifact
    /// always has its bytes, and a failed record leaves an unreferenced blob for garbage
    /// collection. A manifest the repository holds already is not stored again (no fsyncs);
    /// should a collector take the bytes meanwhile, `record_push` finds them unknown and the
    /// client pushes again.
    pub(crate) async fn store_manifest_bytes(
        &self,
        name: &Name,
        digest: &Digest,
        manifest: &Manifest,
    ) -> Result<()> {
        let held = self
            .meta
            .linked_blob(name.repository(), digest)
            .await
            .map_err(Error::metadata)?;
        if held.is_none() {
            let body = berth_storage::body_from(manifest.bytes().clone());
            self.blobs.put(digest, body).await.map_err(Error::storage)?;
            self.record_stored_blob(digest, manifest.bytes().len() as u64)
                .await?;
            self.link_stored_blob(name, digest).await?;
        }
        Ok(())
    }

    /// The artifact `reference` names, through the cache of a proxy repository.
    async fn find_in(
        &self,
        repository: &Repository,
        name: &Name,
        reference: &Reference,
    ) -> Result<(Artifact, Option<String>)> {
        match &repository.proxy {
            Some(proxy) => {
                let found = self
                    .proxied_manifest(repository, proxy, name, reference)
                    .await?;
                Ok((found.artifact, found.warning))
            }
            None => Ok((self.find(name, reference).await?, None)),
        }
    }

    async fn find(&self, name: &Name, reference: &Reference) -> Result<Artifact> {
        let found = match reference {
            Reference::Tag(tag) => self.meta.resolve_tag(name, tag).await,
            Reference::Digest(digest) => self.meta.artifact(name, digest).await,
        };
        found
            .map_err(Error::metadata)?
            .ok_or_else(|| Error::ManifestUnknown {
                name: name.clone(),
                reference: reference.to_string(),
            })
    }

    /// What `HEAD` answers: digest, media type, size. Not counted as a pull.
    pub async fn head_manifest(
        &self,
        principal: &Principal,
        name: &Name,
        reference: &Reference,
    ) -> Result<ManifestHead> {
        let repository = self
            .authorize(principal, Action::Pull, name.repository())
            .await?;
        let (artifact, warning) = self.find_in(&repository, name, reference).await?;
        Ok(ManifestHead {
            digest: artifact.digest,
            media_type: artifact.media_type,
            size: artifact.manifest_size,
            warning,
        })
    }

    /// A manifest's exact bytes. Counts a pull in memory (no metadata write): on the artifact
    /// always, and on the image when fetched by tag or when it is an index or tagged, so that a
    /// multi-platform pull (index by tag, then a child by digest) counts once on the image.
    pub async fn get_manifest(
        &self,
        principal: &Principal,
        name: &Name,
        reference: &Reference,
    ) -> Result<ManifestRead> {
        let repository = self
            .authorize(principal, Action::Pull, name.repository())
            .await?;
        let (artifact, warning) = self.find_in(&repository, name, reference).await?;
        let bytes = self.manifest_bytes(&artifact.digest).await?;
        let is_index =
            ManifestKind::from_media_type(&artifact.media_type).is_some_and(ManifestKind::is_index);
        let counts_on_image =
            matches!(reference, Reference::Tag(_)) || is_index || !artifact.tags.is_empty();
        self.pulls.count(
            counts_on_image.then_some(artifact.image),
            artifact.id,
            self.now(),
        );
        Ok(ManifestRead {
            digest: artifact.digest,
            media_type: artifact.media_type,
            bytes,
            warning,
        })
    }

    /// A stored manifest's exact bytes, from the cache or the blob store (no pull is counted).
    pub(crate) async fn manifest_bytes(&self, digest: &Digest) -> Result<Bytes> {
        if let Some(bytes) = self.manifests.get(digest) {
            return Ok(bytes);
        }
        let bytes = self.blob_bytes(digest).await?;
        self.manifests.insert(digest.clone(), bytes.clone());
        Ok(bytes)
    }

    /// A blob's bytes, whole; for small blobs only (manifests, configs).
    pub(crate) async fn blob_bytes(&self, digest: &Digest) -> Result<Bytes> {
        let read = self.blobs.get(digest, None).await.map_err(Error::storage)?;
        berth_storage::collect(read.body)
            .await
            .map_err(Error::storage)
    }

    /// Deletes by digest (the artifact and its tags; usage drops at once) or by tag (the tag).
    pub async fn delete_manifest(
        &self,
        principal: &Principal,
        name: &Name,
        reference: &Reference,
    ) -> Result<()> {
        let repository = self
            .authorize(principal, Action::Delete, name.repository())
            .await?;
        Self::refuse_proxy_delete(principal, &repository)?;
        let who = actor(principal);
        let result = match reference {
            Reference::Digest(digest) => {
                self.meta
                    .delete_artifact(name, digest, &who, self.now())
                    .await
            }
            Reference::Tag(tag) => self.meta.delete_tag(name, tag, &who, self.now()).await,
        };
        self.forget_repository(name.repository());
        match result {
            Ok(_) => {
                let delete = berth_meta::TaskAction::Delete;
                self.note_replication_event(&repository, name, reference, delete, false);
                Ok(())
            }
            Err(berth_meta::Error::NotFound { .. }) => Err(Error::ManifestUnknown {
                name: name.clone(),
                reference: reference.to_string(),
            }),
            Err(e) => Err(Error::metadata(e)),
        }
    }

    /// Deletes an image: every artifact and tag of it, then the image (usage drops at once).
    pub async fn delete_image(&self, principal: &Principal, name: &Name) -> Result<usize> {
        let repository = self
            .authorize(principal, Action::Delete, name.repository())
            .await?;
        let deleted = self
            .meta
            .delete_image(name, &actor(principal), self.now())
            .await;
        self.forget_repository(name.repository());
        match deleted {
            Ok(deletion) => {
                for digest in &deletion.artifacts {
                    let reference = Reference::Digest(digest.clone());
                    let delete = berth_meta::TaskAction::Delete;
                    self.note_replication_event(&repository, name, &reference, delete, false);
                }
                Ok(deletion.artifacts.len())
            }
            Err(berth_meta::Error::NotFound { .. }) => Err(Error::ImageUnknown(name.clone())),
            Err(e) => Err(Error::metadata(e)),
        }
    }

    /// An image's tags, sorted, after `last`, at most `n`.
    pub async fn list_tags(
        &self,
        principal: &Principal,
        name: &Name,
        n: usize,
        last: Option<&Tag>,
    ) -> Result<Vec<Tag>> {
        self.authorize(principal, Action::Pull, name.repository())
            .await?;
        let tags = self
            .meta
            .list_tags(name, n, last)
            .await
            .map_err(Error::metadata)?;
        // An image with no tags (or none after `last`) exists or not: only the empty page asks.
        if tags.is_empty()
            && self
                .meta
                .image(name)
                .await
                .map_err(Error::metadata)?
                .is_none()
        {
            return Err(Error::ImageUnknown(name.clone()));
        }
        Ok(tags)
    }

    /// Image names the principal may see, sorted, after `last`, at most `n`.
    pub async fn catalog(
        &self,
        principal: &Principal,
        n: usize,
        last: Option<&Name>,
    ) -> Result<Vec<Name>> {
        let scope = self.catalog_scope(principal).await?;
        self.meta
            .catalog(&scope, n, last)
            .await
            .map_err(Error::metadata)
    }

    /// Artifacts of `name` whose subject is `subject`, optionally of one artifact type.
    pub async fn referrers(
        &self,
        principal: &Principal,
        name: &Name,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Artifact>> {
        self.authorize(principal, Action::Pull, name.repository())
            .await?;
        self.meta
            .referrers(name, subject, artifact_type)
            .await
            .map_err(Error::metadata)
    }
}
