//! `berth admin ...` and `berth gc`: the same store as `serve`, from the command line, with
//! `--json` for scripts. The JSON objects are the management API's (`berth_console::json`), so
//! what one creates the other lists alike.

use std::path::Path;
use std::sync::Arc;

use berth_console::json;
use berth_core::identity::{ConsoleUserChange, RepositoryUserSpec};
use berth_core::{Manager, Registry};
use berth_meta::{
    Access, AccountId, NewRepository, Page, Permission, Proxy, RepositoryUpdate,
    RepositoryUserUpdate, Timestamp,
};
use berth_model::{ImageName, RegistryName, RepositoryName, RepositoryUserName};
use berth_policy::{Principal, human_bytes};
use serde_json::Value;

use crate::config::{Config, parse_size};

mod registries;

pub(crate) use registries::{
    RegistryArgs, create_registry, delete_registry, list_registries, ping_registry, update_registry,
};

/// An expiry as given on the command line: a date, or `never` (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expiry(pub(crate) Option<Timestamp>);

pub(crate) fn parse_expiry(s: &str) -> Result<Expiry, String> {
    if s == "never" {
        return Ok(Expiry(None));
    }
    Timestamp::parse_date(s)
        .map(|t| Expiry(Some(t)))
        .ok_or_else(|| format!("expiry {s:?} must be a date YYYY-MM-DD or `never`"))
}

/// `REPO=push_pull` or `REPO=pull`.
pub(crate) fn parse_permission(s: &str) -> Result<(RepositoryName, Permission), String> {
    let (repo, permission) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write REPOSITORY=push_pull or REPOSITORY=pull"))?;
    let repo = RepositoryName::parse(repo).map_err(|e| format!("repository {repo:?}: {e}"))?;
    let permission = Permission::parse(permission)
        .ok_or_else(|| format!("{s:?}: the permission is push_pull or pull"))?;
    Ok((repo, permission))
}

/// The quota flag: a size, or `none` (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota(pub(crate) Option<u64>);

pub(crate) fn parse_quota(s: &str) -> Result<Quota, String> {
    if s == "none" || s == "unlimited" {
        return Ok(Quota(None));
    }
    parse_size(s).map(|b| Quota(Some(b)))
}

/// The engine's management operations, as the system administrator (history records "admin").
fn admin(registry: &Registry) -> Manager<'_> {
    registry.manage(Principal::SystemAdmin, None)
}

/// What one admin command prints.
#[derive(Debug)]
pub(crate) struct Output {
    /// For `--json`.
    pub(crate) json: Value,
    /// For people.
    pub(crate) text: String,
}

fn repository_line(value: &Value) -> String {
    let quota = value["quota_bytes"]
        .as_u64()
        .map(human_bytes)
        .unwrap_or_else(|| "no limit".into());
    let proxy = match value["proxy"]["registry"].as_str() {
        Some(registry) => match value["proxy"]["namespace"].as_str() {
            Some(namespace) => format!("\tproxy of {registry}/{namespace}"),
            None => format!("\tproxy of {registry}"),
        },
        None => String::new(),
    };
    format!(
        "{}\t{}\t{} used of {}\t{} images{proxy}",
        value["name"].as_str().unwrap_or_default(),
        value["access_level"].as_str().unwrap_or_default(),
        human_bytes(value["used_bytes"].as_u64().unwrap_or(0)),
        quota,
        value["image_count"]
    )
}

pub(crate) async fn create_repository(
    registry: &Registry,
    account: AccountId,
    name: &str,
    access: &str,
    quota: Option<u64>,
    proxy: Option<(&str, Option<&str>)>,
) -> Result<Output, String> {
    let name = RepositoryName::parse(name).map_err(|e| format!("repository name {name:?}: {e}"))?;
    let access =
        Access::parse(access).ok_or_else(|| format!("access {access:?}: use private or public"))?;
    let proxy = proxy
        .map(|(registry, namespace)| -> Result<Proxy, String> {
            Ok(Proxy {
                registry: RegistryName::parse(registry)
                    .map_err(|e| format!("--proxy-registry: {e}"))?,
                namespace: namespace
                    .map(|n| {
                        ImageName::parse(n).map_err(|e| format!("--proxy-namespace {n:?}: {e}"))
                    })
                    .transpose()?,
            })
        })
        .transpose()?;
    let new = NewRepository {
        account,
        name,
        access,
        quota,
        delete_orphan_referrers: true,
        proxy,
    };
    let repository = admin(registry)
        .create_repository(new)
        .await
        .map_err(|e| format!("cannot create the repository: {e}"))?;
    let json = json::repository(&repository);
    Ok(Output {
        text: format!("created repository {}", repository_line(&json)),
        json,
    })
}

/// Changes a repository's access level or quota (`Some(None)`: no limit).
pub(crate) async fn update_repository(
    registry: &Registry,
    name: &str,
    access: Option<&str>,
    quota: Option<Option<u64>>,
) -> Result<Output, String> {
    let name = RepositoryName::parse(name).map_err(|e| format!("repository name {name:?}: {e}"))?;
    let access = access
        .map(|a| Access::parse(a).ok_or_else(|| format!("access {a:?}: use private or public")))
        .transpose()?;
    if access.is_none() && quota.is_none() {
        return Err("nothing to change: give --access or --quota".into());
    }
    let update = RepositoryUpdate {
        access,
        quota,
        ..RepositoryUpdate::default()
    };
    let repository = admin(registry)
        .update_repository(&name, update)
        .await
        .map_err(|e| format!("cannot update repository {name}: {e}"))?;
    let json = json::repository(&repository);
    Ok(Output {
        text: format!("updated repository {}", repository_line(&json)),
        json,
    })
}

/// Deletes a repository that holds no artifacts (delete its images first).
pub(crate) async fn delete_repository(registry: &Registry, name: &str) -> Result<Output, String> {
    let name = RepositoryName::parse(name).map_err(|e| format!("repository name {name:?}: {e}"))?;
    admin(registry)
        .delete_repository(&name)
        .await
        .map_err(|e| format!("cannot delete repository {name}: {e}"))?;
    Ok(Output {
        json: serde_json::json!({"deleted": name.to_string()}),
        text: format!("deleted repository {name}"),
    })
}

pub(crate) async fn list_repositories(
    registry: &Registry,
    account: AccountId,
) -> Result<Output, String> {
    let mut items = Vec::new();
    for page in 1.. {
        let found = admin(registry)
            .repositories(account, Page { page, size: 500 })
            .await
            .map_err(|e| format!("cannot list repositories: {e}"))?;
        let done = found.items.len() < 500;
        for r in &found.items {
            items.push(json::repository(r));
        }
        if done {
            break;
        }
    }
    let text = items
        .iter()
        .map(repository_line)
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Output {
        json: Value::Array(items),
        text: if text.is_empty() {
            "no repositories".into()
        } else {
            text
        },
    })
}

fn user_line(value: &Value) -> String {
    let repositories = value["repositories"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    format!(
                        "{}={}",
                        r["repository"].as_str().unwrap_or_default(),
                        r["permission"].as_str().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let expiry = match (value["expired"].as_bool(), value["expires_at"].as_str()) {
        (Some(true), Some(at)) => format!("locked (expired {at})"),
        (_, Some(at)) => format!("expires {at}"),
        _ => "never expires".into(),
    };
    format!(
        "{}\t{repositories}\t{expiry}",
        value["name"].as_str().unwrap_or_default()
    )
}

fn with_secret(value: Value, secret: &str, verb: &str) -> Output {
    let text = format!(
        "{verb} repository user {}\nsecret: {secret}\n(the secret is shown once; keep it now)",
        user_line(&value)
    );
    Output { json: value, text }
}

/// What `admin user create` and `update` take besides the name.
pub(crate) struct UserArgs {
    pub(crate) repositories: Vec<(RepositoryName, Permission)>,
    pub(crate) expires: Option<Option<Timestamp>>,
    pub(crate) description: Option<String>,
}

/// Creates a repository user named `name` (with or without the account prefix; generated when
/// `None`) in `account`.
pub(crate) async fn create_user(
    registry: &Registry,
    account: AccountId,
    name: Option<String>,
    args: UserArgs,
) -> Result<Output, String> {
    if args.repositories.is_empty() {
        return Err("give at least one --repository REPOSITORY=push_pull|pull".into());
    }
    let spec = RepositoryUserSpec {
        name,
        description: args.description.unwrap_or_default(),
        expires: args.expires.flatten(),
        permissions: args.repositories,
    };
    let created = admin(registry)
        .create_repository_user(account, spec)
        .await
        .map_err(|e| format!("cannot create the user: {e}"))?;
    let value = json::repository_user(&created.record, Some(&created.secret), registry.now());
    Ok(with_secret(value, &created.secret, "created"))
}

/// The user `given` names in `account`, with or without its prefix.
fn user_name(account: AccountId, given: &str) -> Result<RepositoryUserName, String> {
    RepositoryUserName::for_account(account, given).map_err(|e| e.to_string())
}

/// Changes the repository user `name` (with or without the prefix of `account`).
pub(crate) async fn update_user(
    registry: &Registry,
    account: AccountId,
    name: &str,
    args: UserArgs,
) -> Result<Output, String> {
    let name = user_name(account, name)?;
    let update = RepositoryUserUpdate {
        description: args.description,
        expires: args.expires,
        permissions: (!args.repositories.is_empty()).then_some(args.repositories),
        ..RepositoryUserUpdate::default()
    };
    let user = admin(registry)
        .update_repository_user(&name, update)
        .await
        .map_err(|e| format!("cannot update {name}: {e}"))?;
    let json = json::repository_user(&user, None, registry.now());
    Ok(Output {
        text: format!("updated repository user {}", user_line(&json)),
        json,
    })
}

/// Replaces the secret of repository user `name` (with or without the prefix of `account`).
pub(crate) async fn refresh_secret(
    registry: &Registry,
    account: AccountId,
    name: &str,
) -> Result<Output, String> {
    let name = user_name(account, name)?;
    let fresh = admin(registry)
        .refresh_secret(&name)
        .await
        .map_err(|e| format!("cannot refresh the secret of {name}: {e}"))?;
    let value = json::repository_user(&fresh.record, Some(&fresh.secret), registry.now());
    Ok(with_secret(value, &fresh.secret, "new secret for"))
}

/// Deletes repository user `name` (with or without the prefix of `account`); its credentials
/// stop working.
pub(crate) async fn delete_user(
    registry: &Registry,
    account: AccountId,
    name: &str,
) -> Result<Output, String> {
    let name = user_name(account, name)?;
    admin(registry)
        .delete_repository_user(&name)
        .await
        .map_err(|e| format!("cannot delete {name}: {e}"))?;
    Ok(Output {
        json: serde_json::json!({"deleted": name.to_string()}),
        text: format!("deleted repository user {name}"),
    })
}

/// The account's repository users; with `repository`, those with a permission on it.
pub(crate) async fn list_users(
    registry: &Registry,
    account: AccountId,
    repository: Option<&str>,
) -> Result<Output, String> {
    let mut items = Vec::new();
    for page in 1.. {
        let found = admin(registry)
            .repository_users(account, repository, Page { page, size: 500 })
            .await
            .map_err(|e| format!("cannot list users: {e}"))?;
        let done = found.items.len() < 500;
        let now = registry.now();
        items.extend(
            found
                .items
                .iter()
                .map(|u| json::repository_user(u, None, now)),
        );
        if done {
            break;
        }
    }
    let text = items.iter().map(user_line).collect::<Vec<_>>().join("\n");
    Ok(Output {
        json: Value::Array(items),
        text: if text.is_empty() {
            "no repository users".into()
        } else {
            text
        },
    })
}

pub(crate) async fn create_account(
    registry: &Registry,
    id: AccountId,
    name: &str,
) -> Result<Output, String> {
    let account = admin(registry)
        .create_account(id, name)
        .await
        .map_err(|e| format!("cannot create account {id}: {e}"))?;
    Ok(Output {
        text: format!("created account {} ({})", account.id, account.name),
        json: json::account(&account),
    })
}

pub(crate) async fn list_accounts(registry: &Registry) -> Result<Output, String> {
    let mut items = Vec::new();
    let mut lines = Vec::new();
    for page in 1.. {
        let found = admin(registry)
            .accounts(Page { page, size: 500 })
            .await
            .map_err(|e| format!("cannot list accounts: {e}"))?;
        let done = found.items.len() < 500;
        for a in &found.items {
            lines.push(format!("{}\t{}", a.id, a.name));
            items.push(json::account(a));
        }
        if done {
            break;
        }
    }
    Ok(Output {
        json: Value::Array(items),
        text: lines.join("\n"),
    })
}

/// Creates a console user of `account` (`None`: a system administrator) with a password read
/// from the first line of standard input, so it never shows in a process listing.
pub(crate) async fn create_console_user(
    registry: &Registry,
    account: Option<AccountId>,
    username: &str,
) -> Result<Output, String> {
    let password = read_password()?;
    let password = password.as_str();
    let user = admin(registry)
        .create_console_user(account, username, password)
        .await
        .map_err(|e| format!("cannot create console user {username}: {e}"))?;
    let role = match user.account {
        Some(a) => format!("console user of account {a}"),
        None => "system administrator".to_owned(),
    };
    Ok(Output {
        text: format!("created {role} {}", user.username),
        json: json::console_user(&user),
    })
}

/// A password from the first line of standard input, so it never shows in a process listing
/// or the shell's history.
pub(crate) fn read_password() -> Result<String, String> {
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("give the password on standard input, e.g. `read -rs p; printf '%s\\n' \"$p\" | berth admin ...`".into());
    }
    Ok(password)
}

fn console_user_line(value: &Value) -> String {
    let role = match value["account"].as_i64() {
        Some(a) => format!("console user of account {a}"),
        None => "system administrator".to_owned(),
    };
    let state = if value["disabled"].as_bool() == Some(true) {
        "disabled"
    } else {
        "active"
    };
    format!(
        "{}\t{role}\t{state}",
        value["username"].as_str().unwrap_or_default()
    )
}

/// An account's console users (`None`: the system administrators).
pub(crate) async fn list_console_users(
    registry: &Registry,
    account: Option<AccountId>,
) -> Result<Output, String> {
    let mut items = Vec::new();
    for page in 1.. {
        let found = admin(registry)
            .console_users(account, Page { page, size: 100 })
            .await
            .map_err(|e| format!("cannot list console users: {e}"))?;
        let done = found.items.len() < 100;
        items.extend(found.items.iter().map(json::console_user));
        if done {
            break;
        }
    }
    let text = if items.is_empty() {
        "no console users".to_owned()
    } else {
        items
            .iter()
            .map(console_user_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output {
        json: Value::Array(items),
        text,
    })
}

/// Changes a console user's password or disabled flag; its sessions and API tokens end (on
/// running nodes within a second).
pub(crate) async fn change_console_user(
    registry: &Registry,
    username: &str,
    change: ConsoleUserChange,
    verb: &str,
) -> Result<Output, String> {
    let ends = change.password.is_some() || change.disabled == Some(true);
    let user = admin(registry)
        .update_console_user(username, change)
        .await
        .map_err(|e| format!("cannot change console user {username}: {e}"))?;
    let value = json::console_user(&user);
    let mut text = format!("{verb} {}", console_user_line(&value));
    if ends {
        text.push_str("\nits console sessions and API tokens have ended");
    }
    Ok(Output { json: value, text })
}

/// Deletes a console user with its sessions and API tokens.
pub(crate) async fn delete_console_user(
    registry: &Registry,
    username: &str,
) -> Result<Output, String> {
    admin(registry)
        .delete_console_user(username)
        .await
        .map_err(|e| format!("cannot delete console user {username}: {e}"))?;
    Ok(Output {
        json: serde_json::json!({"deleted": username}),
        text: format!("deleted console user {username}"),
    })
}

fn api_token_line(value: &Value) -> String {
    let expiry = match value["expires_at"].as_str() {
        Some(at) => format!("expires {at}"),
        None => "never expires".into(),
    };
    format!(
        "{}\tcreated {}\t{expiry}\t{}",
        value["id"].as_str().unwrap_or_default(),
        value["created_at"].as_str().unwrap_or_default(),
        value["description"].as_str().unwrap_or_default(),
    )
}

/// The API tokens of console user `username`, newest first (ids and labels, never the tokens).
pub(crate) async fn list_api_tokens(registry: &Registry, username: &str) -> Result<Output, String> {
    let tokens = admin(registry)
        .api_tokens_of(username)
        .await
        .map_err(|e| format!("cannot list the API tokens of {username}: {e}"))?;
    let items: Vec<Value> = tokens.iter().map(|t| json::api_token(t, None)).collect();
    let text = if items.is_empty() {
        format!("no API tokens for {username}")
    } else {
        items
            .iter()
            .map(api_token_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output {
        json: Value::Array(items),
        text,
    })
}

/// Creates an API token acting as console user `username`; the token is printed once.
pub(crate) async fn create_api_token(
    registry: &Registry,
    username: &str,
    description: &str,
    expires: Option<Timestamp>,
) -> Result<Output, String> {
    let created = admin(registry)
        .create_api_token_for(username, description, expires)
        .await
        .map_err(|e| format!("cannot create an API token for {username}: {e}"))?;
    let value = json::api_token(&created.record, Some(&created.secret));
    Ok(Output {
        text: format!(
            "created API token {} for console user {username}\ntoken: {}\n(the token is shown \
             once; keep it now)",
            api_token_line(&value),
            created.secret
        ),
        json: value,
    })
}

/// Revokes console user `username`'s API token `id`.
pub(crate) async fn revoke_api_token(
    registry: &Registry,
    username: &str,
    id: &str,
) -> Result<Output, String> {
    admin(registry)
        .delete_api_token_of(username, id)
        .await
        .map_err(|e| format!("cannot revoke API token {id} of {username}: {e}"))?;
    Ok(Output {
        json: serde_json::json!({"deleted": id, "user": username}),
        text: format!("revoked API token {id} of console user {username}"),
    })
}

/// Deletes an image (`REPOSITORY/IMAGE`) with every artifact and tag of it.
pub(crate) async fn delete_image(registry: &Registry, name: &str) -> Result<Output, String> {
    let name = berth_model::Name::parse(name)
        .map_err(|e| format!("image {name:?} (write REPOSITORY/IMAGE): {e}"))?;
    let artifacts = registry
        .delete_image(&Principal::SystemAdmin, &name)
        .await
        .map_err(|e| format!("cannot delete {name}: {e}"))?;
    Ok(Output {
        json: serde_json::json!({"deleted": name.to_string(), "artifacts_deleted": artifacts}),
        text: format!("deleted image {name} and its {artifacts} artifacts"),
    })
}

/// `berth admin backup FILE`: the metadata, copied consistently while the server runs; says
/// what else a restore needs (the blobs, and the token and sealing keys when they are not
/// configured).
pub(crate) async fn backup(config: &Config, dest: &Path) -> Result<Output, String> {
    let db = crate::backends::backup_metadata(config, dest).await?;
    let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    let blobs = match &config.storage.s3 {
        Some(s3) => format!("the bucket {}", s3.bucket),
        None => config.data_dir.join("blobs").display().to_string(),
    };
    let mut text = format!(
        "backed up {} to {} ({})\nblobs are not in it: copy {blobs} now, after it",
        db.display(),
        dest.display(),
        human_bytes(bytes)
    );
    if config.auth.token_key.is_none() {
        let key = config.data_dir.join("token.key");
        text.push_str(&format!(
            " (and {}, or console sessions end at the restore)",
            key.display()
        ));
    }
    if config.auth.sealing_key.is_none() {
        let key = config.data_dir.join("sealing.key");
        text.push_str(&format!(
            " (and {}, or remote registries' passwords do not open after the restore)",
            key.display()
        ));
    }
    Ok(Output {
        json: serde_json::json!({
            "backup": dest.display().to_string(),
            "database": db.display().to_string(),
            "bytes": bytes,
        }),
        text,
    })
}

pub(crate) async fn gc(registry: &Arc<Registry>) -> Result<Output, String> {
    let report = registry
        .collect_garbage()
        .await
        .map_err(|e| format!("garbage collection failed: {e}"))?;
    Ok(Output {
        json: serde_json::json!({
            "blobs_deleted": report.blobs,
            "bytes_freed": report.bytes,
            "uploads_removed": report.uploads,
            "cached_artifacts_evicted": report.evicted,
        }),
        text: format!(
            "deleted {} blobs ({}), removed {} idle uploads and {} unpulled cached artifacts",
            report.blobs,
            human_bytes(report.bytes),
            report.uploads,
            report.evicted
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_values_parse_or_say_why_not() {
        assert_eq!(parse_expiry("never").unwrap(), Expiry(None));
        assert_eq!(
            parse_expiry("2030-01-31").unwrap(),
            Expiry(Timestamp::parse_date("2030-01-31"))
        );
        assert!(parse_expiry("tomorrow").unwrap_err().contains("YYYY-MM-DD"));
        let (repo, permission) = parse_permission("team-a=pull").unwrap();
        assert_eq!((repo.as_str(), permission), ("team-a", Permission::Pull));
        assert!(parse_permission("team-a").is_err());
        assert!(
            parse_permission("team-a=push")
                .unwrap_err()
                .contains("push_pull")
        );
        assert_eq!(parse_quota("none").unwrap(), Quota(None));
        assert_eq!(parse_quota("1KiB").unwrap(), Quota(Some(1024)));
    }

    /// An API token is created for a console user by name, printed once, listed by id only,
    /// and revoked by that id.
    #[tokio::test]
    async fn api_tokens_are_created_listed_and_revoked_by_user_name() {
        let registry = Registry::in_memory(&[]).await.unwrap();
        admin(&registry)
            .create_console_user(None, "ops", "a long enough password")
            .await
            .unwrap();
        let created = create_api_token(&registry, "ops", "deploy", None)
            .await
            .unwrap();
        let token = created.json["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("berth_"), "{token}");
        assert!(created.text.contains(&token), "{}", created.text);
        let id = created.json["id"].as_str().unwrap().to_owned();

        let listed = list_api_tokens(&registry, "ops").await.unwrap();
        assert_eq!(listed.json[0]["id"], id.as_str());
        assert_eq!(listed.json[0]["description"], "deploy");
        assert!(listed.json[0].get("token").is_none());
        assert!(!listed.text.contains(&token));

        let missing = list_api_tokens(&registry, "nobody").await.unwrap_err();
        assert!(
            missing.contains("console user nobody does not exist"),
            "{missing}"
        );
        revoke_api_token(&registry, "ops", &id).await.unwrap();
        let again = revoke_api_token(&registry, "ops", &id).await.unwrap_err();
        assert!(again.contains("does not exist"), "{again}");
        assert_eq!(
            list_api_tokens(&registry, "ops").await.unwrap().json,
            Value::Array(vec![])
        );
    }

    /// A user created as `ci` is updated and refreshed as `ci` or by its full name, in the
    /// account given; another account's prefix is refused, not prefixed again.
    #[tokio::test]
    async fn users_are_named_with_or_without_the_account_prefix() {
        let team = RepositoryName::parse("team-a").unwrap();
        let registry = Registry::in_memory(std::slice::from_ref(&team))
            .await
            .unwrap();
        let account = AccountId(1);
        let args = || UserArgs {
            repositories: vec![(team.clone(), Permission::Pull)],
            expires: None,
            description: None,
        };
        let created = create_user(&registry, account, Some("ci".into()), args())
            .await
            .unwrap();
        assert_eq!(created.json["name"], "1-ci");
        let updated = update_user(
            &registry,
            account,
            "ci",
            UserArgs {
                description: Some("nightly".into()),
                ..args()
            },
        )
        .await
        .unwrap();
        assert_eq!(updated.json["name"], "1-ci");
        assert_eq!(updated.json["description"], "nightly");
        let fresh = refresh_secret(&registry, account, "1-ci").await.unwrap();
        assert_eq!(fresh.json["name"], "1-ci");

        let foreign = update_user(&registry, account, "2-ci", args())
            .await
            .unwrap_err();
        assert!(
            foreign.contains("prefix 2- of another account"),
            "{foreign}"
        );
        let invalid = refresh_secret(&registry, account, "CI").await.unwrap_err();
        assert!(
            invalid.contains("lowercase letters and digits"),
            "{invalid}"
        );
        let missing = refresh_secret(&registry, account, "cd").await.unwrap_err();
        assert!(missing.contains("1-cd does not exist"), "{missing}");
    }
}
