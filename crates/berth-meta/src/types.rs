//! The records a `MetadataStore` keeps, and the inputs of its operations.

use std::collections::BTreeMap;
use std::fmt;

// The tenancy words are berth-model's, shared with berth-policy; re-exported here so that
// `berth_meta::types::*` is the whole vocabulary of a metadata backend.
pub use berth_model::{Access, AccountId, Permission, Timestamp};
use berth_model::{Digest, ImageName, Name, RegistryName, RepositoryName, Tag, UploadId};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A repository.
    RepositoryId
);
id!(
    /// An image.
    ImageId
);
id!(
    /// An artifact.
    ArtifactId
);
id!(
    /// A repository user (robot credential).
    RepositoryUserId
);
id!(
    /// A console user.
    ConsoleUserId
);
id!(
    /// A remote registry.
    RemoteRegistryId
);

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// A display name.
    pub name: String,
    /// When it was created.
    pub created: Timestamp,
}

/// A person who manages an account (or, without one, the whole system) in the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    /// Its id.
    pub id: ConsoleUserId,
    /// The account it manages; `None` for a system administrator.
    pub account: Option<AccountId>,
    /// Login name, unique.
    pub username: String,
    /// The argon2 hash of its password, in PHC string form.
    pub password_hash: String,
    /// Whether an administrator disabled it: it cannot log in, and has no sessions or tokens.
    pub disabled: bool,
    /// When it was created.
    pub created: Timestamp,
}

/// Changes to a console user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConsoleUserUpdate {
    /// A new argon2 hash of a new password.
    pub password_hash: Option<String>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// A logged-in console session; the browser holds its random id, the store only a hash of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the session id (the id is shown once, in the cookie).
    pub id_hash: Vec<u8>,
    /// Whose session it is.
    pub user: ConsoleUserId,
    /// When it was opened.
    pub created: Timestamp,
    /// When it ends, unless it is ended before.
    pub expires: Timestamp,
}

/// A console user's API token; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Keyed hash of the token (the token itself is shown once, never stored).
    pub token_hash: Vec<u8>,
    /// Whose token it is.
    pub user: ConsoleUserId,
    /// A label.
    pub description: String,
    /// When it was created.
    pub created: Timestamp,
    /// When it stops working, if ever.
    pub expires: Option<Timestamp>,
}

impl ApiToken {
    /// Its public id: the first 8 bytes of its hash, in hex (naming it reveals nothing of the
    /// token).
    pub fn id(&self) -> String {
        self.token_hash
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A namespace of an account holding images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// Its id.
    pub id: RepositoryId,
    /// The owning account.
    pub account: AccountId,
    /// Its globally unique name.
    pub name: RepositoryName,
    /// Who may pull anonymously.
    pub access: Access,
    /// The storage limit in bytes, if any.
    pub quota: Option<u64>,
    /// Bytes used: distinct blobs and manifests its artifacts reference.
    pub used: u64,
    /// How many images it holds (an image goes with its last artifact).
    pub image_count: u64,
    /// Whether deleting an artifact deletes its referrers too (signatures, SBOMs,
    /// attestations whose subject it is), so they neither linger nor hold quota. On by default.
    pub delete_orphan_referrers: bool,
    /// Set for a proxy repository: read-only, its images fetched from a remote registry.
    pub proxy: Option<Proxy>,
    /// When it was created.
    pub created: Timestamp,
}

/// What makes a repository a pull-through cache of a remote registry: `<repository>/<image>`
/// is fetched as `<namespace>/<image>` there. Set at creation, never changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The remote registry, of the repository's account.
    pub registry: RegistryName,
    /// The upstream prefix, if any.
    pub namespace: Option<ImageName>,
}

/// An endpoint berth talks to as a client (a pull-through cache's upstream, a replication
/// peer), owned by an account.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteRegistry {
    /// Its id.
    pub id: RemoteRegistryId,
    /// The owning account.
    pub account: AccountId,
    /// Its name, unique in the account.
    pub name: RegistryName,
    /// Its base URL (`https://registry-1.docker.io`).
    pub url: String,
    /// The user berth logs in as, if any.
    pub username: Option<String>,
    /// The password, sealed by the engine (never stored or shown in clear).
    pub sealed_password: Option<Vec<u8>>,
    /// Whether TLS certificates that do not verify are accepted.
    pub insecure: bool,
    /// When it was created.
    pub created: Timestamp,
}

impl fmt::Debug for RemoteRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteRegistry")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("username", &self.username)
            .field(
                "sealed_password",
                &self.sealed_password.as_ref().map(|_| "…"),
            )
            .field("insecure", &self.insecure)
            .field("created", &self.created)
            .finish()
    }
}

/// What creating a remote registry takes.
#[derive(Clone)]
pub struct NewRemoteRegistry {
    /// The owning account.
    pub account: AccountId,
    /// The name, unique in the account.
    pub name: RegistryName,
    /// Its base URL.
    pub url: String,
    /// The user berth logs in as, if any.
    pub username: Option<String>,
    /// The sealed password, if any.
    pub sealed_password: Option<Vec<u8>>,
    /// Whether TLS certificates that do not verify are accepted.
    pub insecure: bool,
}

impl fmt::Debug for NewRemoteRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRemoteRegistry")
            .field("account", &self.account)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// Changes to a remote registry; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct RemoteRegistryUpdate {
    /// A new URL.
    pub url: Option<String>,
    /// A new user (`Some(None)` removes it).
    pub username: Option<Option<String>>,
    /// A new sealed password (`Some(None)` removes it).
    pub sealed_password: Option<Option<Vec<u8>>>,
    /// Whether TLS certificates that do not verify are accepted.
    pub insecure: Option<bool>,
}

impl fmt::Debug for RemoteRegistryUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteRegistryUpdate")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// What creating a repository takes.
#[derive(Debug, Clone)]
pub struct NewRepository {
    /// The owning account.
    pub account: AccountId,
    /// The name, unique across all accounts.
    pub name: RepositoryName,
    /// Who may pull anonymously.
    pub access: Access,
    /// The storage limit in bytes, if any.
    pub quota: Option<u64>,
    /// See [`Repository::delete_orphan_referrers`].
    pub delete_orphan_referrers: bool,
    /// Makes it a proxy repository of a remote registry of the same account.
    pub proxy: Option<Proxy>,
}

/// Changes to a repository; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RepositoryUpdate {
    /// New access level.
    pub access: Option<Access>,
    /// New quota (`Some(None)` removes the limit).
    pub quota: Option<Option<u64>>,
    /// See [`Repository::delete_orphan_referrers`].
    pub delete_orphan_referrers: Option<bool>,
}

/// An OCI repository path inside a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Its id.
    pub id: ImageId,
    /// The repository it belongs to.
    pub repository: RepositoryId,
    /// Its name inside the repository.
    pub name: ImageName,
    /// How many artifacts it holds.
    pub artifact_count: u64,
    /// How many times it was pulled (a multi-platform pull counts once).
    pub pull_count: u64,
    /// Latest push.
    pub last_push: Option<Timestamp>,
    /// Latest pull.
    pub last_pull: Option<Timestamp>,
}

impl Image {
    /// The console's "last modified": the latest push or pull.
    pub fn last_modified(&self) -> Option<Timestamp> {
        self.last_push.max(self.last_pull)
    }
}

/// One manifest in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Its id.
    pub id: ArtifactId,
    /// The image it belongs to.
    pub image: ImageId,
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// The artifact type (referrers API), if any.
    pub artifact_type: Option<String>,
    /// The manifest's own size.
    pub manifest_size: u64,
    /// The manifest plus everything it references.
    pub total_size: u64,
    /// The manifest it refers to, if any.
    pub subject: Option<Digest>,
    /// The manifest's annotations (for the referrers API).
    pub annotations: BTreeMap<String, String>,
    /// Tags pointing at it, sorted.
    pub tags: Vec<Tag>,
    /// When it was (last) pushed.
    pub pushed_at: Timestamp,
    /// When it was last pulled.
    pub pulled_at: Option<Timestamp>,
    /// How many times it was pulled.
    pub pull_count: u64,
}

/// A blob or manifest an artifact references, with its size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobRef {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// Everything a manifest push records, in one transaction.
#[derive(Debug, Clone)]
pub struct Push {
    /// Where: repository and image (the image is created on its first push).
    pub name: Name,
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// The artifact type, if any.
    pub artifact_type: Option<String>,
    /// The manifest's own size.
    pub manifest_size: u64,
    /// The artifact's total size as shown in the console.
    pub total_size: u64,
    /// The manifest it refers to, if any.
    pub subject: Option<Digest>,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
    /// The blobs it references (config, layers); each must be a known blob, unless `cached`.
    pub blobs: Vec<BlobRef>,
    /// The child manifests it lists (an index); each must be an artifact of the same image,
    /// unless `cached`.
    pub children: Vec<Digest>,
    /// A proxy repository's cache records a manifest it fetched: its blobs and children are
    /// fetched when first pulled, so they need not be known yet (they count at the sizes the
    /// manifest gives, as for any push).
    pub cached: bool,
    /// The tag to point at it, if pushed by tag.
    pub tag: Option<Tag>,
    /// Who pushed (for history).
    pub actor: String,
    /// When.
    pub at: Timestamp,
}

/// What a push changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// The artifact as stored.
    pub artifact: Artifact,
    /// Whether the artifact is new in its image (not a re-push of the same digest).
    pub created: bool,
    /// Bytes the repository's usage grew by.
    pub added: u64,
    /// The repository's usage after the push.
    pub used: u64,
}

/// What deleting an artifact or a tag changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Tags removed.
    pub tags: Vec<Tag>,
    /// Artifacts removed (none for a tag delete).
    pub artifacts: Vec<Digest>,
    /// Bytes the repository's usage dropped by.
    pub freed: u64,
}

/// A blob whose digest was verified into storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// When it was first recorded.
    pub first_seen: Timestamp,
    /// When it was last recorded (uploaded or mounted again).
    pub last_seen: Timestamp,
}

/// Pulls of an image counted in memory since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagePulls {
    /// The image.
    pub image: ImageId,
    /// Pulls to add.
    pub count: u64,
    /// The latest of them.
    pub last: Timestamp,
}

/// Pulls of one artifact counted in memory since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactPulls {
    /// The artifact.
    pub artifact: ArtifactId,
    /// Pulls to add.
    pub count: u64,
    /// The latest of them.
    pub last: Timestamp,
}

/// An upload in progress, and which image of which repository it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    /// The session id (shared with the blob store).
    pub id: UploadId,
    /// The repository it belongs to, by identity: a repository deleted and created again under
    /// the same name is another repository, which cannot continue this session.
    pub repository: RepositoryId,
    /// The image it uploads into.
    pub name: Name,
    /// Bytes the session holds in storage, as last noted: they count against the repository's
    /// quota until the session is committed or removed.
    pub received: u64,
    /// Whether its last chunk was shorter than the blob store's minimum chunk: then it must have
    /// been the last one, and another chunk is refused.
    pub short_chunk: bool,
    /// When it started.
    pub started: Timestamp,
    /// When it last received bytes.
    pub last_activity: Timestamp,
}

/// What a repository's open upload sessions hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadUsage {
    /// How many sessions are open.
    pub sessions: u64,
    /// The bytes they hold.
    pub bytes: u64,
}

/// A robot credential for `docker login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryUser {
    /// Its id.
    pub id: RepositoryUserId,
    /// The owning account.
    pub account: AccountId,
    /// Login name, always prefixed with the account id; unique.
    pub name: String,
    /// Keyed hash of the secret (the secret is shown once, never stored).
    pub secret_hash: Vec<u8>,
    /// A description.
    pub description: String,
    /// When it locks, if ever. An expired user is kept, locked, until extended.
    pub expires: Option<Timestamp>,
    /// Whether an administrator disabled it.
    pub disabled: bool,
    /// Its permissions, sorted by repository name.
    pub permissions: Vec<(RepositoryName, Permission)>,
    /// When it was created.
    pub created: Timestamp,
}

/// What creating a repository user takes.
#[derive(Debug, Clone)]
pub struct NewRepositoryUser {
    /// The owning account.
    pub account: AccountId,
    /// Login name (account-prefixed by the caller).
    pub name: String,
    /// Keyed hash of the secret.
    pub secret_hash: Vec<u8>,
    /// A description.
    pub description: String,
    /// Expiry, if any.
    pub expires: Option<Timestamp>,
    /// Permissions; each repository must belong to the account.
    pub permissions: Vec<(RepositoryName, Permission)>,
}

/// Changes to a repository user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RepositoryUserUpdate {
    /// New description.
    pub description: Option<String>,
    /// New expiry (`Some(None)`: never).
    pub expires: Option<Option<Timestamp>>,
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// Replace every permission.
    pub permissions: Option<Vec<(RepositoryName, Permission)>>,
    /// Replace the secret hash.
    pub secret_hash: Option<Vec<u8>>,
}

/// What a history event records: a closed set, stored as its [`as_str`](Self::as_str) text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HistoryAction {
    /// The repository was created.
    Create,
    /// The repository's settings changed.
    Update,
    /// A manifest was pushed (and tagged, when pushed by tag).
    Push,
    /// An artifact was deleted (with its tags).
    DeleteArtifact,
    /// An image was deleted (with its artifacts and tags).
    DeleteImage,
    /// A tag was deleted.
    DeleteTag,
    /// A repository user was given a permission here (a new user, or a new grant).
    AddUser,
    /// A repository user with a permission here changed: its permission, expiry, description,
    /// disabled flag or secret.
    ChangeUser,
    /// A repository user lost its permission here (the grant withdrawn, or the user deleted).
    RemoveUser,
}

impl HistoryAction {
    /// Every action.
    pub const ALL: [HistoryAction; 9] = [
        HistoryAction::Create,
        HistoryAction::Update,
        HistoryAction::Push,
        HistoryAction::DeleteArtifact,
        HistoryAction::DeleteImage,
        HistoryAction::DeleteTag,
        HistoryAction::AddUser,
        HistoryAction::ChangeUser,
        HistoryAction::RemoveUser,
    ];

    /// The stored and displayed text (`push`, `delete_tag`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            HistoryAction::Create => "create",
            HistoryAction::Update => "update",
            HistoryAction::Push => "push",
            HistoryAction::DeleteArtifact => "delete_artifact",
            HistoryAction::DeleteImage => "delete_image",
            HistoryAction::DeleteTag => "delete_tag",
            HistoryAction::AddUser => "add_user",
            HistoryAction::ChangeUser => "change_user",
            HistoryAction::RemoveUser => "remove_user",
        }
    }
}

impl fmt::Display for HistoryAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no [`HistoryAction`] (a row from a newer version, or a corrupt one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown history action {0:?}")]
pub struct UnknownHistoryAction(pub String);

impl std::str::FromStr for HistoryAction {
    type Err = UnknownHistoryAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HistoryAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownHistoryAction(s.chars().take(40).collect()))
    }
}

/// What happened, for a repository's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// When.
    pub at: Timestamp,
    /// Who (a user name, `admin`, `system`).
    pub actor: String,
    /// What.
    pub action: HistoryAction,
    /// In which repository.
    pub repository: RepositoryName,
    /// In which image, if any.
    pub image: Option<ImageName>,
    /// On what (a digest or tag), if any.
    pub target: Option<String>,
    /// More, if any.
    pub detail: Option<String>,
}

/// A console page: 1-based page number and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: u32,
    /// Items per page (at least 1).
    pub size: u32,
}

impl Page {
    /// The first `size` items.
    pub const fn first(size: u32) -> Self {
        Page { page: 1, size }
    }

    /// How many items precede this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.max(1) - 1) * u64::from(self.size.max(1))
    }

    /// Items per page (at least 1).
    pub fn limit(&self) -> u64 {
        u64::from(self.size.max(1))
    }
}

/// One page of items and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// The number of items over all pages.
    pub total: u64,
}

/// Which repositories a catalog listing may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogScope {
    /// Every repository (system administrator).
    All,
    /// Public repositories, plus these.
    Visible(Vec<RepositoryId>),
}

#[cfg(test)]
mod history_tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_text() {
        for action in HistoryAction::ALL {
            assert_eq!(action.as_str().parse(), Ok(action));
        }
        assert!("note".parse::<HistoryAction>().is_err());
    }
}

// --- replication ---

id!(
    /// A replication rule.
    ReplicationRuleId
);
id!(
    /// A replication execution.
    ExecutionId
);

/// Which way a replication rule copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From a repository of this registry to the remote registry.
    Push,
    /// From the remote registry into a repository of this registry.
    Pull,
}

impl Direction {
    /// `push` or `pull`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Push => "push",
            Direction::Pull => "pull",
        }
    }

    /// The direction named by [`Direction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "push" => Some(Direction::Push),
            "pull" => Some(Direction::Pull),
            _ => None,
        }
    }
}

/// What starts an execution of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Only a person or a program, through the management API.
    Manual,
    /// Each push (and, with delete propagation, each delete) at the source: push rules only.
    Event,
    /// Every `every_secs` seconds, an execution that reconciles everything that matches.
    Schedule {
        /// The interval in seconds, at least 1.
        every_secs: u64,
    },
}

impl Trigger {
    /// `manual`, `event` or `schedule`, as stored and shown.
    pub fn kind(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Event => "event",
            Trigger::Schedule { .. } => "schedule",
        }
    }

    /// The interval of a schedule, else `None`; with [`Trigger::kind`], what a backend stores.
    pub fn every_secs(self) -> Option<u64> {
        match self {
            Trigger::Schedule { every_secs } => Some(every_secs),
            _ => None,
        }
    }

    /// The trigger a backend stored as [`Trigger::kind`] and [`Trigger::every_secs`].
    pub fn from_parts(kind: &str, every_secs: Option<u64>) -> Option<Self> {
        match (kind, every_secs) {
            ("manual", _) => Some(Trigger::Manual),
            ("event", _) => Some(Trigger::Event),
            ("schedule", Some(every_secs)) if every_secs > 0 => {
                Some(Trigger::Schedule { every_secs })
            }
            _ => None,
        }
    }
}

/// A replication rule: what to copy between a repository here and a remote registry, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationRule {
    /// Its id.
    pub id: ReplicationRuleId,
    /// The owning account.
    pub account: AccountId,
    /// Its name, unique in the account.
    pub name: String,
    /// Which way it copies.
    pub direction: Direction,
    /// The remote registry (of the same account).
    pub registry: RemoteRegistryId,
    /// The remote registry's name.
    pub registry_name: RegistryName,
    /// Push: a repository here, optionally `/image-glob`. Pull: a name on the remote,
    /// optionally ending in an image glob.
    pub source: String,
    /// Push: a repository or prefix on the remote. Pull: a repository here.
    pub destination: String,
    /// Only tags matching this glob are copied; `None` copies every tag.
    pub tag_filter: Option<String>,
    /// What starts an execution.
    pub trigger: Trigger,
    /// Whether a delete at the source deletes at the destination.
    pub delete_propagation: bool,
    /// Whether referrers (signatures, SBOMs) go with their subject.
    pub copy_referrers: bool,
    /// Whether it runs at all.
    pub enabled: bool,
    /// The most bytes per second its copies send, `None` for no limit.
    pub bandwidth_limit: Option<u64>,
    /// When it was created.
    pub created: Timestamp,
    /// When the scheduler last started an execution of it.
    pub scheduled: Option<Timestamp>,
}

/// What creating a replication rule takes (see [`ReplicationRule`] for the fields).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct NewReplicationRule {
    pub account: AccountId,
    pub name: String,
    pub direction: Direction,
    pub registry: RemoteRegistryId,
    pub source: String,
    pub destination: String,
    pub tag_filter: Option<String>,
    pub trigger: Trigger,
    pub delete_propagation: bool,
    pub copy_referrers: bool,
    pub enabled: bool,
    pub bandwidth_limit: Option<u64>,
}

/// A change to a replication rule: each `Some` replaces that field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ReplicationRuleUpdate {
    pub direction: Option<Direction>,
    pub registry: Option<RemoteRegistryId>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub tag_filter: Option<Option<String>>,
    pub trigger: Option<Trigger>,
    pub delete_propagation: Option<bool>,
    pub copy_referrers: Option<bool>,
    pub enabled: Option<bool>,
    pub bandwidth_limit: Option<Option<u64>>,
}

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    /// Not finished: planned or being copied, on some node or waiting for one.
    Running,
    /// Every task copied or skipped.
    Succeeded,
    /// Nothing copied or skipped and something failed, or the plan itself failed.
    Failed,
    /// Some tasks failed, others did not.
    Partial,
}

impl ExecutionStatus {
    /// `running`, `succeeded`, `failed` or `partial`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Partial => "partial",
        }
    }

    /// The status named by [`ExecutionStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(ExecutionStatus::Running),
            "succeeded" => Some(ExecutionStatus::Succeeded),
            "failed" => Some(ExecutionStatus::Failed),
            "partial" => Some(ExecutionStatus::Partial),
            _ => None,
        }
    }

    /// The status of a finished execution with these counts: `failed` when nothing was
    /// copied or skipped but something failed (or `error` is set), `partial` when some failed,
    /// else `succeeded`.
    pub fn of(copied: u64, skipped: u64, failed: u64, error: bool) -> Self {
        if error || (failed > 0 && copied + skipped == 0) {
            ExecutionStatus::Failed
        } else if failed > 0 {
            ExecutionStatus::Partial
        } else {
            ExecutionStatus::Succeeded
        }
    }
}

/// A node's claim on an execution, until a time: nobody else runs it before then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The node (an opaque id, unique per process).
    pub owner: String,
    /// When the claim lapses unless renewed.
    pub until: Timestamp,
}

/// One run of a rule: its tasks and their outcome so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationExecution {
    /// Its id.
    pub id: ExecutionId,
    /// The rule it runs.
    pub rule: ReplicationRuleId,
    /// `manual`, `event` or `schedule`: what started it.
    pub trigger: String,
    /// Where it is.
    pub status: ExecutionStatus,
    /// Whether its tasks are all known (an execution that reconciles lists the source first).
    pub planned: bool,
    /// When it started.
    pub started: Timestamp,
    /// When it finished.
    pub finished: Option<Timestamp>,
    /// Tasks planned.
    pub artifacts_total: u64,
    /// Tasks that copied something.
    pub artifacts_copied: u64,
    /// Tasks that found the destination up to date.
    pub artifacts_skipped: u64,
    /// Tasks that failed.
    pub artifacts_failed: u64,
    /// Bytes sent to the destination (blobs and manifests).
    pub bytes: u64,
    /// Why the whole execution failed (the plan could not be made), when it did.
    pub error: Option<String>,
    /// Who runs it now, while it runs.
    pub lease: Option<Lease>,
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskAction {
    /// Copy the artifact (with its children and, per the rule, its referrers).
    Copy,
    /// Delete it at the destination.
    Delete,
}

impl TaskAction {
    /// `copy` or `delete`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskAction::Copy => "copy",
            TaskAction::Delete => "delete",
        }
    }

    /// The action named by [`TaskAction::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "copy" => Some(TaskAction::Copy),
            "delete" => Some(TaskAction::Delete),
            _ => None,
        }
    }
}

/// A task to plan: one artifact of the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NewTask {
    /// The image, named as on the source side (push: the image in the source repository;
    /// pull: the full name on the remote).
    pub image: String,
    /// A tag or a digest.
    pub reference: String,
    /// What to do.
    pub action: TaskAction,
}

/// Where a task is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Not done yet.
    Pending,
    /// Done: this many bytes were sent.
    Copied {
        /// Bytes sent.
        bytes: u64,
    },
    /// Done: the destination had it already (or, for a delete, did not have it).
    Skipped,
    /// Failed, for this reason.
    Failed {
        /// What went wrong, for people.
        error: String,
    },
}

/// A task of an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationTask {
    /// Its number in the execution, from 0 in planning order.
    pub seq: u64,
    /// What it is.
    pub task: NewTask,
    /// Where it is.
    pub state: TaskState,
}
