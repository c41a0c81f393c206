//! Repository users: robot credentials with an expiry and per-repository permissions. Secrets
//! appear only in the answers to creation and refresh.

use berth_core::identity::RepositoryUserSpec;
use berth_meta::{Permission, RepositoryUserUpdate, Timestamp};
use berth_model::{RepositoryName, RepositoryUserName};
use berth_policy::Managed;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ApiError, ApiResult, Call, Caller, ok};

/// The repository user a path segment names: its full name, account prefix included. A segment
/// that is no valid name names no user: "not found", like a missing one.
fn user_name(segment: &str) -> ApiResult<RepositoryUserName> {
    RepositoryUserName::parse(segment)
        .map_err(|_| ApiError::not_found(format!("repository user {segment} does not exist")))
}

/// Refuses, from the request head, a caller that may not manage repository user `name` (another
/// account's is "not found").
async fn visible(call: &Call<'_>, caller: &Caller, name: &RepositoryUserName) -> ApiResult<()> {
    call.manager(caller)
        .repository_user(name)
        .await
        .map(drop)
        .map_err(ApiError::manage)
}
use berth_core::ManageError;
use berth_core::identity::IdentityError;

/// A permission naming a repository that does not exist is a mistake in the request.
fn grant_error(e: ManageError) -> ApiError {
    match e {
        ManageError::Identity(IdentityError::NotFound {
            what: "repository",
            name,
        }) => ApiError::invalid(format!("repository {name} does not exist in this account")),
        e => ApiError::manage(e),
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

pub(crate) async fn list(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let page = call.query.page()?;
    let repository = call.query.get("repository").filter(|r| !r.is_empty());
    let found = call
        .manager(&caller)
        .repository_users(account, repository, page)
        .await
        .map_err(ApiError::manage)?;
    let now = call.console.registry.now();
    ok(
        StatusCode::OK,
        json::paged(&found, page.page, page.size, |u| {
            json::repository_user(u, None, now)
        }),
    )
}

pub(crate) async fn create(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let account = caller.account(&call.query, call.console.config.default_account)?;
    call.manager(&caller)
        .may(Managed::Account(account))
        .map_err(ApiError::manage)?;
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
        .manager(&caller)
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

pub(crate) async fn get(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let name = user_name(segment)?;
    let user = call
        .manager(&caller)
        .repository_user(&name)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        json::repository_user(&user, None, call.console.registry.now()),
    )
}

pub(crate) async fn update(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let name = user_name(segment)?;
    visible(call, &caller, &name).await?;
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
        .manager(&caller)
        .update_repository_user(&name, update)
        .await
        .map_err(grant_error)?;
    ok(
        StatusCode::OK,
        json::repository_user(&user, None, call.console.registry.now()),
    )
}

pub(crate) async fn delete(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let name = user_name(segment)?;
    call.manager(&caller)
        .delete_repository_user(&name)
        .await
        .map_err(ApiError::manage)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn refresh_secret(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let name = user_name(segment)?;
    let fresh = call
        .manager(&caller)
        .refresh_secret(&name)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        json::repository_user(
            &fresh.record,
            Some(&fresh.secret),
            call.console.registry.now(),
        ),
    )
}
