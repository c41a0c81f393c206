//! Conversions between rows and records.
//!
//! Values that have a validated type in berth (digests, names, tags) are parsed again when read:
//! a value that no longer parses is reported as a conversion failure of its column, never
//! trusted.

use std::collections::BTreeMap;

use berth_meta::{
    Access, Account, ApiToken, Artifact, ArtifactId, ConsoleSession, ConsoleUser, ConsoleUserId,
    HistoryAction, HistoryEvent, Image, ImageId, Page, Permission, Proxy, RemoteRegistry,
    RemoteRegistryId, Repository, RepositoryId, RepositoryUser, RepositoryUserId, Timestamp,
};
use berth_meta::{AccountId, Blob, UploadSession};
use berth_meta::{
    Direction, ExecutionId, ExecutionStatus, Lease, NewTask, ReplicationExecution, ReplicationRule,
    ReplicationRuleId, ReplicationTask, TaskAction, TaskState, Trigger,
};
use berth_model::{Digest, ImageName, Name, RegistryName, RepositoryName, Tag, UploadId};
use rusqlite::Row;
use rusqlite::types::Type;

/// Parses column `idx` with `parse`, reporting a failure as a conversion error of that column.
fn parsed<T, E>(
    row: &Row<'_>,
    idx: usize,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(idx)?;
    parse(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn parsed_opt<T, E>(
    row: &Row<'_>,
    idx: usize,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<Option<T>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))),
    }
}

/// A column holding a fixed set of words (`access`, `permission`).
fn word<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("unexpected value {text:?}").into(),
        )
    })
}

pub(crate) fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_unix_millis(row.get(idx)?))
}

pub(crate) fn time_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row
        .get::<_, Option<i64>>(idx)?
        .map(Timestamp::from_unix_millis))
}

pub(crate) fn digest(row: &Row<'_>, idx: usize) -> rusqlite::Result<Digest> {
    parsed(row, idx, Digest::parse)
}

pub(crate) fn tag(row: &Row<'_>, idx: usize) -> rusqlite::Result<Tag> {
    parsed(row, idx, Tag::parse)
}

pub(crate) fn name(row: &Row<'_>, idx: usize) -> rusqlite::Result<Name> {
    parsed(row, idx, Name::parse)
}

/// A `LIMIT`: SQLite integers are signed, and anything above `i64::MAX` means "all".
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `LIMIT` and `OFFSET` of a console page.
pub(crate) fn page(page: Page) -> (i64, i64) {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    (clamp(page.limit()), clamp(page.offset()))
}

pub(crate) const ACCOUNT: &str = "id, name, created";

pub(crate) fn account(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(row.get(0)?),
        name: row.get(1)?,
        created: time(row, 2)?,
    })
}

pub(crate) const CONSOLE_USER: &str = "id, account, username, password_hash, created, disabled";

pub(crate) fn console_user(row: &Row<'_>) -> rusqlite::Result<ConsoleUser> {
    Ok(ConsoleUser {
        id: ConsoleUserId(row.get(0)?),
        account: row.get::<_, Option<i64>>(1)?.map(AccountId),
        username: row.get(2)?,
        password_hash: row.get(3)?,
        created: time(row, 4)?,
        disabled: row.get(5)?,
    })
}

/// `id_hash, user, created, expires` of `console_sessions`.
pub(crate) fn console_session(row: &Row<'_>) -> rusqlite::Result<ConsoleSession> {
    Ok(ConsoleSession {
        id_hash: row.get(0)?,
        user: ConsoleUserId(row.get(1)?),
        created: time(row, 2)?,
        expires: time(row, 3)?,
    })
}

pub(crate) const API_TOKEN: &str = "token_hash, user, description, created, expires";

pub(crate) fn api_token(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        token_hash: row.get(0)?,
        user: ConsoleUserId(row.get(1)?),
        description: row.get(2)?,
        created: time(row, 3)?,
        expires: time_opt(row, 4)?,
    })
}

/// Columns of `repositories r`.
pub(crate) const REPOSITORY: &str = "r.id, r.account, r.name, r.access, r.quota, r.used, \
     r.created, r.image_count, r.delete_orphan_referrers, \
     (SELECT g.name FROM remote_registries g WHERE g.id = r.proxy_registry), r.proxy_namespace";

pub(crate) fn repository(row: &Row<'_>) -> rusqlite::Result<Repository> {
    Ok(Repository {
        id: RepositoryId(row.get(0)?),
        account: AccountId(row.get(1)?),
        name: parsed(row, 2, RepositoryName::parse)?,
        access: word(row, 3, Access::parse)?,
        quota: row.get(4)?,
        used: row.get(5)?,
        image_count: row.get(7)?,
        delete_orphan_referrers: row.get(8)?,
        proxy: match parsed_opt(row, 9, RegistryName::parse)? {
            Some(registry) => Some(Proxy {
                registry,
                namespace: parsed_opt(row, 10, ImageName::parse)?,
            }),
            None => None,
        },
        created: time(row, 6)?,
    })
}

/// Columns of `remote_registries g`.
pub(crate) const REMOTE_REGISTRY: &str =
    "g.id, g.account, g.name, g.url, g.username, g.password, g.insecure, g.created";

pub(crate) fn remote_registry(row: &Row<'_>) -> rusqlite::Result<RemoteRegistry> {
    Ok(RemoteRegistry {
        id: RemoteRegistryId(row.get(0)?),
        account: AccountId(row.get(1)?),
        name: parsed(row, 2, RegistryName::parse)?,
        url: row.get(3)?,
        username: row.get(4)?,
        sealed_password: row.get(5)?,
        insecure: row.get(6)?,
        created: time(row, 7)?,
    })
}

/// Columns of `replication_rules r` joined with its `remote_registries g`.
pub(crate) const REPLICATION_RULE: &str = "r.id, r.account, r.name, r.direction, r.registry, g.name, \
     r.source, r.destination, r.tag_filter, r.trigger, r.every_secs, r.delete_propagation, \
     r.copy_referrers, r.enabled, r.bandwidth_limit, r.created, r.scheduled";

pub(crate) fn replication_rule(row: &Row<'_>) -> rusqlite::Result<ReplicationRule> {
    let kind: String = row.get(9)?;
    let every: Option<i64> = row.get(10)?;
    let trigger = Trigger::from_parts(&kind, every.and_then(|n| u64::try_from(n).ok()))
        .ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                9,
                Type::Text,
                format!("unexpected trigger {kind:?}").into(),
            )
        })?;
    Ok(ReplicationRule {
        id: ReplicationRuleId(row.get(0)?),
        account: AccountId(row.get(1)?),
        name: row.get(2)?,
        direction: word(row, 3, Direction::parse)?,
        registry: RemoteRegistryId(row.get(4)?),
        registry_name: parsed(row, 5, RegistryName::parse)?,
        source: row.get(6)?,
        destination: row.get(7)?,
        tag_filter: row.get(8)?,
        trigger,
        delete_propagation: row.get(11)?,
        copy_referrers: row.get(12)?,
        enabled: row.get(13)?,
        bandwidth_limit: row
            .get::<_, Option<i64>>(14)?
            .and_then(|n| u64::try_from(n).ok()),
        created: time(row, 15)?,
        scheduled: time_opt(row, 16)?,
    })
}

/// Columns of `replication_executions e`.
pub(crate) const EXECUTION: &str = "e.id, e.rule, e.trigger, e.status, e.planned, e.started, \
     e.finished, e.total, e.copied, e.skipped, e.failed, e.bytes, e.error, e.lease_owner, \
     e.lease_until";

pub(crate) fn execution(row: &Row<'_>) -> rusqlite::Result<ReplicationExecution> {
    let owner: Option<String> = row.get(13)?;
    let until = time_opt(row, 14)?;
    Ok(ReplicationExecution {
        id: ExecutionId(row.get(0)?),
        rule: ReplicationRuleId(row.get(1)?),
        trigger: row.get(2)?,
        status: word(row, 3, ExecutionStatus::parse)?,
        planned: row.get(4)?,
        started: time(row, 5)?,
        finished: time_opt(row, 6)?,
        artifacts_total: row.get(7)?,
        artifacts_copied: row.get(8)?,
        artifacts_skipped: row.get(9)?,
        artifacts_failed: row.get(10)?,
        bytes: row.get(11)?,
        error: row.get(12)?,
        lease: owner
            .zip(until)
            .map(|(owner, until)| Lease { owner, until }),
    })
}

/// Columns of `replication_tasks t`.
pub(crate) const TASK: &str = "t.seq, t.image, t.reference, t.action, t.state, t.bytes, t.error";

pub(crate) fn task(row: &Row<'_>) -> rusqlite::Result<ReplicationTask> {
    let state: String = row.get(4)?;
    let state = match state.as_str() {
        "pending" => TaskState::Pending,
        "copied" => TaskState::Copied {
            bytes: row.get::<_, Option<u64>>(5)?.unwrap_or(0),
        },
        "skipped" => TaskState::Skipped,
        _ => TaskState::Failed {
            error: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
        },
    };
    Ok(ReplicationTask {
        seq: row.get(0)?,
        task: NewTask {
            image: row.get(1)?,
            reference: row.get(2)?,
            action: word(row, 3, TaskAction::parse)?,
        },
        state,
    })
}

/// Columns of `images i`.
pub(crate) const IMAGE: &str =
    "i.id, i.repository, i.name, i.artifact_count, i.pull_count, i.last_push, i.last_pull";

pub(crate) fn image(row: &Row<'_>) -> rusqlite::Result<Image> {
    Ok(Image {
        id: ImageId(row.get(0)?),
        repository: RepositoryId(row.get(1)?),
        name: parsed(row, 2, ImageName::parse)?,
        artifact_count: row.get(3)?,
        pull_count: row.get(4)?,
        last_push: time_opt(row, 5)?,
        last_pull: time_opt(row, 6)?,
    })
}

/// Columns of `artifacts a`, its sorted tags last as a JSON array (one query per artifact list,
/// not one per artifact; `tags_by_artifact` serves it in order).
pub(crate) const ARTIFACT: &str = "a.id, a.image, a.digest, a.media_type, a.artifact_type, \
     a.manifest_size, a.total_size, a.subject, a.annotations, a.pushed_at, a.pulled_at, \
     a.pull_count, \
     (SELECT json_group_array(name) FROM \
        (SELECT t.name AS name FROM tags t WHERE t.artifact = a.id ORDER BY t.name))";

pub(crate) fn artifact(row: &Row<'_>) -> rusqlite::Result<Artifact> {
    let tags = parsed(row, 12, |s| serde_json::from_str::<Vec<String>>(s))?;
    let tags = tags
        .iter()
        .map(|t| Tag::parse(t))
        .collect::<Result<_, _>>()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(12, Type::Text, Box::new(e)))?;
    Ok(Artifact {
        id: ArtifactId(row.get(0)?),
        image: ImageId(row.get(1)?),
        digest: digest(row, 2)?,
        media_type: row.get(3)?,
        artifact_type: row.get(4)?,
        manifest_size: row.get(5)?,
        total_size: row.get(6)?,
        subject: parsed_opt(row, 7, Digest::parse)?,
        annotations: parsed(row, 8, |s| {
            serde_json::from_str::<BTreeMap<String, String>>(s)
        })?,
        tags,
        pushed_at: time(row, 9)?,
        pulled_at: time_opt(row, 10)?,
        pull_count: row.get(11)?,
    })
}

pub(crate) const BLOB: &str = "digest, size, first_seen, last_seen";

pub(crate) fn blob(row: &Row<'_>) -> rusqlite::Result<Blob> {
    Ok(Blob {
        digest: digest(row, 0)?,
        size: row.get(1)?,
        first_seen: time(row, 2)?,
        last_seen: time(row, 3)?,
    })
}

pub(crate) const UPLOAD: &str =
    "id, name, started, last_activity, repository, received, short_chunk";

pub(crate) fn upload(row: &Row<'_>) -> rusqlite::Result<UploadSession> {
    Ok(UploadSession {
        id: parsed(row, 0, UploadId::parse)?,
        name: name(row, 1)?,
        started: time(row, 2)?,
        last_activity: time(row, 3)?,
        repository: RepositoryId(row.get(4)?),
        received: row.get(5)?,
        short_chunk: row.get(6)?,
    })
}

/// Columns of `repository_users u`, its permissions last as a JSON array of `[repository,
/// permission]` sorted by repository name.
pub(crate) const REPOSITORY_USER: &str = "u.id, u.account, u.name, u.secret_hash, \
     u.description, u.expires, u.disabled, u.created, \
     (SELECT json_group_array(json_array(name, permission)) FROM \
        (SELECT r.name AS name, p.permission AS permission \
         FROM repository_user_permissions p JOIN repositories r ON r.id = p.repository \
         WHERE p.user = u.id ORDER BY r.name))";

pub(crate) fn repository_user(row: &Row<'_>) -> rusqlite::Result<RepositoryUser> {
    let pairs = parsed(row, 8, |s| serde_json::from_str::<Vec<(String, String)>>(s))?;
    let bad = |what: String| rusqlite::Error::FromSqlConversionFailure(8, Type::Text, what.into());
    let permissions = pairs
        .into_iter()
        .map(|(repository, permission)| {
            let name = RepositoryName::parse(&repository)
                .map_err(|e| bad(format!("repository {repository:?}: {e}")))?;
            let permission = Permission::parse(&permission)
                .ok_or_else(|| bad(format!("permission {permission:?}")))?;
            Ok((name, permission))
        })
        .collect::<rusqlite::Result<_>>()?;
    Ok(RepositoryUser {
        id: RepositoryUserId(row.get(0)?),
        account: AccountId(row.get(1)?),
        name: row.get(2)?,
        secret_hash: row.get(3)?,
        description: row.get(4)?,
        expires: time_opt(row, 5)?,
        disabled: row.get(6)?,
        permissions,
        created: time(row, 7)?,
    })
}

/// Columns of `history h` joined with `repositories r`.
pub(crate) const HISTORY: &str = "h.at, h.actor, h.action, r.name, h.image, h.target, h.detail";

pub(crate) fn history(row: &Row<'_>) -> rusqlite::Result<HistoryEvent> {
    Ok(HistoryEvent {
        at: time(row, 0)?,
        actor: row.get(1)?,
        action: parsed(row, 2, str::parse::<HistoryAction>)?,
        repository: parsed(row, 3, RepositoryName::parse)?,
        image: parsed_opt(row, 4, ImageName::parse)?,
        target: row.get(5)?,
        detail: row.get(6)?,
    })
}
