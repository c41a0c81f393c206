//! A metadata store that counts the writes made through it, to show which paths write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use berth_meta::*;
use berth_model::{Digest, Name, RegistryName, RepositoryName, Tag, UploadId};

/// Delegates to `inner`, counting every call that can change data.
#[derive(Debug)]
pub struct WatchedMeta {
    pub inner: Arc<dyn MetadataStore>,
    pub writes: AtomicU64,
}

impl WatchedMeta {
    pub fn new(inner: Arc<dyn MetadataStore>) -> Self {
        WatchedMeta {
            inner,
            writes: AtomicU64::new(0),
        }
    }

    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl AccountStore for WatchedMeta {
    async fn create_account(&self, id: AccountId, name: &str, at: Timestamp) -> Result<Account> {
        self.write();
        self.inner.create_account(id, name, at).await
    }
    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.inner.account(id).await
    }
    async fn list_accounts(&self, page: Page) -> Result<Paged<Account>> {
        self.inner.list_accounts(page).await
    }
    async fn create_console_user(
        &self,
        account: Option<AccountId>,
        username: &str,
        password_hash: &str,
        at: Timestamp,
    ) -> Result<ConsoleUser> {
        self.write();
        self.inner
            .create_console_user(account, username, password_hash, at)
            .await
    }
    async fn console_user(&self, username: &str) -> Result<Option<ConsoleUser>> {
        self.inner.console_user(username).await
    }
    async fn console_user_by_id(&self, id: ConsoleUserId) -> Result<Option<ConsoleUser>> {
        self.inner.console_user_by_id(id).await
    }
    async fn list_console_users(
        &self,
        account: Option<AccountId>,
        page: Page,
    ) -> Result<Paged<ConsoleUser>> {
        self.inner.list_console_users(account, page).await
    }
    async fn update_console_user(
        &self,
        id: ConsoleUserId,
        update: ConsoleUserUpdate,
    ) -> Result<ConsoleUser> {
        self.write();
        self.inner.update_console_user(id, update).await
    }
    async fn delete_console_user(&self, id: ConsoleUserId) -> Result<()> {
        self.write();
        self.inner.delete_console_user(id).await
    }
    async fn create_console_session(&self, session: ConsoleSession, keep: u32) -> Result<()> {
        self.write();
        self.inner.create_console_session(session, keep).await
    }
    async fn console_session(&self, id_hash: &[u8]) -> Result<Option<ConsoleSession>> {
        self.inner.console_session(id_hash).await
    }
    async fn delete_console_session(&self, id_hash: &[u8]) -> Result<bool> {
        self.write();
        self.inner.delete_console_session(id_hash).await
    }
    async fn create_api_token(&self, token: ApiToken) -> Result<()> {
        self.write();
        self.inner.create_api_token(token).await
    }
    async fn api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        self.inner.api_token(token_hash).await
    }
    async fn list_api_tokens(&self, user: ConsoleUserId) -> Result<Vec<ApiToken>> {
        self.inner.list_api_tokens(user).await
    }
    async fn delete_api_token(&self, token_hash: &[u8]) -> Result<bool> {
        self.write();
        self.inner.delete_api_token(token_hash).await
    }
    async fn create_repository_user(
        &self,
        new: NewRepositoryUser,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        self.write();
        self.inner.create_repository_user(new, actor, at).await
    }
    async fn repository_user(&self, name: &str) -> Result<Option<RepositoryUser>> {
        self.inner.repository_user(name).await
    }
    async fn update_repository_user(
        &self,
        name: &str,
        update: RepositoryUserUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        self.write();
        self.inner
            .update_repository_user(name, update, actor, at)
            .await
    }
    async fn list_repository_users(
        &self,
        account: AccountId,
        page: Page,
    ) -> Result<Paged<RepositoryUser>> {
        self.inner.list_repository_users(account, page).await
    }
    async fn delete_repository_user(&self, name: &str, actor: &str, at: Timestamp) -> Result<()> {
        self.write();
        self.inner.delete_repository_user(name, actor, at).await
    }
}

#[async_trait]
impl RegistryStore for WatchedMeta {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create_repository(
        &self,
        new: NewRepository,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        self.write();
        self.inner.create_repository(new, actor, at).await
    }
    async fn repository(&self, name: &RepositoryName) -> Result<Option<Repository>> {
        self.inner.repository(name).await
    }
    async fn update_repository(
        &self,
        name: &RepositoryName,
        update: RepositoryUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        self.write();
        self.inner.update_repository(name, update, actor, at).await
    }
    async fn list_repositories(&self, account: AccountId, page: Page) -> Result<Paged<Repository>> {
        self.inner.list_repositories(account, page).await
    }
    async fn delete_repository(
        &self,
        name: &RepositoryName,
        actor: &str,
        at: Timestamp,
    ) -> Result<Vec<UploadId>> {
        self.write();
        self.inner.delete_repository(name, actor, at).await
    }
    async fn image(&self, name: &Name) -> Result<Option<Image>> {
        self.inner.image(name).await
    }
    async fn list_images(
        &self,
        repository: &RepositoryName,
        name_contains: Option<&str>,
        page: Page,
    ) -> Result<Paged<Image>> {
        self.inner
            .list_images(repository, name_contains, page)
            .await
    }
    async fn catalog(
        &self,
        scope: &CatalogScope,
        n: usize,
        last: Option<&Name>,
    ) -> Result<Vec<Name>> {
        self.inner.catalog(scope, n, last).await
    }
    async fn record_push(&self, push: Push) -> Result<PushOutcome> {
        self.write();
        self.inner.record_push(push).await
    }
    async fn artifact(&self, name: &Name, digest: &Digest) -> Result<Option<Artifact>> {
        self.inner.artifact(name, digest).await
    }
    async fn resolve_tag(&self, name: &Name, tag: &Tag) -> Result<Option<Artifact>> {
        self.inner.resolve_tag(name, tag).await
    }
    async fn list_artifacts(&self, name: &Name, page: Page) -> Result<Paged<Artifact>> {
        self.inner.list_artifacts(name, page).await
    }
    async fn list_tags(&self, name: &Name, n: usize, last: Option<&Tag>) -> Result<Vec<Tag>> {
        self.inner.list_tags(name, n, last).await
    }
    async fn referrers(
        &self,
        name: &Name,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Artifact>> {
        self.inner.referrers(name, subject, artifact_type).await
    }
    async fn delete_artifact(
        &self,
        name: &Name,
        digest: &Digest,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        self.write();
        self.inner.delete_artifact(name, digest, actor, at).await
    }
    async fn delete_image(&self, name: &Name, actor: &str, at: Timestamp) -> Result<Deletion> {
        self.write();
        self.inner.delete_image(name, actor, at).await
    }
    async fn delete_tag(
        &self,
        name: &Name,
        tag: &Tag,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        self.write();
        self.inner.delete_tag(name, tag, actor, at).await
    }
    async fn record_blob(&self, digest: &Digest, size: u64, at: Timestamp) -> Result<Blob> {
        self.write();
        self.inner.record_blob(digest, size, at).await
    }
    async fn blob(&self, digest: &Digest) -> Result<Option<Blob>> {
        self.inner.blob(digest).await
    }
    async fn unreferenced_blobs(&self, before: Timestamp, limit: usize) -> Result<Vec<Blob>> {
        self.inner.unreferenced_blobs(before, limit).await
    }
    async fn forget_blob(&self, digest: &Digest, before: Timestamp) -> Result<bool> {
        self.write();
        self.inner.forget_blob(digest, before).await
    }
    async fn link_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<()> {
        self.write();
        self.inner.link_blob(repository, digest).await
    }
    async fn linked_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        self.inner.linked_blob(repository, digest).await
    }
    async fn unlink_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<bool> {
        self.write();
        self.inner.unlink_blob(repository, digest).await
    }
    async fn finish_forget(&self, digest: &Digest) -> Result<()> {
        self.write();
        self.inner.finish_forget(digest).await
    }
    async fn tombstones(&self) -> Result<Vec<Digest>> {
        self.inner.tombstones().await
    }
    async fn create_upload(&self, session: UploadSession, max_open: u64) -> Result<()> {
        self.write();
        self.inner.create_upload(session, max_open).await
    }
    async fn upload(&self, id: &UploadId) -> Result<Option<UploadSession>> {
        self.inner.upload(id).await
    }
    async fn touch_upload(
        &self,
        id: &UploadId,
        received: u64,
        short_chunk: bool,
        at: Timestamp,
    ) -> Result<()> {
        self.write();
        self.inner.touch_upload(id, received, short_chunk, at).await
    }
    async fn linked_repositories(
        &self,
        account: AccountId,
        digest: &Digest,
        limit: usize,
    ) -> Result<Vec<RepositoryName>> {
        self.inner.linked_repositories(account, digest, limit).await
    }
    async fn open_uploads(&self) -> Result<u64> {
        self.inner.open_uploads().await
    }
    async fn upload_usage(&self, repository: RepositoryId) -> Result<UploadUsage> {
        self.inner.upload_usage(repository).await
    }
    async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        self.write();
        self.inner.delete_upload(id).await
    }
    async fn idle_uploads(&self, before: Timestamp) -> Result<Vec<UploadSession>> {
        self.inner.idle_uploads(before).await
    }
    async fn record_pulls(&self, images: &[ImagePulls], artifacts: &[ArtifactPulls]) -> Result<()> {
        self.write();
        self.inner.record_pulls(images, artifacts).await
    }
    async fn create_remote_registry(
        &self,
        new: NewRemoteRegistry,
        at: Timestamp,
    ) -> Result<RemoteRegistry> {
        self.inner.create_remote_registry(new, at).await
    }
    async fn remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<Option<RemoteRegistry>> {
        self.inner.remote_registry(account, name).await
    }
    async fn list_remote_registries(&self, account: AccountId) -> Result<Vec<RemoteRegistry>> {
        self.inner.list_remote_registries(account).await
    }
    async fn update_remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
        update: RemoteRegistryUpdate,
    ) -> Result<RemoteRegistry> {
        self.inner
            .update_remote_registry(account, name, update)
            .await
    }
    async fn delete_remote_registry(&self, account: AccountId, name: &RegistryName) -> Result<()> {
        self.inner.delete_remote_registry(account, name).await
    }
    async fn create_replication_rule(
        &self,
        new: NewReplicationRule,
        at: Timestamp,
    ) -> Result<ReplicationRule> {
        self.write();
        self.inner.create_replication_rule(new, at).await
    }
    async fn replication_rule(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<Option<ReplicationRule>> {
        self.inner.replication_rule(account, name).await
    }
    async fn list_replication_rules(
        &self,
        account: Option<AccountId>,
    ) -> Result<Vec<ReplicationRule>> {
        self.inner.list_replication_rules(account).await
    }
    async fn update_replication_rule(
        &self,
        account: AccountId,
        name: &str,
        update: ReplicationRuleUpdate,
    ) -> Result<ReplicationRule> {
        self.write();
        self.inner
            .update_replication_rule(account, name, update)
            .await
    }
    async fn delete_replication_rule(&self, account: AccountId, name: &str) -> Result<()> {
        self.write();
        self.inner.delete_replication_rule(account, name).await
    }
    async fn mark_rule_scheduled(
        &self,
        rule: ReplicationRuleId,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool> {
        self.write();
        self.inner.mark_rule_scheduled(rule, previous, at).await
    }
    async fn create_execution(
        &self,
        rule: ReplicationRuleId,
        trigger: &str,
        tasks: Option<Vec<NewTask>>,
        at: Timestamp,
    ) -> Result<ReplicationExecution> {
        self.write();
        self.inner.create_execution(rule, trigger, tasks, at).await
    }
    async fn execution(&self, id: ExecutionId) -> Result<Option<ReplicationExecution>> {
        self.inner.execution(id).await
    }
    async fn list_executions(
        &self,
        rule: ReplicationRuleId,
        limit: usize,
    ) -> Result<Vec<ReplicationExecution>> {
        self.inner.list_executions(rule, limit).await
    }
    async fn claim_execution(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        self.write();
        self.inner.claim_execution(owner, now, until).await
    }
    async fn renew_lease(&self, id: ExecutionId, owner: &str, until: Timestamp) -> Result<bool> {
        self.write();
        self.inner.renew_lease(id, owner, until).await
    }
    async fn plan_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        tasks: Vec<NewTask>,
    ) -> Result<bool> {
        self.write();
        self.inner.plan_execution(id, owner, tasks).await
    }
    async fn execution_tasks(
        &self,
        id: ExecutionId,
        pending_only: bool,
    ) -> Result<Vec<ReplicationTask>> {
        self.inner.execution_tasks(id, pending_only).await
    }
    async fn finish_task(
        &self,
        id: ExecutionId,
        seq: u64,
        owner: &str,
        state: TaskState,
    ) -> Result<bool> {
        self.write();
        self.inner.finish_task(id, seq, owner, state).await
    }
    async fn finish_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        error: Option<String>,
        at: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        self.write();
        self.inner.finish_execution(id, owner, error, at).await
    }
    async fn history(
        &self,
        repository: &RepositoryName,
        page: Page,
    ) -> Result<Paged<HistoryEvent>> {
        self.inner.history(repository, page).await
    }
}
