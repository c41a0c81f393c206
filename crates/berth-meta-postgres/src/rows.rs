//! Rows into records: the column lists each query selects, and their decoders.

use std::collections::BTreeMap;

use berth_meta::*;
use berth_model::{Digest, ImageName, Name, RegistryName, RepositoryName, Tag, UploadId};
use tokio_postgres::Row;

use crate::db::{self, corrupt, get, get_opt_time, get_time, get_u64};

/// The columns [`repository`] decodes, from `repositories r`.
macro_rules! repository_columns {
    () => {
        "r.id, r.account, r.name, r.access, r.quota, r.used, r.image_count, r.created, \
         r.delete_orphan_referrers, r.proxy_namespace, \
         (SELECT g.name FROM remote_registries g WHERE g.id = r.proxy_registry) AS proxy_registry"
    };
}

/// The columns [`remote_registry`] decodes, from `remote_registries g`.
macro_rules! remote_registry_columns {
    () => {
        "g.id, g.account, g.name, g.url, g.username, g.password, g.insecure, g.created"
    };
}

/// The columns [`image`] decodes, from `images i`.
macro_rules! image_columns {
    () => {
        "i.id, i.repository, i.name, i.artifact_count, i.pull_count, i.last_push, i.last_pull"
    };
}

/// The columns [`artifact`] decodes, from `artifacts a`, with its tags in byte order.
macro_rules! artifact_columns {
    () => {
        "a.id, a.image, a.digest, a.media_type, a.artifact_type, a.manifest_size, a.total_size, \
         a.subject, a.annotations::text AS annotations, a.pushed_at, a.pulled_at, a.pull_count, \
         ARRAY(SELECT t.name FROM tags t WHERE t.artifact = a.id ORDER BY t.name) AS tags"
    };
}

/// The columns [`blob`] decodes, from `blobs b`.
macro_rules! blob_columns {
    () => {
        "b.digest, b.size, b.first_seen, b.last_seen"
    };
}

/// The columns [`upload`] decodes, from `uploads u`.
macro_rules! upload_columns {
    () => {
        "u.id, u.repository, u.name, u.received, u.short_chunk, u.started, u.last_activity"
    };
}

/// The columns [`repository_user`] decodes (without permissions), from `repository_users u`.
macro_rules! user_columns {
    () => {
        "u.id, u.account, u.name, u.secret_hash, u.description, u.expires, u.disabled, u.created"
    };
}

pub(crate) use {
    artifact_columns, blob_columns, image_columns, remote_registry_columns, repository_columns,
    upload_columns, user_columns,
};

pub(crate) fn repository_name(s: &str) -> Result<RepositoryName> {
    RepositoryName::parse(s).map_err(|e| corrupt(format!("repository name {s:?}: {e}")))
}

pub(crate) fn image_name(s: &str) -> Result<ImageName> {
    ImageName::parse(s).map_err(|e| corrupt(format!("image name {s:?}: {e}")))
}

pub(crate) fn digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| corrupt(format!("digest {s:?}: {e}")))
}

pub(crate) fn tag(s: &str) -> Result<Tag> {
    Tag::parse(s).map_err(|e| corrupt(format!("tag {s:?}: {e}")))
}

pub(crate) fn full_name(s: &str) -> Result<Name> {
    Name::parse(s).map_err(|e| corrupt(format!("name {s:?}: {e}")))
}

pub(crate) fn permission(s: &str) -> Result<Permission> {
    Permission::parse(s).ok_or_else(|| corrupt(format!("permission {s:?}")))
}

pub(crate) fn repository(row: &Row) -> Result<Repository> {
    let access: &str = get(row, "access")?;
    Ok(Repository {
        id: RepositoryId(get(row, "id")?),
        account: AccountId(get(row, "account")?),
        name: repository_name(get(row, "name")?)?,
        access: Access::parse(access).ok_or_else(|| corrupt(format!("access {access:?}")))?,
        quota: get::<Option<i64>>(row, "quota")?
            .map(crate::db::uint)
            .transpose()?,
        used: get_u64(row, "used")?,
        image_count: get_u64(row, "image_count")?,
        delete_orphan_referrers: get(row, "delete_orphan_referrers")?,
        proxy: match get::<Option<&str>>(row, "proxy_registry")? {
            Some(registry) => Some(Proxy {
                registry: registry_name(registry)?,
                namespace: get::<Option<&str>>(row, "proxy_namespace")?
                    .map(|n| ImageName::parse(n).map_err(|_| corrupt(format!("namespace {n:?}"))))
                    .transpose()?,
            }),
            None => None,
        },
        created: get_time(row, "created")?,
    })
}

pub(crate) fn registry_name(s: &str) -> Result<RegistryName> {
    RegistryName::parse(s).map_err(|_| corrupt(format!("registry name {s:?}")))
}

pub(crate) fn remote_registry(row: &Row) -> Result<RemoteRegistry> {
    Ok(RemoteRegistry {
        id: RemoteRegistryId(get(row, "id")?),
        account: AccountId(get(row, "account")?),
        name: registry_name(get(row, "name")?)?,
        url: get(row, "url")?,
        username: get(row, "username")?,
        sealed_password: get(row, "password")?,
        insecure: get(row, "insecure")?,
        created: get_time(row, "created")?,
    })
}

pub(crate) fn image(row: &Row) -> Result<Image> {
    Ok(Image {
        id: ImageId(get(row, "id")?),
        repository: RepositoryId(get(row, "repository")?),
        name: image_name(get(row, "name")?)?,
        artifact_count: get_u64(row, "artifact_count")?,
        pull_count: get_u64(row, "pull_count")?,
        last_push: get_opt_time(row, "last_push")?,
        last_pull: get_opt_time(row, "last_pull")?,
    })
}

pub(crate) fn artifact(row: &Row) -> Result<Artifact> {
    let annotations: &str = get(row, "annotations")?;
    let annotations: BTreeMap<String, String> = serde_json::from_str(annotations)
        .map_err(|e| corrupt(format!("annotations {annotations:?}: {e}")))?;
    Ok(Artifact {
        id: ArtifactId(get(row, "id")?),
        image: ImageId(get(row, "image")?),
        digest: digest(get(row, "digest")?)?,
        media_type: get(row, "media_type")?,
        artifact_type: get(row, "artifact_type")?,
        manifest_size: get_u64(row, "manifest_size")?,
        total_size: get_u64(row, "total_size")?,
        subject: get::<Option<&str>>(row, "subject")?
            .map(digest)
            .transpose()?,
        annotations,
        tags: get::<Vec<&str>>(row, "tags")?
            .into_iter()
            .map(tag)
            .collect::<Result<_>>()?,
        pushed_at: get_time(row, "pushed_at")?,
        pulled_at: get_opt_time(row, "pulled_at")?,
        pull_count: get_u64(row, "pull_count")?,
    })
}

pub(crate) fn blob(row: &Row) -> Result<Blob> {
    Ok(Blob {
        digest: digest(get(row, "digest")?)?,
        size: get_u64(row, "size")?,
        first_seen: get_time(row, "first_seen")?,
        last_seen: get_time(row, "last_seen")?,
    })
}

pub(crate) fn upload(row: &Row) -> Result<UploadSession> {
    let id: &str = get(row, "id")?;
    Ok(UploadSession {
        id: UploadId::parse(id).map_err(|e| corrupt(format!("upload id {id:?}: {e}")))?,
        repository: RepositoryId(get(row, "repository")?),
        name: full_name(get(row, "name")?)?,
        received: db::get_u64(row, "received")?,
        short_chunk: get(row, "short_chunk")?,
        started: get_time(row, "started")?,
        last_activity: get_time(row, "last_activity")?,
    })
}

/// A repository user without its permissions (the caller reads those separately).
pub(crate) fn repository_user(row: &Row) -> Result<RepositoryUser> {
    Ok(RepositoryUser {
        id: RepositoryUserId(get(row, "id")?),
        account: AccountId(get(row, "account")?),
        name: get(row, "name")?,
        secret_hash: get(row, "secret_hash")?,
        description: get(row, "description")?,
        expires: get_opt_time(row, "expires")?,
        disabled: get(row, "disabled")?,
        permissions: Vec::new(),
        created: get_time(row, "created")?,
    })
}

pub(crate) fn console_user(row: &Row) -> Result<ConsoleUser> {
    Ok(ConsoleUser {
        id: ConsoleUserId(get(row, "id")?),
        account: get::<Option<i64>>(row, "account")?.map(AccountId),
        username: get(row, "username")?,
        password_hash: get(row, "password_hash")?,
        disabled: get(row, "disabled")?,
        created: get_time(row, "created")?,
    })
}

pub(crate) fn console_session(row: &Row) -> Result<ConsoleSession> {
    Ok(ConsoleSession {
        id_hash: get(row, "id_hash")?,
        user: ConsoleUserId(get(row, "console_user")?),
        created: get_time(row, "created")?,
        expires: get_time(row, "expires")?,
    })
}

pub(crate) fn api_token(row: &Row) -> Result<ApiToken> {
    Ok(ApiToken {
        token_hash: get(row, "token_hash")?,
        user: ConsoleUserId(get(row, "console_user")?),
        description: get(row, "description")?,
        created: get_time(row, "created")?,
        expires: get_opt_time(row, "expires")?,
    })
}

/// A history event, from `history h` with its repository's name as `repository`.
pub(crate) fn event(row: &Row) -> Result<HistoryEvent> {
    Ok(HistoryEvent {
        at: get_time(row, "at")?,
        actor: get(row, "actor")?,
        action: {
            let text: &str = get(row, "action")?;
            text.parse::<HistoryAction>()
                .map_err(|e| corrupt(e.to_string()))?
        },
        repository: repository_name(get(row, "repository")?)?,
        image: get::<Option<&str>>(row, "image")?
            .map(image_name)
            .transpose()?,
        target: get(row, "target")?,
        detail: get(row, "detail")?,
    })
}
