//! Records as the management API shows them (the OpenAPI document's schemas). The `berth admin`
//! commands print the same objects, so what one creates the other lists alike.

use berth_meta::{
    Account, ApiToken, Artifact, ConsoleUser, HistoryEvent, Image, Paged, Repository,
    RepositoryUser, Timestamp,
};
use berth_model::Name;
use serde_json::{Value, json};

/// A repository (`Repository`).
pub fn repository(r: &Repository) -> Value {
    json!({
        "name": r.name.as_str(),
        "access_level": r.access.as_str(),
        "quota_bytes": r.quota,
        "used_bytes": r.used,
        "image_count": r.image_count,
        "delete_orphan_referrers": r.delete_orphan_referrers,
        "created_at": r.created.rfc3339(),
    })
}

/// An image (`Image`).
pub fn image(i: &Image) -> Value {
    json!({
        "name": i.name.as_str(),
        "artifact_count": i.artifact_count,
        "pull_count": i.pull_count,
        "last_modified_at": i.last_modified().map(Timestamp::rfc3339),
        "last_push_at": i.last_push.map(Timestamp::rfc3339),
        "last_pull_at": i.last_pull.map(Timestamp::rfc3339),
    })
}

/// Config media types of container images (OCI and Docker).
const IMAGE_CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// An artifact (`Artifact`), with the pull commands for `host`.
pub fn artifact(a: &Artifact, host: &str, name: &Name) -> Value {
    let mut commands = vec![json!({
        "kind": "digest",
        "reference": a.digest.to_string(),
        "command": format!("docker pull {host}/{name}@{}", a.digest),
    })];
    commands.extend(a.tags.iter().map(|tag| {
        json!({
            "kind": "tag",
            "reference": tag.as_str(),
            "command": format!("docker pull {host}/{name}:{tag}"),
        })
    }));
    // For a plain image the stored artifact type is its config's media type (the referrers
    // API's rule); the console shows an artifact type only for other artifacts.
    let artifact_type = a
        .artifact_type
        .as_deref()
        .filter(|t| !IMAGE_CONFIG_TYPES.contains(t));
    json!({
        "digest": a.digest.to_string(),
        "media_type": a.media_type,
        "artifact_type": artifact_type,
        "tags": a.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "size": a.total_size,
        "push_time": a.pushed_at.rfc3339(),
        "pull_time": a.pulled_at.map(Timestamp::rfc3339),
        "pull_count": a.pull_count,
        "pull_commands": commands,
    })
}

/// A history event (`HistoryEvent`).
pub fn history_event(e: &HistoryEvent) -> Value {
    json!({
        "at": e.at.rfc3339(),
        "actor": e.actor,
        "action": e.action.as_str(),
        "image": e.image.as_ref().map(|i| i.as_str().to_owned()),
        "target": e.target,
        "detail": e.detail,
    })
}

/// A repository user (`RepositoryUser`), with its secret when it was just made
/// (`RepositoryUserWithSecret`).
pub fn repository_user(u: &RepositoryUser, secret: Option<&str>, now: Timestamp) -> Value {
    let mut value = json!({
        "name": u.name,
        "description": u.description,
        "expires_at": u.expires.map(Timestamp::rfc3339),
        "expired": berth_core::identity::is_expired(u, now),
        "disabled": u.disabled,
        "repositories": u.permissions.iter().map(|(r, p)| json!({
            "repository": r.as_str(),
            "permission": p.as_str(),
        })).collect::<Vec<_>>(),
        "created_at": u.created.rfc3339(),
    });
    if let Some(secret) = secret {
        value["secret"] = Value::String(secret.to_owned());
    }
    value
}

/// An account (`Account`).
pub fn account(a: &Account) -> Value {
    json!({"id": a.id.0, "name": a.name, "created_at": a.created.rfc3339()})
}

/// A console user (`ConsoleUser`); never its password hash.
pub fn console_user(u: &ConsoleUser) -> Value {
    json!({
        "username": u.username,
        "account": u.account.map(|a| a.0),
        "role": if u.account.is_some() { "console" } else { "admin" },
        "disabled": u.disabled,
        "created_at": u.created.rfc3339(),
    })
}

/// The id of an API token as the API names it: the first 16 hex digits of its hash.
/// An API token (`ApiToken`), with the token itself when it was just made (`ApiTokenCreated`).
pub fn api_token(t: &ApiToken, token: Option<&str>) -> Value {
    let mut value = json!({
        "id": t.id(),
        "description": t.description,
        "created_at": t.created.rfc3339(),
        "expires_at": t.expires.map(Timestamp::rfc3339),
    });
    if let Some(token) = token {
        value["token"] = Value::String(token.to_owned());
    }
    value
}

/// A page of a list: `items`, `page`, `size`, `total`.
pub fn page(items: Vec<Value>, page: u32, size: u32, total: u64) -> Value {
    json!({"items": items, "page": page, "size": size, "total": total})
}

/// A page of records.
pub fn paged<T>(found: &Paged<T>, page_no: u32, size: u32, each: impl Fn(&T) -> Value) -> Value {
    page(
        found.items.iter().map(each).collect(),
        page_no,
        size,
        found.total,
    )
}
