//! Records as the management API shows them (the OpenAPI document's schemas). The `berth admin`
//! commands print the same objects, so what one creates the other lists alike.

use berth_core::ArtifactContent;
use berth_meta::{
    Account, ApiToken, Artifact, ConsoleUser, HistoryEvent, Image, Paged, Proxy, RemoteRegistry,
    Repository, RepositoryUser, Timestamp,
};
use berth_model::{Descriptor, Name, Platform, RepositoryName};
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
        "proxy": r.proxy.as_ref().map(proxy),
        "created_at": r.created.rfc3339(),
    })
}

/// What makes a repository a proxy (`Proxy`): its remote registry and upstream prefix.
pub fn proxy(p: &Proxy) -> Value {
    json!({
        "registry": p.registry.as_str(),
        "namespace": p.namespace.as_ref().map(|n| n.as_str()),
    })
}

/// A remote registry (`RemoteRegistry`); never its password, sealed or not: only whether it
/// has one.
pub fn remote_registry(r: &RemoteRegistry) -> Value {
    json!({
        "name": r.name.as_str(),
        "url": r.url,
        "username": r.username,
        "has_password": r.sealed_password.is_some(),
        "insecure": r.insecure,
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

/// Where clients reach the registry, for the commands the API words.
#[derive(Debug, Clone, Copy)]
pub struct RegistryAddress<'a> {
    /// Host and port.
    pub host: &'a str,
    /// Whether clients reach it over plain HTTP (podman then needs `--tls-verify=false`, and
    /// docker an `insecure-registries` entry).
    pub plain_http: bool,
}

impl RegistryAddress<'_> {
    /// `podman VERB` with the plain-HTTP flag when it is needed.
    fn podman(&self, verb: &str) -> String {
        if self.plain_http {
            format!("podman {verb} --tls-verify=false")
        } else {
            format!("podman {verb}")
        }
    }
}

/// A pull command (`PullCommand`) of `name` at `at` (`@digest` or `:tag`).
fn pull_command(
    kind: &str,
    reference: &str,
    at: &str,
    to: RegistryAddress<'_>,
    name: &Name,
) -> Value {
    let host = to.host;
    json!({
        "kind": kind,
        "reference": reference,
        "command": format!("docker pull {host}/{name}{at}"),
        "podman": format!("{} {host}/{name}{at}", to.podman("pull")),
    })
}

/// An artifact (`Artifact`), with the pull commands for `to`.
pub fn artifact(a: &Artifact, to: RegistryAddress<'_>, name: &Name) -> Value {
    let digest = a.digest.to_string();
    let mut commands = vec![pull_command(
        "digest",
        &digest,
        &format!("@{digest}"),
        to,
        name,
    )];
    commands.extend(
        a.tags
            .iter()
            .map(|tag| pull_command("tag", tag.as_str(), &format!(":{tag}"), to, name)),
    );
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

/// A descriptor of a manifest (`Descriptor`): digest, media type, size, and the title a file
/// of an OCI artifact carries.
fn descriptor(d: &Descriptor) -> Value {
    json!({
        "digest": d.digest().to_string(),
        "media_type": d.media_type(),
        "size": d.size(),
        "title": d.annotation("org.opencontainers.image.title"),
    })
}

/// `os/architecture[/variant]`, the way docker and podman name a platform.
fn platform_text(p: &Platform) -> String {
    let mut text = format!("{}/{}", p.os, p.architecture);
    if let Some(variant) = &p.variant {
        text.push('/');
        text.push_str(variant);
    }
    text
}

/// One artifact whole (`ArtifactContent`): the artifact, its manifest as stored (the exact
/// text), its config (with the blob's JSON when the page may show it), layers, the platforms
/// of an index, its subject and its referrers, each with its pull commands for `to`.
pub fn artifact_content(c: &ArtifactContent, to: RegistryAddress<'_>, name: &Name) -> Value {
    let manifest = &c.manifest;
    // The exact text (a JSON document, so UTF-8): re-serialised, its keys would be reordered.
    let document = String::from_utf8_lossy(manifest.bytes());
    let config = manifest.config().map(|d| {
        let mut value = descriptor(d);
        value["content"] = c
            .config
            .as_ref()
            .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
            .filter(Value::is_object)
            .unwrap_or(Value::Null);
        value
    });
    let platforms: Vec<Value> = manifest
        .manifests()
        .iter()
        .map(|d| {
            let digest = d.digest().to_string();
            let mut value = descriptor(d);
            value["platform"] = d.platform().map(platform_text).into();
            value["pull_command"] =
                pull_command("digest", &digest, &format!("@{digest}"), to, name);
            value
        })
        .collect();
    json!({
        "artifact": artifact(&c.artifact, to, name),
        "manifest": document,
        "config": config,
        "layers": manifest.layers().iter().map(descriptor).collect::<Vec<_>>(),
        "platforms": platforms,
        "subject": manifest.subject().map(|s| s.digest().to_string()),
        "referrers": c.referrers.iter().map(|r| artifact(r, to, name)).collect::<Vec<_>>(),
    })
}

/// The commands to log in, tag, push and pull (`PushCommands`) for `image` of `repository`,
/// for docker and podman. The secret is read from standard input (`--password-stdin`), never
/// given on the command line, where `ps` and the shell's history would keep it.
pub fn push_commands(
    to: RegistryAddress<'_>,
    repository: &RepositoryName,
    image: &str,
    user: &str,
) -> Value {
    let host = to.host;
    let target = format!("{host}/{repository}/{image}");
    let stdin = "echo \"$REGISTRY_SECRET\" |";
    let docker_note = to.plain_http.then(|| {
        format!(
            "This registry is served over plain HTTP: docker refuses it until {host} is listed \
             in \"insecure-registries\" in /etc/docker/daemon.json and the docker daemon is \
             restarted."
        )
    });
    json!({
        "host": host,
        "plain_http": to.plain_http,
        "login": format!("{stdin} docker login {host} --username {user} --password-stdin"),
        "tag": format!("docker tag SOURCE_IMAGE[:TAG] {target}[:TAG]"),
        "push": format!("docker push {target}[:TAG]"),
        "pull": format!("docker pull {target}[:TAG]"),
        "docker_note": docker_note,
        "podman": {
            "login": format!("{stdin} {} {host} --username {user} --password-stdin", to.podman("login")),
            "tag": format!("podman tag SOURCE_IMAGE[:TAG] {target}[:TAG]"),
            "push": format!("{} {target}[:TAG]", to.podman("push")),
            "pull": format!("{} {target}[:TAG]", to.podman("pull")),
        },
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

/// A replication rule (`ReplicationRule`).
pub fn replication_rule(r: &berth_meta::ReplicationRule) -> Value {
    let trigger = match r.trigger {
        berth_meta::Trigger::Schedule { every_secs } => json!({
            "type": "schedule",
            "interval": berth_core::format_interval(every_secs),
        }),
        other => json!({ "type": other.kind() }),
    };
    json!({
        "name": r.name,
        "direction": r.direction.as_str(),
        "registry": r.registry_name.as_str(),
        "source": r.source,
        "destination": r.destination,
        "tag_filter": r.tag_filter,
        "trigger": trigger,
        "delete_propagation": r.delete_propagation,
        "copy_referrers": r.copy_referrers,
        "enabled": r.enabled,
        "bandwidth_limit": r.bandwidth_limit,
        "created_at": r.created.rfc3339(),
        "last_scheduled_at": r.scheduled.map(Timestamp::rfc3339),
    })
}

/// An execution of a replication rule, with its failed artifacts (`ExecutionReport`).
pub fn execution(report: &berth_core::ExecutionReport) -> Value {
    let e = &report.execution;
    let failures: Vec<Value> = report
        .failures
        .iter()
        .map(|t| {
            let error = match &t.state {
                berth_meta::TaskState::Failed { error } => error.as_str(),
                _ => "",
            };
            let separator = if t.task.reference.contains(':') {
                "@"
            } else {
                ":"
            };
            json!({
                "image": t.task.image,
                "reference": format!("{}{separator}{}", t.task.image, t.task.reference),
                "action": t.task.action.as_str(),
                "error": error,
            })
        })
        .collect();
    json!({
        "id": e.id.0,
        "rule": report.rule,
        "status": e.status.as_str(),
        "trigger": e.trigger,
        "started_at": e.started.rfc3339(),
        "finished_at": e.finished.map(Timestamp::rfc3339),
        "artifacts_total": e.artifacts_total,
        "artifacts_copied": e.artifacts_copied,
        "artifacts_skipped": e.artifacts_skipped,
        "artifacts_failed": e.artifacts_failed,
        "bytes": e.bytes,
        "error": e.error,
        "failures": failures,
    })
}
