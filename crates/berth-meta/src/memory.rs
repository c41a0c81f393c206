//! An in-memory `MetadataStore`: for tests, examples and embedders that need no persistence.
//! One lock around everything makes every operation a transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use berth_model::{Digest, ImageName, Name, RegistryName, RepositoryName, Tag, UploadId};

use crate::types::*;
use crate::{AccountStore, Entity, Error, RegistryStore, Result, accounting};

/// Metadata held in memory. Clones share the same contents.
#[derive(Debug, Clone, Default)]
pub struct MemoryMetadata {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Clone)]
struct ArtifactRow {
    artifact: Artifact,
    /// Distinct digests it references for usage: its blobs and its own manifest.
    refs: BTreeSet<BlobRef>,
}

#[derive(Debug, Default)]
struct State {
    next_id: i64,
    accounts: BTreeMap<AccountId, Account>,
    console_users: BTreeMap<String, ConsoleUser>,
    tokens: HashMap<Vec<u8>, ApiToken>,
    sessions: HashMap<Vec<u8>, ConsoleSession>,
    repositories: BTreeMap<RepositoryName, Repository>,
    images: BTreeMap<(RepositoryName, ImageName), Image>,
    artifacts: BTreeMap<ArtifactId, ArtifactRow>,
    tags: BTreeMap<(ImageId, Tag), ArtifactId>,
    /// Per repository and digest: how many artifacts reference it.
    repo_refs: HashMap<(RepositoryId, Digest), u64>,
    /// Per digest, over all repositories: how many artifacts reference it.
    global_refs: HashMap<Digest, u64>,
    blobs: HashMap<Digest, Blob>,
    tombstones: BTreeSet<Digest>,
    links: BTreeSet<(RepositoryId, Digest)>,
    uploads: HashMap<UploadId, UploadSession>,
    users: BTreeMap<String, RepositoryUser>,
    history: Vec<HistoryEvent>,
    registries: BTreeMap<(AccountId, RegistryName), RemoteRegistry>,
    rules: BTreeMap<(AccountId, String), ReplicationRule>,
    executions: BTreeMap<ExecutionId, (ReplicationExecution, Vec<ReplicationTask>)>,
}

impl State {
    fn registry_by_id(&self, account: AccountId, id: RemoteRegistryId) -> Result<RegistryName> {
        self.registries
            .values()
            .find(|r| r.account == account && r.id == id)
            .map(|r| r.name.clone())
            .ok_or_else(|| Error::not_found(Entity::RemoteRegistry, id))
    }

    /// The running execution `id` when `owner` holds its lease.
    fn held(
        &mut self,
        id: ExecutionId,
        owner: &str,
    ) -> Option<&mut (ReplicationExecution, Vec<ReplicationTask>)> {
        self.executions.get_mut(&id).filter(|(e, _)| {
            e.status == ExecutionStatus::Running
                && e.lease.as_ref().is_some_and(|l| l.owner == owner)
        })
    }
}

impl MemoryMetadata {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every operation validates before it mutates, so a panic cannot leave half a change.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `name` contains `needle`, ASCII letters matching either case (the contract of
/// `list_images`' filter).
fn contains_ignoring_ascii_case(name: &str, needle: &str) -> bool {
    name.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

fn page_of<T: Clone>(all: Vec<T>, page: Page) -> Paged<T> {
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit()).unwrap_or(usize::MAX))
        .collect();
    Paged { items, total }
}

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn repository(&self, name: &RepositoryName) -> Result<&Repository> {
        self.repositories
            .get(name)
            .ok_or_else(|| Error::not_found(Entity::Repository, name))
    }

    fn image(&self, name: &Name) -> Option<&Image> {
        self.images
            .get(&(name.repository().clone(), name.image().clone()))
    }

    fn artifact_id(&self, image: ImageId, digest: &Digest) -> Option<ArtifactId> {
        self.artifacts
            .iter()
            .find(|(_, row)| row.artifact.image == image && row.artifact.digest == *digest)
            .map(|(id, _)| *id)
    }

    /// The artifact with its current tags.
    fn artifact(&self, id: ArtifactId) -> Option<Artifact> {
        let row = self.artifacts.get(&id)?;
        let mut artifact = row.artifact.clone();
        artifact.tags = self
            .tags
            .iter()
            .filter(|((image, _), a)| *image == artifact.image && **a == id)
            .map(|((_, tag), _)| tag.clone())
            .collect();
        Some(artifact)
    }

    /// Ends a console user's sessions and deletes its API tokens.
    fn end_sessions_and_tokens(&mut self, user: ConsoleUserId) {
        self.sessions.retain(|_, s| s.user != user);
        self.tokens.retain(|_, t| t.user != user);
    }

    fn image_row(&self, id: ImageId) -> Option<(RepositoryName, ImageName)> {
        self.images
            .iter()
            .find(|(_, image)| image.id == id)
            .map(|(key, _)| key.clone())
    }

    /// Removes one artifact with its tags and references, adding what went to `deletion`; its
    /// digest, or `None` when it was gone already.
    fn remove_artifact(
        &mut self,
        repository: RepositoryId,
        id: ArtifactId,
        deletion: &mut Deletion,
    ) -> Option<Digest> {
        let row = self.artifacts.remove(&id)?;
        let tags: Vec<Tag> = self
            .tags
            .iter()
            .filter(|(_, a)| **a == id)
            .map(|((_, tag), _)| tag.clone())
            .collect();
        for tag in &tags {
            self.tags.remove(&(row.artifact.image, tag.clone()));
        }
        deletion.tags.extend(tags);
        for r in &row.refs {
            let key = (repository, r.digest.clone());
            let count = self.repo_refs.get(&key).copied().unwrap_or(0);
            if count <= 1 {
                self.repo_refs.remove(&key);
                deletion.freed += r.size;
            } else {
                self.repo_refs.insert(key, count - 1);
            }
            let global = self.global_refs.get(&r.digest).copied().unwrap_or(0);
            if global <= 1 {
                self.global_refs.remove(&r.digest);
            } else {
                self.global_refs.insert(r.digest.clone(), global - 1);
            }
        }
        deletion.artifacts.push(row.artifact.digest.clone());
        Some(row.artifact.digest)
    }

    /// After artifacts of `name` were removed: the usage drops, and an image left without
    /// artifacts goes.
    fn finish_deletion(&mut self, name: &Name, deletion: &Deletion) {
        let key = (name.repository().clone(), name.image().clone());
        self.refresh_artifact_count(&key);
        let empty = self.images.get(&key).is_some_and(|i| i.artifact_count == 0);
        if empty {
            self.images.remove(&key);
        }
        if let Some(repo) = self.repositories.get_mut(name.repository()) {
            repo.used = repo.used.saturating_sub(deletion.freed);
            if empty {
                repo.image_count = repo.image_count.saturating_sub(1);
            }
        }
    }

    fn refresh_artifact_count(&mut self, key: &(RepositoryName, ImageName)) {
        if let Some(image) = self.images.get(key) {
            let id = image.id;
            let count = self
                .artifacts
                .values()
                .filter(|r| r.artifact.image == id)
                .count() as u64;
            if let Some(image) = self.images.get_mut(key) {
                image.artifact_count = count;
            }
        }
    }

    fn check_permissions(
        &self,
        account: AccountId,
        permissions: &[(RepositoryName, Permission)],
    ) -> Result<Vec<(RepositoryName, Permission)>> {
        let mut out = BTreeMap::new();
        for (name, permission) in permissions {
            let repository = self.repository(name)?;
            if repository.account != account {
                return Err(Error::ForeignRepository(name.clone()));
            }
            out.insert(name.clone(), *permission);
        }
        Ok(out.into_iter().collect())
    }
}

#[async_trait]
impl AccountStore for MemoryMetadata {
    async fn create_account(&self, id: AccountId, name: &str, at: Timestamp) -> Result<Account> {
        let mut s = self.lock();
        if s.accounts.contains_key(&id) {
            return Err(Error::already_exists(Entity::Account, id));
        }
        let account = Account {
            id,
            name: name.to_owned(),
            created: at,
        };
        s.accounts.insert(id, account.clone());
        Ok(account)
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        Ok(self.lock().accounts.get(&id).cloned())
    }

    async fn list_accounts(&self, page: Page) -> Result<Paged<Account>> {
        Ok(page_of(
            self.lock().accounts.values().cloned().collect(),
            page,
        ))
    }

    async fn create_console_user(
        &self,
        account: Option<AccountId>,
        username: &str,
        password_hash: &str,
        at: Timestamp,
    ) -> Result<ConsoleUser> {
        let mut s = self.lock();
        if s.console_users.contains_key(username) {
            return Err(Error::already_exists(Entity::ConsoleUser, username));
        }
        if let Some(account) = account
            && !s.accounts.contains_key(&account)
        {
            return Err(Error::not_found(Entity::Account, account));
        }
        let user = ConsoleUser {
            id: ConsoleUserId(s.id()),
            account,
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            disabled: false,
            created: at,
        };
        s.console_users.insert(username.to_owned(), user.clone());
        Ok(user)
    }

    async fn console_user(&self, username: &str) -> Result<Option<ConsoleUser>> {
        Ok(self.lock().console_users.get(username).cloned())
    }

    async fn console_user_by_id(&self, id: ConsoleUserId) -> Result<Option<ConsoleUser>> {
        Ok(self
            .lock()
            .console_users
            .values()
            .find(|u| u.id == id)
            .cloned())
    }

    async fn list_console_users(
        &self,
        account: Option<AccountId>,
        page: Page,
    ) -> Result<Paged<ConsoleUser>> {
        let s = self.lock();
        let all = s
            .console_users
            .values()
            .filter(|u| u.account == account)
            .cloned()
            .collect();
        Ok(page_of(all, page))
    }

    async fn update_console_user(
        &self,
        id: ConsoleUserId,
        update: ConsoleUserUpdate,
    ) -> Result<ConsoleUser> {
        let mut s = self.lock();
        let user = s
            .console_users
            .values_mut()
            .find(|u| u.id == id)
            .ok_or_else(|| Error::not_found(Entity::ConsoleUser, id))?;
        let ends_sessions = update.password_hash.is_some() || update.disabled == Some(true);
        if let Some(hash) = update.password_hash {
            user.password_hash = hash;
        }
        if let Some(disabled) = update.disabled {
            user.disabled = disabled;
        }
        let user = user.clone();
        if ends_sessions {
            s.end_sessions_and_tokens(id);
        }
        Ok(user)
    }

    async fn delete_console_user(&self, id: ConsoleUserId) -> Result<()> {
        let mut s = self.lock();
        let name = s
            .console_users
            .values()
            .find(|u| u.id == id)
            .map(|u| u.username.clone())
            .ok_or_else(|| Error::not_found(Entity::ConsoleUser, id))?;
        s.end_sessions_and_tokens(id);
        s.console_users.remove(&name);
        Ok(())
    }

    async fn create_console_session(&self, session: ConsoleSession, keep: u32) -> Result<()> {
        let mut s = self.lock();
        if !s.console_users.values().any(|u| u.id == session.user) {
            return Err(Error::not_found(Entity::ConsoleUser, session.user));
        }
        let now = session.created;
        s.sessions
            .retain(|_, other| other.user != session.user || other.expires > now);
        let mut theirs: Vec<(Timestamp, Vec<u8>)> = s
            .sessions
            .values()
            .filter(|other| other.user == session.user)
            .map(|other| (other.created, other.id_hash.clone()))
            .collect();
        theirs.sort();
        let excess = (theirs.len() + 1).saturating_sub(keep.max(1) as usize);
        for (_, hash) in theirs.into_iter().take(excess) {
            s.sessions.remove(&hash);
        }
        s.sessions.insert(session.id_hash.clone(), session);
        Ok(())
    }

    async fn console_session(&self, id_hash: &[u8]) -> Result<Option<ConsoleSession>> {
        Ok(self.lock().sessions.get(id_hash).cloned())
    }

    async fn delete_console_session(&self, id_hash: &[u8]) -> Result<bool> {
        Ok(self.lock().sessions.remove(id_hash).is_some())
    }

    async fn create_api_token(&self, token: ApiToken) -> Result<()> {
        let mut s = self.lock();
        if !s.console_users.values().any(|u| u.id == token.user) {
            return Err(Error::not_found(Entity::ConsoleUser, token.user));
        }
        s.tokens.insert(token.token_hash.clone(), token);
        Ok(())
    }

    async fn api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        Ok(self.lock().tokens.get(token_hash).cloned())
    }

    async fn list_api_tokens(&self, user: ConsoleUserId) -> Result<Vec<ApiToken>> {
        let s = self.lock();
        let mut out: Vec<ApiToken> = s
            .tokens
            .values()
            .filter(|t| t.user == user)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then_with(|| a.token_hash.cmp(&b.token_hash))
        });
        Ok(out)
    }

    async fn delete_api_token(&self, token_hash: &[u8]) -> Result<bool> {
        Ok(self.lock().tokens.remove(token_hash).is_some())
    }

    async fn create_repository_user(
        &self,
        new: NewRepositoryUser,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        let mut s = self.lock();
        if !s.accounts.contains_key(&new.account) {
            return Err(Error::not_found(Entity::Account, new.account));
        }
        if s.users.contains_key(&new.name) {
            return Err(Error::already_exists(Entity::RepositoryUser, &new.name));
        }
        let permissions = s.check_permissions(new.account, &new.permissions)?;
        let user = RepositoryUser {
            id: RepositoryUserId(s.id()),
            account: new.account,
            name: new.name.clone(),
            secret_hash: new.secret_hash,
            description: new.description,
            expires: new.expires,
            disabled: false,
            permissions,
            created: at,
        };
        s.users.insert(new.name, user.clone());
        let events = accounting::user_history(&user.name, &[], &user.permissions, None, actor, at);
        s.history.extend(events);
        Ok(user)
    }

    async fn repository_user(&self, name: &str) -> Result<Option<RepositoryUser>> {
        Ok(self.lock().users.get(name).cloned())
    }

    async fn update_repository_user(
        &self,
        name: &str,
        update: RepositoryUserUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        let changed = accounting::user_change(&update);
        let mut s = self.lock();
        let account = s
            .users
            .get(name)
            .map(|u| u.account)
            .ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
        let permissions = update
            .permissions
            .as_ref()
            .map(|p| s.check_permissions(account, p))
            .transpose()?;
        let user = s
            .users
            .get_mut(name)
            .ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
        let before = user.permissions.clone();
        if let Some(description) = update.description {
            user.description = description;
        }
        if let Some(expires) = update.expires {
            user.expires = expires;
        }
        if let Some(disabled) = update.disabled {
            user.disabled = disabled;
        }
        if let Some(permissions) = permissions {
            user.permissions = permissions;
        }
        if let Some(secret_hash) = update.secret_hash {
            user.secret_hash = secret_hash;
        }
        let user = user.clone();
        let events = accounting::user_history(
            name,
            &before,
            &user.permissions,
            changed.as_deref(),
            actor,
            at,
        );
        s.history.extend(events);
        Ok(user)
    }

    async fn list_repository_users(
        &self,
        account: AccountId,
        page: Page,
    ) -> Result<Paged<RepositoryUser>> {
        let s = self.lock();
        let all = s
            .users
            .values()
            .filter(|u| u.account == account)
            .cloned()
            .collect();
        Ok(page_of(all, page))
    }

    async fn delete_repository_user(&self, name: &str, actor: &str, at: Timestamp) -> Result<()> {
        let mut s = self.lock();
        let user = s
            .users
            .remove(name)
            .ok_or_else(|| Error::not_found(Entity::RepositoryUser, name))?;
        let events = accounting::user_history(name, &user.permissions, &[], None, actor, at);
        s.history.extend(events);
        Ok(())
    }
}

#[async_trait]
impl RegistryStore for MemoryMetadata {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn create_repository(
        &self,
        new: NewRepository,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        let mut s = self.lock();
        if !s.accounts.contains_key(&new.account) {
            return Err(Error::not_found(Entity::Account, new.account));
        }
        if s.repositories.contains_key(&new.name) {
            return Err(Error::already_exists(Entity::Repository, &new.name));
        }
        if let Some(proxy) = &new.proxy
            && !s
                .registries
                .contains_key(&(new.account, proxy.registry.clone()))
        {
            return Err(Error::not_found(Entity::RemoteRegistry, &proxy.registry));
        }
        let repository = Repository {
            id: RepositoryId(s.id()),
            account: new.account,
            name: new.name.clone(),
            access: new.access,
            quota: new.quota,
            used: 0,
            image_count: 0,
            delete_orphan_referrers: new.delete_orphan_referrers,
            proxy: new.proxy.clone(),
            created: at,
        };
        s.repositories.insert(new.name.clone(), repository.clone());
        s.history.push(HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::Create,
            repository: new.name,
            image: None,
            target: None,
            detail: Some(format!("access {}", new.access.as_str())),
        });
        Ok(repository)
    }

    async fn repository(&self, name: &RepositoryName) -> Result<Option<Repository>> {
        Ok(self.lock().repositories.get(name).cloned())
    }

    async fn update_repository(
        &self,
        name: &RepositoryName,
        update: RepositoryUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        let mut s = self.lock();
        let repository = s
            .repositories
            .get_mut(name)
            .ok_or_else(|| Error::not_found(Entity::Repository, name))?;
        if let Some(access) = update.access {
            repository.access = access;
        }
        if let Some(quota) = update.quota {
            repository.quota = quota;
        }
        if let Some(delete) = update.delete_orphan_referrers {
            repository.delete_orphan_referrers = delete;
        }
        let updated = repository.clone();
        s.history.push(HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::Update,
            repository: name.clone(),
            image: None,
            target: None,
            detail: None,
        });
        Ok(updated)
    }

    async fn list_repositories(&self, account: AccountId, page: Page) -> Result<Paged<Repository>> {
        let s = self.lock();
        let all = s
            .repositories
            .values()
            .filter(|r| r.account == account)
            .cloned()
            .collect();
        Ok(page_of(all, page))
    }

    async fn delete_repository(
        &self,
        name: &RepositoryName,
        _actor: &str,
        _at: Timestamp,
    ) -> Result<Vec<UploadId>> {
        let mut s = self.lock();
        let id = s.repository(name)?.id;
        let images = s
            .images
            .iter()
            .filter(|((r, _), image)| r == name && image.artifact_count > 0)
            .count() as u64;
        if images > 0 {
            return Err(Error::RepositoryNotEmpty {
                name: name.clone(),
                images,
            });
        }
        // No artifacts: no tags, no references, no usage; what is left is the empty images.
        s.images.retain(|(r, _), _| r != name);
        s.links.retain(|(r, _)| *r != id);
        for user in s.users.values_mut() {
            user.permissions.retain(|(r, _)| r != name);
        }
        s.history.retain(|e| e.repository != *name);
        s.repositories.remove(name);
        let mut sessions: Vec<UploadId> = s
            .uploads
            .values()
            .filter(|u| u.repository == id)
            .map(|u| u.id)
            .collect();
        sessions.sort();
        s.uploads.retain(|_, u| u.repository != id);
        Ok(sessions)
    }

    async fn image(&self, name: &Name) -> Result<Option<Image>> {
        Ok(self.lock().image(name).cloned())
    }

    async fn list_images(
        &self,
        repository: &RepositoryName,
        name_contains: Option<&str>,
        page: Page,
    ) -> Result<Paged<Image>> {
        let s = self.lock();
        let all = s
            .images
            .iter()
            .filter(|((r, _), _)| r == repository)
            .filter(|((_, i), _)| {
                name_contains.is_none_or(|needle| contains_ignoring_ascii_case(i.as_str(), needle))
            })
            .map(|(_, image)| image.clone())
            .collect();
        Ok(page_of(all, page))
    }

    async fn catalog(
        &self,
        scope: &CatalogScope,
        n: usize,
        last: Option<&Name>,
    ) -> Result<Vec<Name>> {
        let s = self.lock();
        let visible = |r: &RepositoryName| match scope {
            CatalogScope::All => true,
            CatalogScope::Visible(ids) => s
                .repositories
                .get(r)
                .is_some_and(|repo| repo.access == Access::Public || ids.contains(&repo.id)),
        };
        let last = last.map(ToString::to_string);
        let mut names: Vec<(String, Name)> = s
            .images
            .keys()
            .filter(|(r, _)| visible(r))
            .filter_map(|(r, i)| Name::new(r.clone(), i.clone()).ok())
            .map(|name| (name.to_string(), name))
            .filter(|(text, _)| last.as_ref().is_none_or(|last| text > last))
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(names.into_iter().take(n).map(|(_, name)| name).collect())
    }

    async fn record_push(&self, push: Push) -> Result<PushOutcome> {
        let mut s = self.lock();
        let repository = s.repository(push.name.repository())?.clone();
        if let Some(missing) = push
            .blobs
            .iter()
            .find(|b| !push.cached && !s.blobs.contains_key(&b.digest))
        {
            return Err(Error::BlobUnknown(missing.digest.clone()));
        }
        let image = s.image(&push.name).cloned();
        for child in push.children.iter().filter(|_| !push.cached) {
            if image
                .as_ref()
                .and_then(|i| s.artifact_id(i.id, child))
                .is_none()
            {
                return Err(Error::ManifestUnknown(child.clone()));
            }
        }
        let key = (push.name.repository().clone(), push.name.image().clone());
        let image_id = match &image {
            Some(image) => image.id,
            None => ImageId(s.id()),
        };
        let existing = s.artifact_id(image_id, &push.digest);
        let refs: BTreeSet<BlobRef> = accounting::references(&push).into_iter().collect();
        // Decide before changing anything.
        let added = match existing {
            Some(_) => 0,
            None => {
                let list: Vec<BlobRef> = refs.iter().cloned().collect();
                let counted = |d: &Digest| {
                    s.repo_refs
                        .get(&(repository.id, d.clone()))
                        .is_some_and(|&n| n > 0)
                };
                accounting::admit_push(&list, counted, repository.used, repository.quota)?
            }
        };
        if image.is_none() {
            if let Some(repo) = s.repositories.get_mut(push.name.repository()) {
                repo.image_count += 1;
            }
            s.images.insert(
                key.clone(),
                Image {
                    id: image_id,
                    repository: repository.id,
                    name: push.name.image().clone(),
                    artifact_count: 0,
                    pull_count: 0,
                    last_push: None,
                    last_pull: None,
                },
            );
        }
        let artifact_id = match existing {
            Some(id) => {
                if let Some(row) = s.artifacts.get_mut(&id) {
                    row.artifact.pushed_at = push.at;
                }
                id
            }
            None => {
                let id = ArtifactId(s.id());
                for r in &refs {
                    *s.repo_refs
                        .entry((repository.id, r.digest.clone()))
                        .or_default() += 1;
                    *s.global_refs.entry(r.digest.clone()).or_default() += 1;
                }
                s.artifacts.insert(
                    id,
                    ArtifactRow {
                        artifact: Artifact {
                            id,
                            image: image_id,
                            digest: push.digest.clone(),
                            media_type: push.media_type.clone(),
                            artifact_type: push.artifact_type.clone(),
                            manifest_size: push.manifest_size,
                            total_size: push.total_size,
                            subject: push.subject.clone(),
                            annotations: push.annotations.clone(),
                            tags: Vec::new(),
                            pushed_at: push.at,
                            pulled_at: None,
                            pull_count: 0,
                        },
                        refs,
                    },
                );
                if let Some(repo) = s.repositories.get_mut(push.name.repository()) {
                    repo.used += added;
                }
                id
            }
        };
        if let Some(tag) = &push.tag {
            s.tags.insert((image_id, tag.clone()), artifact_id);
        }
        if let Some(image) = s.images.get_mut(&key) {
            image.last_push = Some(image.last_push.map_or(push.at, |t| t.max(push.at)));
        }
        s.refresh_artifact_count(&key);
        s.history.push(HistoryEvent {
            at: push.at,
            actor: push.actor.clone(),
            action: HistoryAction::Push,
            repository: push.name.repository().clone(),
            image: Some(push.name.image().clone()),
            target: Some(push.digest.to_string()),
            detail: push.tag.as_ref().map(|t| format!("tag {t}")),
        });
        let artifact = s
            .artifact(artifact_id)
            .ok_or_else(|| Error::not_found(Entity::Artifact, &push.digest))?;
        let used = s.repository(push.name.repository())?.used;
        Ok(PushOutcome {
            artifact,
            created: existing.is_none(),
            added,
            used,
        })
    }

    async fn artifact(&self, name: &Name, digest: &Digest) -> Result<Option<Artifact>> {
        let s = self.lock();
        Ok(s.image(name)
            .and_then(|i| s.artifact_id(i.id, digest))
            .and_then(|id| s.artifact(id)))
    }

    async fn resolve_tag(&self, name: &Name, tag: &Tag) -> Result<Option<Artifact>> {
        let s = self.lock();
        Ok(s.image(name)
            .and_then(|i| s.tags.get(&(i.id, tag.clone())))
            .and_then(|id| s.artifact(*id)))
    }

    async fn list_artifacts(&self, name: &Name, page: Page) -> Result<Paged<Artifact>> {
        let s = self.lock();
        let Some(image) = s.image(name) else {
            return Ok(Paged {
                items: Vec::new(),
                total: 0,
            });
        };
        let mut all: Vec<Artifact> = s
            .artifacts
            .iter()
            .filter(|(_, row)| row.artifact.image == image.id)
            .filter_map(|(id, _)| s.artifact(*id))
            .collect();
        all.sort_by(|a, b| {
            b.pushed_at
                .cmp(&a.pushed_at)
                .then_with(|| a.digest.cmp(&b.digest))
        });
        Ok(page_of(all, page))
    }

    async fn list_tags(&self, name: &Name, n: usize, last: Option<&Tag>) -> Result<Vec<Tag>> {
        let s = self.lock();
        let Some(image) = s.image(name) else {
            return Ok(Vec::new());
        };
        Ok(s.tags
            .keys()
            .filter(|(i, tag)| {
                *i == image.id && last.is_none_or(|last| tag.as_str() > last.as_str())
            })
            .map(|(_, tag)| tag.clone())
            .take(n)
            .collect())
    }

    async fn referrers(
        &self,
        name: &Name,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Artifact>> {
        let s = self.lock();
        let Some(image) = s.image(name) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Artifact> = s
            .artifacts
            .iter()
            .filter(|(_, row)| {
                row.artifact.image == image.id && row.artifact.subject.as_ref() == Some(subject)
            })
            .filter(|(_, row)| {
                artifact_type.is_none_or(|t| row.artifact.artifact_type.as_deref() == Some(t))
            })
            .filter_map(|(id, _)| s.artifact(*id))
            .collect();
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    async fn delete_artifact(
        &self,
        name: &Name,
        digest: &Digest,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        let mut s = self.lock();
        let repository = s.repository(name.repository())?.clone();
        let image = s
            .image(name)
            .map(|i| i.id)
            .ok_or_else(|| Error::not_found(Entity::Artifact, digest))?;
        let id = s
            .artifact_id(image, digest)
            .ok_or_else(|| Error::not_found(Entity::Artifact, digest))?;
        let mut deletion = Deletion {
            tags: Vec::new(),
            artifacts: Vec::new(),
            freed: 0,
        };
        // The artifact, then those whose subject was deleted (and theirs).
        let mut next = vec![(id, None::<Digest>)];
        while let Some((id, subject)) = next.pop() {
            let Some(removed) = s.remove_artifact(repository.id, id, &mut deletion) else {
                continue;
            };
            s.history.push(HistoryEvent {
                at,
                actor: actor.to_owned(),
                action: HistoryAction::DeleteArtifact,
                repository: name.repository().clone(),
                image: Some(name.image().clone()),
                target: Some(removed.to_string()),
                detail: subject.map(|s| format!("referrer of {s}")),
            });
            if repository.delete_orphan_referrers {
                let referrers: Vec<ArtifactId> = s
                    .artifacts
                    .iter()
                    .filter(|(_, r)| {
                        r.artifact.image == image && r.artifact.subject.as_ref() == Some(&removed)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                next.extend(referrers.into_iter().map(|r| (r, Some(removed.clone()))));
            }
        }
        s.finish_deletion(name, &deletion);
        Ok(deletion)
    }

    async fn delete_image(&self, name: &Name, actor: &str, at: Timestamp) -> Result<Deletion> {
        let mut s = self.lock();
        let repository = s.repository(name.repository())?.id;
        let image = s
            .image(name)
            .map(|i| i.id)
            .ok_or_else(|| Error::not_found(Entity::Image, name))?;
        let mut deletion = Deletion {
            tags: Vec::new(),
            artifacts: Vec::new(),
            freed: 0,
        };
        let ids: Vec<ArtifactId> = s
            .artifacts
            .iter()
            .filter(|(_, r)| r.artifact.image == image)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            s.remove_artifact(repository, id, &mut deletion);
        }
        s.history.push(HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::DeleteImage,
            repository: name.repository().clone(),
            image: Some(name.image().clone()),
            target: None,
            detail: Some(format!("{} artifacts", deletion.artifacts.len())),
        });
        s.finish_deletion(name, &deletion);
        Ok(deletion)
    }

    async fn delete_tag(
        &self,
        name: &Name,
        tag: &Tag,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        let mut s = self.lock();
        let image = s
            .image(name)
            .map(|i| i.id)
            .ok_or_else(|| Error::not_found(Entity::Tag, tag))?;
        s.tags
            .remove(&(image, tag.clone()))
            .ok_or_else(|| Error::not_found(Entity::Tag, tag))?;
        s.history.push(HistoryEvent {
            at,
            actor: actor.to_owned(),
            action: HistoryAction::DeleteTag,
            repository: name.repository().clone(),
            image: Some(name.image().clone()),
            target: Some(tag.to_string()),
            detail: None,
        });
        Ok(Deletion {
            tags: vec![tag.clone()],
            artifacts: Vec::new(),
            freed: 0,
        })
    }

    async fn record_blob(&self, digest: &Digest, size: u64, at: Timestamp) -> Result<Blob> {
        let mut s = self.lock();
        if s.tombstones.contains(digest) {
            return Err(Error::BlobBeingDeleted(digest.clone()));
        }
        let blob = s.blobs.entry(digest.clone()).or_insert_with(|| Blob {
            digest: digest.clone(),
            size,
            first_seen: at,
            last_seen: at,
        });
        blob.last_seen = blob.last_seen.max(at);
        Ok(blob.clone())
    }

    async fn blob(&self, digest: &Digest) -> Result<Option<Blob>> {
        Ok(self.lock().blobs.get(digest).cloned())
    }

    async fn link_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<()> {
        let mut s = self.lock();
        let id = s.repository(repository)?.id;
        if !s.blobs.contains_key(digest) {
            return Err(Error::BlobUnknown(digest.clone()));
        }
        s.links.insert((id, digest.clone()));
        Ok(())
    }

    async fn linked_repositories(
        &self,
        account: AccountId,
        digest: &Digest,
        limit: usize,
    ) -> Result<Vec<RepositoryName>> {
        let s = self.lock();
        Ok(s.repositories
            .values()
            .filter(|r| r.account == account && s.links.contains(&(r.id, digest.clone())))
            .map(|r| r.name.clone())
            .take(limit)
            .collect())
    }

    async fn linked_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        let s = self.lock();
        let Some(repo) = s.repositories.get(repository) else {
            return Ok(None);
        };
        Ok(s.links
            .contains(&(repo.id, digest.clone()))
            .then(|| s.blobs.get(digest).map(|b| b.size))
            .flatten())
    }

    async fn unlink_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<bool> {
        let mut s = self.lock();
        let Some(id) = s.repositories.get(repository).map(|r| r.id) else {
            return Ok(false);
        };
        Ok(s.links.remove(&(id, digest.clone())))
    }

    async fn unreferenced_blobs(&self, before: Timestamp, limit: usize) -> Result<Vec<Blob>> {
        let s = self.lock();
        let mut out: Vec<Blob> = s
            .blobs
            .values()
            .filter(|b| b.last_seen < before && !s.global_refs.contains_key(&b.digest))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            a.last_seen
                .cmp(&b.last_seen)
                .then_with(|| a.digest.cmp(&b.digest))
        });
        out.truncate(limit);
        Ok(out)
    }

    async fn forget_blob(&self, digest: &Digest, before: Timestamp) -> Result<bool> {
        let mut s = self.lock();
        let forgettable = s
            .blobs
            .get(digest)
            .is_some_and(|b| b.last_seen < before && !s.global_refs.contains_key(digest));
        if forgettable {
            s.blobs.remove(digest);
            s.tombstones.insert(digest.clone());
            s.links.retain(|(_, d)| d != digest);
        }
        Ok(forgettable)
    }

    async fn finish_forget(&self, digest: &Digest) -> Result<()> {
        self.lock().tombstones.remove(digest);
        Ok(())
    }

    async fn tombstones(&self) -> Result<Vec<Digest>> {
        Ok(self.lock().tombstones.iter().cloned().collect())
    }

    async fn create_upload(&self, session: UploadSession, max_open: u64) -> Result<()> {
        let mut s = self.lock();
        let repository = s
            .repositories
            .values()
            .find(|r| r.id == session.repository)
            .map(|r| r.name.clone())
            .ok_or_else(|| Error::not_found(Entity::Repository, session.name.repository()))?;
        if s.uploads.contains_key(&session.id) {
            return Err(Error::already_exists(Entity::Upload, session.id));
        }
        let open = s
            .uploads
            .values()
            .filter(|u| u.repository == session.repository)
            .count() as u64;
        if open >= max_open {
            return Err(Error::TooManyUploads {
                repository,
                limit: max_open,
            });
        }
        s.uploads.insert(session.id, session);
        Ok(())
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadSession>> {
        Ok(self.lock().uploads.get(id).cloned())
    }

    async fn touch_upload(
        &self,
        id: &UploadId,
        received: u64,
        short_chunk: bool,
        at: Timestamp,
    ) -> Result<()> {
        if let Some(session) = self.lock().uploads.get_mut(id) {
            session.last_activity = session.last_activity.max(at);
            session.received = received;
            session.short_chunk = short_chunk;
        }
        Ok(())
    }

    async fn open_uploads(&self) -> Result<u64> {
        Ok(self.lock().uploads.len() as u64)
    }

    async fn upload_usage(&self, repository: RepositoryId) -> Result<UploadUsage> {
        let s = self.lock();
        Ok(s.uploads
            .values()
            .filter(|u| u.repository == repository)
            .fold(UploadUsage::default(), |usage, u| UploadUsage {
                sessions: usage.sessions + 1,
                bytes: usage.bytes.saturating_add(u.received),
            }))
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        self.lock().uploads.remove(id);
        Ok(())
    }

    async fn idle_uploads(&self, before: Timestamp) -> Result<Vec<UploadSession>> {
        let s = self.lock();
        let mut out: Vec<UploadSession> = s
            .uploads
            .values()
            .filter(|u| u.last_activity < before)
            .cloned()
            .collect();
        out.sort_by_key(|u| (u.last_activity, u.id));
        Ok(out)
    }

    async fn record_pulls(&self, images: &[ImagePulls], artifacts: &[ArtifactPulls]) -> Result<()> {
        let mut s = self.lock();
        for pulls in images {
            if let Some(key) = s.image_row(pulls.image)
                && let Some(image) = s.images.get_mut(&key)
            {
                image.pull_count += pulls.count;
                image.last_pull = Some(image.last_pull.map_or(pulls.last, |t| t.max(pulls.last)));
            }
        }
        for pulls in artifacts {
            if let Some(row) = s.artifacts.get_mut(&pulls.artifact) {
                row.artifact.pull_count += pulls.count;
                row.artifact.pulled_at = Some(
                    row.artifact
                        .pulled_at
                        .map_or(pulls.last, |t| t.max(pulls.last)),
                );
            }
        }
        Ok(())
    }

    async fn create_remote_registry(
        &self,
        new: NewRemoteRegistry,
        at: Timestamp,
    ) -> Result<RemoteRegistry> {
        let mut s = self.lock();
        if !s.accounts.contains_key(&new.account) {
            return Err(Error::not_found(Entity::Account, new.account));
        }
        let key = (new.account, new.name.clone());
        if s.registries.contains_key(&key) {
            return Err(Error::already_exists(Entity::RemoteRegistry, &new.name));
        }
        let registry = RemoteRegistry {
            id: RemoteRegistryId(s.id()),
            account: new.account,
            name: new.name,
            url: new.url,
            username: new.username,
            sealed_password: new.sealed_password,
            insecure: new.insecure,
            created: at,
        };
        s.registries.insert(key, registry.clone());
        Ok(registry)
    }

    async fn remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<Option<RemoteRegistry>> {
        Ok(self
            .lock()
            .registries
            .get(&(account, name.clone()))
            .cloned())
    }

    async fn list_remote_registries(&self, account: AccountId) -> Result<Vec<RemoteRegistry>> {
        let s = self.lock();
        Ok(s.registries
            .range((account, RegistryName::parse("0").expect("a name"))..)
            .take_while(|((a, _), _)| *a == account)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn update_remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
        update: RemoteRegistryUpdate,
    ) -> Result<RemoteRegistry> {
        let mut s = self.lock();
        let registry = s
            .registries
            .get_mut(&(account, name.clone()))
            .ok_or_else(|| Error::not_found(Entity::RemoteRegistry, name))?;
        if let Some(url) = update.url {
            registry.url = url;
        }
        if let Some(username) = update.username {
            registry.username = username;
        }
        if let Some(password) = update.sealed_password {
            registry.sealed_password = password;
        }
        if let Some(insecure) = update.insecure {
            registry.insecure = insecure;
        }
        Ok(registry.clone())
    }

    async fn delete_remote_registry(&self, account: AccountId, name: &RegistryName) -> Result<()> {
        let mut s = self.lock();
        let key = (account, name.clone());
        if !s.registries.contains_key(&key) {
            return Err(Error::not_found(Entity::RemoteRegistry, name));
        }
        if let Some(user) = s
            .repositories
            .values()
            .find(|r| r.account == account && r.proxy.as_ref().is_some_and(|p| p.registry == *name))
        {
            return Err(Error::RegistryInUse {
                registry: name.clone(),
                repository: user.name.clone(),
            });
        }
        if let Some(rule) = s
            .rules
            .values()
            .find(|r| r.account == account && r.registry_name == *name)
        {
            return Err(Error::RegistryUsedByRule {
                registry: name.clone(),
                rule: rule.name.clone(),
            });
        }
        s.registries.remove(&key);
        Ok(())
    }

    async fn create_replication_rule(
        &self,
        new: NewReplicationRule,
        at: Timestamp,
    ) -> Result<ReplicationRule> {
        let mut s = self.lock();
        let registry_name = s.registry_by_id(new.account, new.registry)?;
        let key = (new.account, new.name.clone());
        if s.rules.contains_key(&key) {
            return Err(Error::already_exists(Entity::ReplicationRule, &new.name));
        }
        let rule = ReplicationRule {
            id: ReplicationRuleId(s.id()),
            account: new.account,
            name: new.name,
            direction: new.direction,
            registry: new.registry,
            registry_name,
            source: new.source,
            destination: new.destination,
            tag_filter: new.tag_filter,
            trigger: new.trigger,
            delete_propagation: new.delete_propagation,
            copy_referrers: new.copy_referrers,
            enabled: new.enabled,
            bandwidth_limit: new.bandwidth_limit,
            created: at,
            scheduled: None,
        };
        s.rules.insert(key, rule.clone());
        Ok(rule)
    }

    async fn replication_rule(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<Option<ReplicationRule>> {
        Ok(self.lock().rules.get(&(account, name.to_owned())).cloned())
    }

    async fn list_replication_rules(
        &self,
        account: Option<AccountId>,
    ) -> Result<Vec<ReplicationRule>> {
        let s = self.lock();
        Ok(s.rules
            .values()
            .filter(|r| account.is_none_or(|a| r.account == a))
            .cloned()
            .collect())
    }

    async fn update_replication_rule(
        &self,
        account: AccountId,
        name: &str,
        update: ReplicationRuleUpdate,
    ) -> Result<ReplicationRule> {
        let mut s = self.lock();
        let registry_name = match update.registry {
            Some(id) => Some(s.registry_by_id(account, id)?),
            None => None,
        };
        let rule = s
            .rules
            .get_mut(&(account, name.to_owned()))
            .ok_or_else(|| Error::not_found(Entity::ReplicationRule, name))?;
        if let (Some(id), Some(registry_name)) = (update.registry, registry_name) {
            rule.registry = id;
            rule.registry_name = registry_name;
        }
        if let Some(v) = update.direction {
            rule.direction = v;
        }
        if let Some(v) = update.source {
            rule.source = v;
        }
        if let Some(v) = update.destination {
            rule.destination = v;
        }
        if let Some(v) = update.tag_filter {
            rule.tag_filter = v;
        }
        if let Some(v) = update.trigger {
            rule.trigger = v;
        }
        if let Some(v) = update.delete_propagation {
            rule.delete_propagation = v;
        }
        if let Some(v) = update.copy_referrers {
            rule.copy_referrers = v;
        }
        if let Some(v) = update.enabled {
            rule.enabled = v;
        }
        if let Some(v) = update.bandwidth_limit {
            rule.bandwidth_limit = v;
        }
        Ok(rule.clone())
    }

    async fn delete_replication_rule(&self, account: AccountId, name: &str) -> Result<()> {
        let mut s = self.lock();
        let rule = s
            .rules
            .remove(&(account, name.to_owned()))
            .ok_or_else(|| Error::not_found(Entity::ReplicationRule, name))?;
        s.executions.retain(|_, (e, _)| e.rule != rule.id);
        Ok(())
    }

    async fn mark_rule_scheduled(
        &self,
        rule: ReplicationRuleId,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool> {
        let mut s = self.lock();
        match s.rules.values_mut().find(|r| r.id == rule) {
            Some(r) if r.scheduled == previous => {
                r.scheduled = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn create_execution(
        &self,
        rule: ReplicationRuleId,
        trigger: &str,
        tasks: Option<Vec<NewTask>>,
        at: Timestamp,
    ) -> Result<ReplicationExecution> {
        let mut s = self.lock();
        if !s.rules.values().any(|r| r.id == rule) {
            return Err(Error::not_found(Entity::ReplicationRule, rule));
        }
        let planned = tasks.is_some();
        let tasks: Vec<ReplicationTask> = tasks
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(seq, task)| ReplicationTask {
                seq: seq as u64,
                task,
                state: TaskState::Pending,
            })
            .collect();
        let execution = ReplicationExecution {
            id: ExecutionId(s.id()),
            rule,
            trigger: trigger.to_owned(),
            status: ExecutionStatus::Running,
            planned,
            started: at,
            finished: None,
            artifacts_total: tasks.len() as u64,
            artifacts_copied: 0,
            artifacts_skipped: 0,
            artifacts_failed: 0,
            bytes: 0,
            error: None,
            lease: None,
        };
        s.executions
            .insert(execution.id, (execution.clone(), tasks));
        Ok(execution)
    }

    async fn execution(&self, id: ExecutionId) -> Result<Option<ReplicationExecution>> {
        Ok(self.lock().executions.get(&id).map(|(e, _)| e.clone()))
    }

    async fn list_executions(
        &self,
        rule: ReplicationRuleId,
        limit: usize,
    ) -> Result<Vec<ReplicationExecution>> {
        let s = self.lock();
        Ok(s.executions
            .values()
            .rev()
            .filter(|(e, _)| e.rule == rule)
            .take(limit)
            .map(|(e, _)| e.clone())
            .collect())
    }

    async fn claim_execution(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        let mut s = self.lock();
        let free = s.executions.values_mut().find(|(e, _)| {
            e.status == ExecutionStatus::Running && e.lease.as_ref().is_none_or(|l| l.until < now)
        });
        Ok(free.map(|(e, _)| {
            e.lease = Some(Lease {
                owner: owner.to_owned(),
                until,
            });
            e.clone()
        }))
    }

    async fn renew_lease(&self, id: ExecutionId, owner: &str, until: Timestamp) -> Result<bool> {
        let mut s = self.lock();
        Ok(match s.held(id, owner) {
            Some((e, _)) => {
                e.lease = Some(Lease {
                    owner: owner.to_owned(),
                    until,
                });
                true
            }
            None => false,
        })
    }

    async fn plan_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        tasks: Vec<NewTask>,
    ) -> Result<bool> {
        let mut s = self.lock();
        let Some((e, existing)) = s.held(id, owner) else {
            return Ok(false);
        };
        let first = existing.len() as u64;
        e.artifacts_total += tasks.len() as u64;
        e.planned = true;
        existing.extend(
            tasks
                .into_iter()
                .enumerate()
                .map(|(i, task)| ReplicationTask {
                    seq: first + i as u64,
                    task,
                    state: TaskState::Pending,
                }),
        );
        Ok(true)
    }

    async fn execution_tasks(
        &self,
        id: ExecutionId,
        pending_only: bool,
    ) -> Result<Vec<ReplicationTask>> {
        let s = self.lock();
        Ok(s.executions
            .get(&id)
            .map(|(_, tasks)| {
                tasks
                    .iter()
                    .filter(|t| !pending_only || t.state == TaskState::Pending)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn finish_task(
        &self,
        id: ExecutionId,
        seq: u64,
        owner: &str,
        state: TaskState,
    ) -> Result<bool> {
        let mut s = self.lock();
        let Some((e, tasks)) = s.held(id, owner) else {
            return Ok(false);
        };
        let Some(task) = tasks
            .iter_mut()
            .find(|t| t.seq == seq && t.state == TaskState::Pending)
        else {
            return Ok(false);
        };
        match &state {
            TaskState::Pending => return Ok(false),
            TaskState::Copied { bytes } => {
                e.artifacts_copied += 1;
                e.bytes += bytes;
            }
            TaskState::Skipped => e.artifacts_skipped += 1,
            TaskState::Failed { .. } => e.artifacts_failed += 1,
        }
        task.state = state;
        Ok(true)
    }

    async fn finish_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        error: Option<String>,
        at: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        let mut s = self.lock();
        let Some((e, _)) = s.held(id, owner) else {
            return Ok(None);
        };
        e.status = ExecutionStatus::of(
            e.artifacts_copied,
            e.artifacts_skipped,
            e.artifacts_failed,
            error.is_some(),
        );
        e.error = error;
        e.finished = Some(at);
        e.lease = None;
        Ok(Some(e.clone()))
    }

    async fn history(
        &self,
        repository: &RepositoryName,
        page: Page,
    ) -> Result<Paged<HistoryEvent>> {
        let s = self.lock();
        let mut all: Vec<(usize, HistoryEvent)> = s
            .history
            .iter()
            .enumerate()
            .filter(|(_, e)| e.repository == *repository)
            .map(|(i, e)| (i, e.clone()))
            .collect();
        all.sort_by(|a, b| b.1.at.cmp(&a.1.at).then_with(|| b.0.cmp(&a.0)));
        Ok(page_of(all.into_iter().map(|(_, e)| e).collect(), page))
    }
}
