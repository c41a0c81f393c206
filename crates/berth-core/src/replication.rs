//! Replication between registries: a rule copies artifacts between a repository here and a
//! remote registry (a region, a mirror), on every push (`event`), every interval (`schedule`) or
//! when asked (`manual`).
//!
//! - **Names.** A push rule with source `repo` (or `repo/<image-glob>`) copies `repo/<image>` to
//!   `<destination>/<image>` on the remote. A pull rule copies the remote's names that its source
//!   matches (one name, or a glob over the remote's catalog); `team/app` lands as
//!   `<destination>/app`: the remote name without its first component, or whole when it has one.
//! - **Executions are persisted.** An execution is a row in the metadata store with its tasks
//!   (one per artifact: a tag, a referrer pushed by digest, or a delete). A node claims it with a
//!   lease it renews every third of [`RegistryConfig::replication_lease`](crate::RegistryConfig);
//!   each finished task is recorded with the lease checked, so after a crash the lease lapses
//!   and any node continues with the tasks still pending, and two nodes never run one at once.
//!   A `schedule` or `manual` execution lists the source when it is first claimed (its plan).
//! - **Copies converge.** Each task asks the destination first: a manifest it has under the
//!   same reference is skipped, a blob it has is not sent, a blob sent earlier in the execution
//!   to another image of the remote is mounted. An index goes with all its children, and
//!   referrers (signatures, SBOMs) with their subject when the rule copies referrers. Blob bytes
//!   stream from source to destination (never held whole), within the rule's bandwidth limit;
//!   what lands here is verified by the blob store as it arrives.
//! - **Deletes.** With delete propagation, deleting an artifact or a tag at the source deletes it
//!   at the destination (event), and a reconciliation deletes destination tags the source no
//!   longer has.
//! - Replication reads are not pulls (no pull is counted), and replicated pushes here are
//!   recorded with actor `replication:<rule>`; they do not trigger push rules themselves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_meta::{
    Direction, ExecutionId, ExecutionStatus, MetadataStore, NewTask, Page, ReplicationExecution,
    ReplicationRule, ReplicationRuleId, Repository, TaskAction, TaskState, Trigger,
};
use berth_model::{Digest, Glob, Manifest, Name, Reference, RepositoryName, Tag, Timestamp};
use berth_remote::{Client, RemoteName};
use berth_storage::ByteStream;
use bytes::Bytes;
use futures::StreamExt as _;
use tracing::{error, info, warn};

use crate::manifests::{meta_push_error, push_of};
use crate::{Error, Registry, Result};

/// How long the list of rules is reused by push events and the scheduler.
const RULES_TTL: Duration = Duration::from_secs(1);

/// How often the scheduler looks for due rules and unclaimed executions.
const POLL: Duration = Duration::from_secs(1);

/// Tags listed per page from the local store.
const TAG_PAGE: usize = 1000;

/// Replication on this node.
#[derive(Debug)]
pub(crate) struct ReplicationState {
    /// This process's lease owner id.
    node: String,
    /// Wakes the scheduler: an execution was created here.
    wake: tokio::sync::Notify,
    rules: Mutex<Option<(Instant, Arc<Vec<ReplicationRule>>)>>,
    running: Mutex<HashSet<ExecutionId>>,
    pub(crate) counts: Counts,
}

/// What replication did on this node since start.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    copied: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    executions: AtomicU64,
}

/// Replication's counters, as read for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplicationCounts {
    /// Artifacts copied (or deleted) at a destination.
    pub artifacts_copied: u64,
    /// Artifacts the destination had already.
    pub artifacts_skipped: u64,
    /// Artifacts that failed.
    pub artifacts_failed: u64,
    /// Bytes sent to destinations.
    pub bytes: u64,
    /// Executions finished by this node.
    pub executions_finished: u64,
    /// Executions running on this node now.
    pub executions_running: u64,
}

impl ReplicationState {
    pub(crate) fn new() -> Self {
        let node = format!(
            "{}-{}",
            std::process::id(),
            crate::identity::secret::random_string(12, b"abcdefghijklmnopqrstuvwxyz0123456789")
        );
        ReplicationState {
            node,
            wake: tokio::sync::Notify::new(),
            rules: Mutex::new(None),
            running: Mutex::new(HashSet::new()),
            counts: Counts::default(),
        }
    }

    /// Every account's rules, at most [`RULES_TTL`] old.
    async fn rules(&self, meta: &dyn MetadataStore) -> Result<Arc<Vec<ReplicationRule>>> {
        if let Some((at, rules)) = &*self.rules.lock().expect("replication lock")
            && at.elapsed() < RULES_TTL
        {
            return Ok(rules.clone());
        }
        let rules = Arc::new(
            meta.list_replication_rules(None)
                .await
                .map_err(Error::metadata)?,
        );
        *self.rules.lock().expect("replication lock") = Some((Instant::now(), rules.clone()));
        Ok(rules)
    }

    fn forget_rules(&self) {
        *self.rules.lock().expect("replication lock") = None;
    }

    pub(crate) fn read(&self) -> ReplicationCounts {
        let c = &self.counts;
        ReplicationCounts {
            artifacts_copied: c.copied.load(Relaxed),
            artifacts_skipped: c.skipped.load(Relaxed),
            artifacts_failed: c.failed.load(Relaxed),
            bytes: c.bytes.load(Relaxed),
            executions_finished: c.executions.load(Relaxed),
            executions_running: self.running.lock().expect("replication lock").len() as u64,
        }
    }
}

/// The repository and image glob of a push rule's source (`repo` or `repo/<glob>`).
pub(crate) fn push_source(
    source: &str,
) -> std::result::Result<(RepositoryName, Option<Glob>), String> {
    let (repository, images) = match source.split_once('/') {
        Some((repository, images)) => (repository, Some(images)),
        None => (source, None),
    };
    let repository =
        RepositoryName::parse(repository).map_err(|e| format!("source {source:?}: {e}"))?;
    let images = images
        .map(Glob::parse)
        .transpose()
        .map_err(|e| format!("source {source:?}: {e}"))?;
    Ok((repository, images))
}

/// Where a pull rule puts a remote name: `<destination>/<name without its first component>`,
/// or `<destination>/<name>` for a one-component name.
fn pulled_name(destination: &RepositoryName, remote: &str) -> std::result::Result<Name, String> {
    let image = remote.split_once('/').map_or(remote, |(_, rest)| rest);
    Name::parse(&format!("{destination}/{image}"))
        .map_err(|e| format!("{remote} cannot land in {destination}: {e}"))
}

/// Whether `rule` has `tag` in its filter.
fn tag_wanted(rule: &ReplicationRule, tag: &str) -> bool {
    match rule.tag_filter.as_deref().map(Glob::parse) {
        None => true,
        Some(Ok(glob)) => glob.matches(tag),
        Some(Err(_)) => false,
    }
}

/// One end of a copy.
#[derive(Debug, Clone)]
enum End {
    /// An image here.
    Local(Name),
    /// An image on the rule's remote registry.
    Remote(RemoteName),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Local(name) => write!(f, "{name}"),
            End::Remote(name) => write!(f, "{name} on the remote"),
        }
    }
}

/// A manifest read from one end.
#[derive(Debug, Clone)]
struct Fetched {
    digest: Digest,
    media_type: String,
    bytes: Bytes,
}

/// Why a task failed, for people.
type Failure = String;

fn remote_failure(what: impl std::fmt::Display, e: &berth_remote::Error) -> Failure {
    format!("{what}: {}", crate::error_chain(e))
}

fn local_failure(what: impl std::fmt::Display, e: &Error) -> Failure {
    format!("{what}: {}", crate::error_chain(e))
}

/// A bandwidth limit shared by the tasks of one execution.
#[derive(Debug)]
struct Throttle {
    bytes_per_second: u64,
    /// When the bytes sent so far may have been sent, at this rate.
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Throttle {
    async fn take(&self, n: u64) {
        let wait = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(n as f64 / self.bytes_per_second as f64);
            start
        };
        tokio::time::sleep_until(wait).await;
    }
}

fn throttled(body: ByteStream, throttle: Option<Arc<Throttle>>) -> ByteStream {
    match throttle {
        None => body,
        Some(throttle) => body
            .then(move |chunk| {
                let throttle = throttle.clone();
                async move {
                    if let Ok(bytes) = &chunk {
                        throttle.take(bytes.len() as u64).await;
                    }
                    chunk
                }
            })
            .boxed(),
    }
}

/// The copying of one execution.
struct Copier<'a> {
    registry: &'a Registry,
    client: Client,
    rule: &'a ReplicationRule,
    throttle: Option<Arc<Throttle>>,
    /// Blobs sent to the remote in this execution, by the image they went to (to mount).
    sent_to: Mutex<HashMap<Digest, RemoteName>>,
}

impl Copier<'_> {
    fn actor(&self) -> String {
        format!("replication:{}", self.rule.name)
    }

    /// The two ends of a task's image: (source, destination).
    fn ends(&self, image: &str) -> std::result::Result<(End, End), Failure> {
        let rule = self.rule;
        match rule.direction {
            Direction::Push => {
                let (repository, _) = push_source(&rule.source)?;
                let local = Name::parse(&format!("{repository}/{image}"))
                    .map_err(|e| format!("{image}: {e}"))?;
                let remote = RemoteName::parse(&format!("{}/{image}", rule.destination))
                    .map_err(|e| format!("{}/{image}: {e}", rule.destination))?;
                Ok((End::Local(local), End::Remote(remote)))
            }
            Direction::Pull => {
                let remote = RemoteName::parse(image).map_err(|e| format!("{image}: {e}"))?;
                let destination = RepositoryName::parse(&rule.destination)
                    .map_err(|e| format!("destination {}: {e}", rule.destination))?;
                let local = pulled_name(&destination, image)?;
                Ok((End::Remote(remote), End::Local(local)))
            }
        }
    }

    /// What the source holds that the rule copies: a task per matching tag, and with delete
    /// propagation a delete per destination tag the source does not have.
    async fn plan(&self) -> std::result::Result<Vec<NewTask>, Failure> {
        let rule = self.rule;
        let images = match rule.direction {
            Direction::Push => self.local_images().await?,
            Direction::Pull => self.remote_images().await?,
        };
        let mut tasks = Vec::new();
        for image in images {
            let (source, destination) = self.ends(&image)?;
            let wanted: Vec<Tag> = self
                .tags(&source)
                .await?
                .into_iter()
                .filter(|t| tag_wanted(rule, t.as_str()))
                .collect();
            if rule.delete_propagation {
                let have: HashSet<&str> = wanted.iter().map(Tag::as_str).collect();
                for tag in self.tags(&destination).await? {
                    if tag_wanted(rule, tag.as_str()) && !have.contains(tag.as_str()) {
                        tasks.push(NewTask {
                            image: image.clone(),
                            reference: tag.to_string(),
                            action: TaskAction::Delete,
                        });
                    }
                }
            }
            tasks.extend(wanted.into_iter().map(|tag| NewTask {
                image: image.clone(),
                reference: tag.to_string(),
                action: TaskAction::Copy,
            }));
        }
        Ok(tasks)
    }

    /// The images of a push rule's source repository that its glob matches.
    async fn local_images(&self) -> std::result::Result<Vec<String>, Failure> {
        let (repository, glob) = push_source(&self.rule.source)?;
        let meta = &self.registry.meta;
        let mut images = Vec::new();
        for page in 1.. {
            let found = meta
                .list_images(&repository, None, Page { page, size: 500 })
                .await
                .map_err(|e| local_failure("listing the source's images", &Error::metadata(e)))?;
            let last = found.items.len() < 500;
            images.extend(
                found
                    .items
                    .into_iter()
                    .map(|i| i.name.to_string())
                    .filter(|name| glob.as_ref().is_none_or(|g| g.matches(name))),
            );
            if last {
                break;
            }
        }
        Ok(images)
    }

    /// The remote names a pull rule's source matches: itself, or the catalog's that its glob
    /// matches.
    async fn remote_images(&self) -> std::result::Result<Vec<String>, Failure> {
        let glob = Glob::parse(&self.rule.source).map_err(|e| e.to_string())?;
        if glob.is_literal() {
            return Ok(vec![self.rule.source.clone()]);
        }
        let names = self
            .client
            .catalog()
            .await
            .map_err(|e| remote_failure("listing the remote's catalog", &e))?;
        Ok(names
            .into_iter()
            .map(|n| n.as_str().to_owned())
            .filter(|n| glob.matches(n))
            .collect())
    }

    async fn tags(&self, end: &End) -> std::result::Result<Vec<Tag>, Failure> {
        match end {
            End::Local(name) => {
                let meta = &self.registry.meta;
                let mut tags: Vec<Tag> = Vec::new();
                loop {
                    let page = meta
                        .list_tags(name, TAG_PAGE, tags.last())
                        .await
                        .map_err(|e| {
                            local_failure(format!("listing {name}'s tags"), &Error::metadata(e))
                        })?;
                    let done = page.len() < TAG_PAGE;
                    tags.extend(page);
                    if done {
                        return Ok(tags);
                    }
                }
            }
            End::Remote(name) => self
                .client
                .list_tags(name)
                .await
                .map_err(|e| remote_failure(format!("listing {end}'s tags"), &e)),
        }
    }

    /// Runs one task: what it did, or why not.
    async fn run(&self, task: &NewTask) -> TaskState {
        let reference = match Reference::parse(&task.reference) {
            Ok(reference) => reference,
            Err(e) => {
                return TaskState::Failed {
                    error: format!("{}: {e}", task.reference),
                };
            }
        };
        let outcome = match self.ends(&task.image) {
            Err(e) => Err(e),
            Ok((source, destination)) => match task.action {
                TaskAction::Copy => self.copy(&source, &destination, &reference).await,
                TaskAction::Delete => self
                    .delete(&destination, &reference)
                    .await
                    .map(|deleted| if deleted { Some(0) } else { None }),
            },
        };
        match outcome {
            Ok(Some(bytes)) => TaskState::Copied { bytes },
            Ok(None) => TaskState::Skipped,
            Err(error) => TaskState::Failed { error },
        }
    }

    /// Copies `reference` from `source` to `destination`: `Some(bytes sent)` when something was
    /// copied, `None` when the destination was up to date (or the source has it no more).
    async fn copy(
        &self,
        source: &End,
        destination: &End,
        reference: &Reference,
    ) -> std::result::Result<Option<u64>, Failure> {
        let Some(top) = self.manifest(source, reference).await? else {
            info!(rule = %self.rule.name, %source, %reference, "gone from the source before it was copied; skipped");
            return Ok(None);
        };
        let mut sent = None;
        if self.manifest_digest(destination, reference).await?.as_ref() != Some(&top.digest) {
            let mut bytes = self.copy_tree(source, destination, &top).await?;
            bytes += self.put_manifest(destination, reference, &top).await?;
            sent = Some(bytes);
        }
        if self.rule.copy_referrers
            && let Some(bytes) = self
                .copy_referrers(source, destination, &top.digest)
                .await?
        {
            sent = Some(sent.unwrap_or(0) + bytes);
        }
        Ok(sent)
    }

    /// Copies what `manifest` references (its children with theirs, its blobs), not itself:
    /// the bytes sent.
    async fn copy_tree(
        &self,
        source: &End,
        destination: &End,
        fetched: &Fetched,
    ) -> std::result::Result<u64, Failure> {
        let manifest =
            Manifest::parse(fetched.bytes.clone(), Some(&fetched.media_type)).map_err(|e| {
                format!(
                    "manifest {} of {source} cannot be read: {e}",
                    fetched.digest
                )
            })?;
        let mut sent = 0;
        for child in manifest.manifests() {
            let by_digest = Reference::Digest(child.digest().clone());
            if self
                .manifest_digest(destination, &by_digest)
                .await?
                .is_some()
            {
                continue;
            }
            let Some(fetched) = self.manifest(source, &by_digest).await? else {
                return Err(format!(
                    "{source} lacks {}, a manifest of its index",
                    child.digest()
                ));
            };
            sent += Box::pin(self.copy_tree(source, destination, &fetched)).await?;
            sent += self.put_manifest(destination, &by_digest, &fetched).await?;
        }
        for blob in manifest.blobs().filter(|d| d.urls().is_empty()) {
            sent += self
                .copy_blob(source, destination, blob.digest(), blob.size())
                .await?;
        }
        Ok(sent)
    }

    /// Copies the referrers of `subject` the destination does not have: `Some(bytes)` when
    /// there were any.
    async fn copy_referrers(
        &self,
        source: &End,
        destination: &End,
        subject: &Digest,
    ) -> std::result::Result<Option<u64>, Failure> {
        let mut sent = None;
        for digest in self.referrers(source, subject).await? {
            let by_digest = Reference::Digest(digest.clone());
            if self
                .manifest_digest(destination, &by_digest)
                .await?
                .is_some()
            {
                continue;
            }
            let Some(fetched) = self.manifest(source, &by_digest).await? else {
                continue;
            };
            let mut bytes = self.copy_tree(source, destination, &fetched).await?;
            bytes += self.put_manifest(destination, &by_digest, &fetched).await?;
            sent = Some(sent.unwrap_or(0) + bytes);
        }
        Ok(sent)
    }

    /// Sends a blob the destination lacks: the bytes sent (0 when it had it or took a mount).
    async fn copy_blob(
        &self,
        source: &End,
        destination: &End,
        digest: &Digest,
        size: u64,
    ) -> std::result::Result<u64, Failure> {
        match destination {
            End::Local(name) => {
                // A blob the registry holds for another repository is linked, not copied.
                let linked = self
                    .registry
                    .meta
                    .linked_blob(name.repository(), digest)
                    .await;
                if linked
                    .map_err(|e| local_failure("reading blob links", &Error::metadata(e)))?
                    .is_some()
                {
                    return Ok(0);
                }
                match self.registry.adopt_known_blob(name, digest).await {
                    Ok(Some(_)) => return Ok(0),
                    Ok(None) => {}
                    Err(e) => return Err(local_failure(format!("linking {digest}"), &e)),
                }
            }
            End::Remote(name) => {
                let exists = self.client.blob_exists(name, digest).await;
                if exists
                    .map_err(|e| remote_failure(format!("asking {destination} for {digest}"), &e))?
                {
                    return Ok(0);
                }
                let from = self
                    .sent_to
                    .lock()
                    .expect("copier lock")
                    .get(digest)
                    .cloned();
                if let Some(from) = from.filter(|f| f != name) {
                    match self.client.mount_blob(name, digest, &from).await {
                        Ok(true) => return Ok(0),
                        Ok(false) => {}
                        Err(e) => {
                            warn!(rule = %self.rule.name, %digest, error = %crate::error_chain(&e), "a mount at the remote failed; sending the blob")
                        }
                    }
                }
            }
        }
        let body = self.open_blob(source, digest, size).await?;
        let body = throttled(body, self.throttle.clone());
        match destination {
            End::Local(name) => {
                let stored = self.registry.blobs.put(digest, body).await;
                let stored = stored
                    .map_err(|e| local_failure(format!("storing {digest}"), &Error::storage(e)))?;
                if stored != size {
                    return Err(format!(
                        "{digest} arrived with {stored} bytes where its manifest says {size}"
                    ));
                }
                self.registry
                    .record_stored_blob(digest, size)
                    .await
                    .map_err(|e| local_failure(format!("recording {digest}"), &e))?;
                self.registry
                    .link_stored_blob(name, digest)
                    .await
                    .map_err(|e| local_failure(format!("linking {digest}"), &e))?;
            }
            End::Remote(name) => {
                let body = body
                    .map(|chunk| {
                        chunk.map_err(|e| berth_remote::Error::Unreachable {
                            url: "the local blob store".to_owned(),
                            source: Box::new(e),
                        })
                    })
                    .boxed();
                self.client
                    .push_blob(name, digest, size, body)
                    .await
                    .map_err(|e| {
                        remote_failure(format!("sending {digest} to {destination}"), &e)
                    })?;
                self.sent_to
                    .lock()
                    .expect("copier lock")
                    .insert(digest.clone(), name.clone());
            }
        }
        Ok(size)
    }

    async fn open_blob(
        &self,
        source: &End,
        digest: &Digest,
        size: u64,
    ) -> std::result::Result<ByteStream, Failure> {
        match source {
            End::Local(name) => {
                let linked = self
                    .registry
                    .meta
                    .linked_blob(name.repository(), digest)
                    .await;
                if linked
                    .map_err(|e| local_failure("reading blob links", &Error::metadata(e)))?
                    .is_none()
                {
                    return Err(format!("{source} lacks blob {digest}"));
                }
                let read = self.registry.blobs.get(digest, None).await;
                let read = read
                    .map_err(|e| local_failure(format!("reading {digest}"), &Error::storage(e)))?;
                if read.size != size {
                    return Err(format!(
                        "{digest} holds {} bytes where its manifest says {size}",
                        read.size
                    ));
                }
                Ok(read
                    .body
                    .map(|chunk| chunk.map_err(std::io::Error::other))
                    .boxed())
            }
            End::Remote(name) => {
                let blob = self.client.get_blob(name, digest).await;
                let Some(blob) =
                    blob.map_err(|e| remote_failure(format!("fetching {digest}"), &e))?
                else {
                    return Err(format!("{source} lacks blob {digest}"));
                };
                Ok(blob
                    .body
                    .map(|chunk| chunk.map_err(std::io::Error::other))
                    .boxed())
            }
        }
    }

    async fn manifest(
        &self,
        end: &End,
        reference: &Reference,
    ) -> std::result::Result<Option<Fetched>, Failure> {
        match end {
            End::Local(name) => {
                let Some(artifact) = self
                    .registry
                    .local_artifact(name, reference)
                    .await
                    .map_err(|e| local_failure(format!("reading {name}:{reference}"), &e))?
                else {
                    return Ok(None);
                };
                let bytes = self
                    .registry
                    .manifest_bytes(&artifact.digest)
                    .await
                    .map_err(|e| {
                        local_failure(format!("reading manifest {}", artifact.digest), &e)
                    })?;
                Ok(Some(Fetched {
                    digest: artifact.digest,
                    media_type: artifact.media_type,
                    bytes,
                }))
            }
            End::Remote(name) => {
                let found = self.client.get_manifest(name, reference).await;
                Ok(found
                    .map_err(|e| remote_failure(format!("fetching {name}:{reference}"), &e))?
                    .map(|m| Fetched {
                        digest: m.digest,
                        media_type: m.media_type,
                        bytes: m.bytes,
                    }))
            }
        }
    }

    async fn manifest_digest(
        &self,
        end: &End,
        reference: &Reference,
    ) -> std::result::Result<Option<Digest>, Failure> {
        match end {
            End::Local(name) => Ok(self
                .registry
                .local_artifact(name, reference)
                .await
                .map_err(|e| local_failure(format!("reading {name}:{reference}"), &e))?
                .map(|a| a.digest)),
            End::Remote(name) => Ok(self
                .client
                .head_manifest(name, reference)
                .await
                .map_err(|e| remote_failure(format!("asking {end} for {reference}"), &e))?
                .map(|h| h.digest)),
        }
    }

    /// Stores a manifest at `end` under `reference`: the bytes sent.
    async fn put_manifest(
        &self,
        end: &End,
        reference: &Reference,
        fetched: &Fetched,
    ) -> std::result::Result<u64, Failure> {
        match end {
            End::Local(name) => {
                self.registry
                    .replicated_push(name, reference, fetched, self.actor())
                    .await
                    .map_err(|e| local_failure(format!("storing {name}:{reference}"), &e))?;
            }
            End::Remote(name) => {
                self.client
                    .put_manifest(name, reference, &fetched.media_type, fetched.bytes.clone())
                    .await
                    .map_err(|e| {
                        remote_failure(format!("pushing {name}:{reference} to the remote"), &e)
                    })?;
            }
        }
        Ok(fetched.bytes.len() as u64)
    }

    async fn referrers(
        &self,
        end: &End,
        subject: &Digest,
    ) -> std::result::Result<Vec<Digest>, Failure> {
        match end {
            End::Local(name) => Ok(self
                .registry
                .meta
                .referrers(name, subject, None)
                .await
                .map_err(|e| {
                    local_failure(
                        format!("listing the referrers of {subject}"),
                        &Error::metadata(e),
                    )
                })?
                .into_iter()
                .map(|a| a.digest)
                .collect()),
            End::Remote(name) => Ok(self
                .client
                .referrers(name, subject)
                .await
                .map_err(|e| remote_failure(format!("listing the referrers of {subject}"), &e))?
                .into_iter()
                .map(|r| r.digest)
                .collect()),
        }
    }

    /// Deletes `reference` at `end`: whether there was something to delete.
    async fn delete(&self, end: &End, reference: &Reference) -> std::result::Result<bool, Failure> {
        match end {
            End::Local(name) => self
                .registry
                .replicated_delete(name, reference, &self.actor())
                .await
                .map_err(|e| local_failure(format!("deleting {name}:{reference}"), &e)),
            End::Remote(name) => self
                .client
                .delete_manifest(name, reference)
                .await
                .map_err(|e| {
                    remote_failure(format!("deleting {name}:{reference} on the remote"), &e)
                }),
        }
    }
}

/// Why an execution stopped before its end.
enum Stop {
    /// Another node holds it now (or it is gone): leave it.
    LeaseLost,
    /// It cannot go on: finish it failed, for this reason.
    Failed(String),
}

impl Registry {
    /// The artifact `reference` names in a local image, without authorization or pull counting.
    async fn local_artifact(
        &self,
        name: &Name,
        reference: &Reference,
    ) -> Result<Option<berth_meta::Artifact>> {
        let found = match reference {
            Reference::Tag(tag) => self.meta.resolve_tag(name, tag).await,
            Reference::Digest(digest) => self.meta.artifact(name, digest).await,
        };
        found.map_err(Error::metadata)
    }

    /// Records a manifest a pull rule copied here (its blobs and children are here already).
    async fn replicated_push(
        &self,
        name: &Name,
        reference: &Reference,
        fetched: &Fetched,
        actor: String,
    ) -> Result<()> {
        let manifest = Manifest::parse(fetched.bytes.clone(), Some(&fetched.media_type))?;
        let digest = manifest.digest_with(fetched.digest.algorithm());
        if digest != fetched.digest {
            return Err(berth_model::DigestMismatch {
                expected: fetched.digest.clone(),
                actual: digest,
            }
            .into());
        }
        self.store_manifest_bytes(name, &digest, &manifest).await?;
        let size = fetched.bytes.len() as u64;
        let tag = reference.tag().cloned();
        let push = push_of(
            name,
            &digest,
            &manifest,
            size,
            tag,
            actor,
            self.now(),
            false,
        );
        self.meta.record_push(push).await.map_err(meta_push_error)?;
        self.forget_repository(name.repository());
        Ok(())
    }

    /// Deletes what a delete at the source of a pull rule deleted: whether there was anything.
    async fn replicated_delete(
        &self,
        name: &Name,
        reference: &Reference,
        actor: &str,
    ) -> Result<bool> {
        let deleted = match reference {
            Reference::Digest(digest) => {
                self.meta
                    .delete_artifact(name, digest, actor, self.now())
                    .await
            }
            Reference::Tag(tag) => self.meta.delete_tag(name, tag, actor, self.now()).await,
        };
        match deleted {
            Ok(_) => {
                self.forget_repository(name.repository());
                Ok(true)
            }
            Err(berth_meta::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(Error::metadata(e)),
        }
    }

    /// Notes a push or delete at `name` for the push rules with an `event` trigger: each that
    /// matches gets an execution of one task, created in the background (a push never waits for
    /// it). A tag push is copied when the rule's filter has the tag; a push by digest only when it
    /// is a referrer and the rule copies referrers (children of an index go with the index).
    pub(crate) fn note_replication_event(
        &self,
        repository: &Repository,
        name: &Name,
        reference: &Reference,
        action: TaskAction,
        referrer: bool,
    ) {
        let (meta, state) = (self.meta.clone(), self.replication.clone());
        let (account, name, reference) = (repository.account, name.clone(), reference.clone());
        let now = self.now();
        tokio::spawn(async move {
            let rules = match state.rules(&*meta).await {
                Ok(rules) => rules,
                Err(e) => {
                    error!(%name, %reference, error = %crate::error_chain(&e), "reading replication rules for a push event failed; a scheduled reconciliation will copy it");
                    return;
                }
            };
            for rule in rules.iter().filter(|r| {
                r.account == account
                    && r.enabled
                    && r.direction == Direction::Push
                    && r.trigger == Trigger::Event
                    && (action == TaskAction::Copy || r.delete_propagation)
            }) {
                let Ok((source, images)) = push_source(&rule.source) else {
                    continue;
                };
                if source != *name.repository()
                    || images.is_some_and(|g| !g.matches(name.image().as_str()))
                {
                    continue;
                }
                let wanted = match &reference {
                    Reference::Tag(tag) => tag_wanted(rule, tag.as_str()),
                    Reference::Digest(_) => {
                        action == TaskAction::Delete || (referrer && rule.copy_referrers)
                    }
                };
                if !wanted {
                    continue;
                }
                let task = NewTask {
                    image: name.image().to_string(),
                    reference: reference.to_string(),
                    action,
                };
                match meta
                    .create_execution(rule.id, "event", Some(vec![task]), now)
                    .await
                {
                    Ok(_) => state.wake.notify_one(),
                    Err(e) => {
                        error!(rule = %rule.name, %name, %reference, error = %crate::error_chain(&Error::metadata(e)), "recording a replication event failed; a scheduled reconciliation will copy it")
                    }
                }
            }
        });
    }

    /// Starts an execution of `rule` now (the management API's `manual` run): it lists the
    /// source when a node claims it, which happens at once on this node when it runs
    /// [`Registry::run_replication`].
    pub(crate) async fn start_replication(
        &self,
        rule: &ReplicationRule,
        trigger: &str,
    ) -> Result<ReplicationExecution> {
        let execution = self
            .meta
            .create_execution(rule.id, trigger, None, self.now())
            .await
            .map_err(Error::metadata)?;
        self.replication.wake.notify_one();
        Ok(execution)
    }

    /// Forgets this node's copy of the replication rules: call after changing one.
    pub(crate) fn forget_replication_rules(&self) {
        self.replication.forget_rules();
    }

    /// Runs replication on this node until `shutdown` resolves: starts the executions of rules
    /// whose schedule is due, and claims executions nobody runs (new ones, or those whose node
    /// stopped renewing its lease), at most
    /// [`RegistryConfig::replication_executions`](crate::RegistryConfig) at once. Executions
    /// still running at shutdown are left to their leases: they lapse and a node continues them.
    pub async fn run_replication(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = self.replication.wake.notified() => {}
                () = &mut shutdown => break,
            }
            if let Err(e) = self.schedule_due().await {
                error!(error = %crate::error_chain(&e), "starting scheduled replications failed; retried in a second");
            }
            if let Err(e) = self.claim_executions().await {
                error!(error = %crate::error_chain(&e), "claiming replication executions failed; retried in a second");
            }
        }
    }

    /// Starts an execution of each enabled scheduled rule whose interval passed since its last
    /// one, unless one of its executions still runs; one node among several wins each start.
    async fn schedule_due(&self) -> Result<()> {
        let now = self.now();
        let rules = self.replication.rules(&*self.meta).await?;
        for rule in rules.iter().filter(|r| r.enabled) {
            let Trigger::Schedule { every_secs } = rule.trigger else {
                continue;
            };
            let every = i64::try_from(every_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            let due = rule
                .scheduled
                .is_none_or(|at| now.unix_millis() >= at.unix_millis().saturating_add(every));
            if !due {
                continue;
            }
            let latest = self
                .meta
                .list_executions(rule.id, 1)
                .await
                .map_err(Error::metadata)?;
            if latest
                .first()
                .is_some_and(|e| e.status == ExecutionStatus::Running)
            {
                continue;
            }
            let won = self
                .meta
                .mark_rule_scheduled(rule.id, rule.scheduled, now)
                .await
                .map_err(Error::metadata)?;
            self.replication.forget_rules();
            if won {
                self.meta
                    .create_execution(rule.id, "schedule", None, now)
                    .await
                    .map_err(Error::metadata)?;
                info!(rule = %rule.name, "started a scheduled replication");
            }
        }
        Ok(())
    }

    fn lease_until(&self) -> Timestamp {
        let lease = i64::try_from(self.config.replication_lease.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_unix_millis(self.now().unix_millis().saturating_add(lease))
    }

    async fn claim_executions(self: &Arc<Self>) -> Result<()> {
        let state = &self.replication;
        loop {
            if state.running.lock().expect("replication lock").len()
                >= self.config.replication_executions
            {
                return Ok(());
            }
            let claimed = self
                .meta
                .claim_execution(&state.node, self.now(), self.lease_until())
                .await
                .map_err(Error::metadata)?;
            let Some(execution) = claimed else {
                return Ok(());
            };
            state
                .running
                .lock()
                .expect("replication lock")
                .insert(execution.id);
            let registry = self.clone();
            tokio::spawn(async move {
                let id = execution.id;
                registry.execute(execution).await;
                registry
                    .replication
                    .running
                    .lock()
                    .expect("replication lock")
                    .remove(&id);
                registry.replication.wake.notify_one();
            });
        }
    }

    async fn rule_by_id(&self, id: ReplicationRuleId) -> Result<Option<ReplicationRule>> {
        let rules = self
            .meta
            .list_replication_rules(None)
            .await
            .map_err(Error::metadata)?;
        Ok(rules.into_iter().find(|r| r.id == id))
    }

    /// Runs a claimed execution to its end (or until its lease is lost).
    async fn execute(&self, execution: ReplicationExecution) {
        let id = execution.id;
        let node = self.replication.node.clone();
        let (lost, lease) = tokio::sync::watch::channel(false);
        let renewer = {
            let (meta, every) = (self.meta.clone(), self.config.replication_lease / 3);
            let clock = self.config.clock.clone();
            let lease_ms =
                i64::try_from(self.config.replication_lease.as_millis()).unwrap_or(i64::MAX);
            let node = node.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let until = Timestamp::from_unix_millis(
                        clock.now().unix_millis().saturating_add(lease_ms),
                    );
                    match meta.renew_lease(id, &node, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _ = lost.send(true);
                            return;
                        }
                        Err(e) => {
                            warn!(execution = %id, error = %crate::error_chain(&Error::metadata(e)), "renewing a replication lease failed; retrying")
                        }
                    }
                }
            })
        };
        let outcome = self.execute_tasks(&execution, lease).await;
        renewer.abort();
        let error = match outcome {
            Ok(()) => None,
            Err(Stop::LeaseLost) => {
                info!(execution = %id, "this node lost the execution's lease; whoever holds it continues");
                return;
            }
            Err(Stop::Failed(message)) => Some(message),
        };
        match self
            .meta
            .finish_execution(id, &node, error.clone(), self.now())
            .await
        {
            Ok(Some(done)) => {
                self.replication.counts.executions.fetch_add(1, Relaxed);
                match done.status {
                    ExecutionStatus::Succeeded => {
                        info!(execution = %id, copied = done.artifacts_copied, skipped = done.artifacts_skipped, bytes = done.bytes, "replication finished")
                    }
                    status => {
                        error!(execution = %id, status = status.as_str(), copied = done.artifacts_copied, skipped = done.artifacts_skipped, failed = done.artifacts_failed, error = error.as_deref().unwrap_or("some artifacts failed; see the execution's tasks"), "replication finished with failures")
                    }
                }
            }
            Ok(None) => {
                info!(execution = %id, "the execution was taken over or deleted before it finished here")
            }
            Err(e) => {
                error!(execution = %id, error = %crate::error_chain(&Error::metadata(e)), "recording the end of a replication failed; another node will finish it when the lease lapses")
            }
        }
    }

    async fn execute_tasks(
        &self,
        execution: &ReplicationExecution,
        lease: tokio::sync::watch::Receiver<bool>,
    ) -> std::result::Result<(), Stop> {
        let id = execution.id;
        let node = &self.replication.node;
        let metadata = |e: berth_meta::Error| {
            Stop::Failed(crate::error_chain(&Error::metadata(e)).to_string())
        };
        let Some(rule) = self
            .rule_by_id(execution.rule)
            .await
            .map_err(|e| Stop::Failed(crate::error_chain(&e).to_string()))?
        else {
            return Err(Stop::LeaseLost);
        };
        let record = self
            .remote_record(rule.account, &rule.registry_name)
            .await
            .map_err(|e| {
                Stop::Failed(format!(
                    "remote registry {}: {}",
                    rule.registry_name,
                    crate::error_chain(&e)
                ))
            })?;
        let client = self.remote_client(&record).map_err(|e| {
            Stop::Failed(format!(
                "remote registry {}: {}",
                rule.registry_name,
                crate::error_chain(&e)
            ))
        })?;
        let copier = Copier {
            registry: self,
            client,
            rule: &rule,
            throttle: rule
                .bandwidth_limit
                .filter(|&b| b > 0)
                .map(|bytes_per_second| {
                    Arc::new(Throttle {
                        bytes_per_second,
                        next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
                    })
                }),
            sent_to: Mutex::new(HashMap::new()),
        };
        if !execution.planned {
            let tasks = copier.plan().await.map_err(Stop::Failed)?;
            info!(execution = %id, rule = %rule.name, tasks = tasks.len(), "planned a replication");
            if !self
                .meta
                .plan_execution(id, node, tasks)
                .await
                .map_err(metadata)?
            {
                return Err(Stop::LeaseLost);
            }
        }
        let pending = self
            .meta
            .execution_tasks(id, true)
            .await
            .map_err(metadata)?;
        let mut runs = futures::stream::iter(pending)
            .map(|task| {
                let copier = &copier;
                async move {
                    let state = copier.run(&task.task).await;
                    (task, state)
                }
            })
            .buffer_unordered(self.config.replication_concurrency.max(1));
        while let Some((task, state)) = runs.next().await {
            if *lease.borrow() {
                return Err(Stop::LeaseLost);
            }
            let counts = &self.replication.counts;
            match &state {
                TaskState::Copied { bytes } => {
                    counts.copied.fetch_add(1, Relaxed);
                    counts.bytes.fetch_add(*bytes, Relaxed);
                }
                TaskState::Skipped => {
                    counts.skipped.fetch_add(1, Relaxed);
                }
                TaskState::Failed { error } => {
                    counts.failed.fetch_add(1, Relaxed);
                    warn!(execution = %id, rule = %rule.name, image = %task.task.image, reference = %task.task.reference, %error, "replicating an artifact failed");
                }
                TaskState::Pending => {}
            }
            if !self
                .meta
                .finish_task(id, task.seq, node, state)
                .await
                .map_err(metadata)?
            {
                return Err(Stop::LeaseLost);
            }
        }
        Ok(())
    }

    /// Replication's counters on this node.
    pub fn replication_counts(&self) -> ReplicationCounts {
        self.replication.read()
    }
}
