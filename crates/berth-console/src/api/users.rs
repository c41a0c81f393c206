//! Repository users: robot credentials with an expiry and per-repository permissions. Secrets
//! appear only in the answers to creation and refresh.

use berth_core::identity::RepositoryUserSpec;
use berth_meta::{Page, Permission, RepositoryUser, RepositoryUserUpdate, Timestamp};
use berth_model::RepositoryName;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ApiError, ApiResult, Call, Caller, ok};
use berth_core::identity::IdentityError;

/// A permission naming a repository that does not exist is a mistake in the request.
fn grant_error(e: IdentityError) -> ApiError {
    match e {
        IdentityError::NotFound {
            what: "repository",
            name,
        } => ApiError::invalid(format!("repository {name} does not exist in this account")),
        e => ApiError::identity(e),
    }
}
use crate::{Answer, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Grant {
    repository: String,
    permission: String,
}

fn permissions(grants: Vec<Grant>) -> ApiResult<Vec<(RepositoryName, Permission)>> {
    if grants.is_empty() {
        return Err(ApiError::invalid(
            "repositories needs at least one {\"repository\", \"permission\"}",
        ));
    }
    grants
        .into_iter()
        .map(|g| {
            let repository = RepositoryName::parse(&g.repository)
                .map_err(|e| ApiError::invalid(format!("repository {:?}: {e}", g.repository)))?;
            let permission = Permission::parse(&g.permission).ok_or_else(|| {
                ApiError::invalid(format!(
                    "permission {:?} is \"push_pull\" or \"pull\"",
                    g.permission
                ))
            })?;
            Ok((repository, permission))
        })
        .collect()
}

/// `expires_at`: a date or an RFC 3339 time, or null for never.
fn expiry(value: &Value) -> ApiResult<Option<Timestamp>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Timestamp::parse_rfc3339(s).map(Some).ok_or_else(|| {
            ApiError::invalid(format!(
                "expires_at {s:?} is a date YYYY-MM-DD or an RFC 3339 time, or null for never"
            ))
        }),
        _ => Err(ApiError::invalid(
            "expires_at is a date YYYY-MM-DD or an RFC 3339 time, or null for never",
        )),
    }
}

fn grants(value: &Value) -> ApiResult<Vec<(RepositoryName, Permission)>> {
    let grants: Vec<Grant> = serde_json::from_value(value.clone()).map_err(|e| {
        ApiError::invalid(format!(
            "repositories is a list of {{\"repository\", \"permission\"}}: {e}"
        ))
    })?;
    permissions(grants)
}

fn text(map: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(format!("{field} is a string"))),
    }
}

/// The repository user `name`, when the caller may see it (another account's is "not found").
async fn visible(call: &Call<'_>, caller: &Caller, name: &str) -> ApiResult<RepositoryUser> {
    let found = call
        .console
        .registry
        .metadata()
        .repository_user(name)
        .await
        .map_err(ApiError::meta)?;
    match found {
        Some(user) if caller.owns(user.account) => Ok(user),
        _ => Err(ApiError::not_found(format!(
            "repository user {name} does not exist"
        ))),
    }
}

pub(crate) async fn list(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let page = call.query.page()?;
    let identity = call.console.registry.identity();
    let now = call.console.registry.now();
    let Some(repository) = call.query.get("repository").filter(|r| !r.is_empty()) else {
        let found = identity
            .list_repository_users(account, page)
            .await
            .map_err(ApiError::identity)?;
        return ok(
            StatusCode::OK,
            json::paged(&found, page.page, page.size, |u| {
                json::repository_user(u, None, now)
            }),
        );
    };
    // An account has few repository users: filter them here, then page.
    let mut matching = Vec::new();
    for number in 1.. {
        let batch = identity
            .list_repository_users(
                account,
                Page {
                    page: number,
                    size: 500,
                },
            )
            .await
            .map_err(ApiError::identity)?;
        let done = batch.items.len() < 500;
        matching.extend(
            batch
                .items
                .into_iter()
                .filter(|u| u.permissions.iter().any(|(r, _)| r.as_str() == repository)),
        );
        if done {
            break;
        }
    }
    let total = matching.len() as u64;
    let items = matching
        .iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .map(|u| json::repository_user(u, None, now))
        .collect();
    ok(
        StatusCode::OK,
        json::page(items, page.page, page.size, total),
    )
}

pub(crate) async fn create(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let body = call
        .object(
            &caller,
            &["name", "description", "expires_at", "repositories"],
        )
        .await?;
    let spec = RepositoryUserSpec {
        name: text(&body, "name")?.filter(|n| !n.is_empty()),
        description: text(&body, "description")?.unwrap_or_default(),
        expires: body.get("expires_at").map(expiry).transpose()?.flatten(),
        permissions: grants(
            body.get("repositories")
                .ok_or_else(|| ApiError::invalid("repositories is required"))?,
        )?,
    };
    let created = call
        .console
        .registry
        .identity()
        .create_repository_user(account, spec)
        .await
        .map_err(grant_error)?;
    ok(
        StatusCode::CREATED,
        json::repository_user(
            &created.record,
            Some(&created.secret),
            call.console.registry.now(),
        ),
    )
}

pub(crate) async fn get(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let user = visible(call, &caller, name).await?;
    ok(
        StatusCode::OK,
        json::repository_user(&user, None, call.console.registry.now()),
    )
}

pub(crate) async fn update(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    visible(call, &caller, name).await?;
    let body = call
        .object(
            &caller,
            &["description", "expires_at", "disabled", "repositories"],
        )
        .await?;
    let disabled = match body.get("disabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::invalid("disabled is true or false")),
    };
    let update = RepositoryUserUpdate {
        description: text(&body, "description")?,
        expires: body.get("expires_at").map(expiry).transpose()?,
        disabled,
        permissions: body.get("repositories").map(grants).transpose()?,
        secret_hash: None,
    };
    let user = call
        .console
        .registry
        .identity()
        .update_repository_user(name, update)
        .await
        .map_err(grant_error)?;
    ok(
        StatusCode::OK,
        json::repository_user(&user, None, call.console.registry.now()),
    )
}

pub(crate) async fn delete(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    visible(call, &caller, name).await?;
    call.console
        .registry
        .identity()
        .delete_repository_user(name)
        .await
        .map_err(ApiError::identity)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn refresh_secret(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    visible(call, &caller, name).await?;
    let fresh = call
        .console
        .registry
        .identity()
        .refresh_secret(name)
        .await
        .map_err(ApiError::identity)?;
    ok(
        StatusCode::OK,
        json::repository_user(
            &fresh.record,
            Some(&fresh.secret),
            call.console.registry.now(),
        ),
    )
}
