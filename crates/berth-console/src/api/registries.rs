//! Remote registries of an account: the upstreams proxy repositories pull through. A password
//! goes in (the engine seals it) and never comes out: answers say only `has_password`. Ping
//! asks the registry itself, through the engine's client.

use berth_core::{RemoteRegistryChange, RemoteRegistrySpec};
use berth_meta::{AccountId, RemoteRegistry};
use berth_model::RegistryName;
use berth_policy::Managed;
use http::StatusCode;
use serde_json::{Map, Value};

use super::{ApiError, ApiResult, Call, Caller, ok};
use crate::{Answer, json};

/// The registry a path segment names; one that does not parse names none: "not found".
fn registry_name(segment: &str) -> ApiResult<RegistryName> {
    RegistryName::parse(segment)
        .map_err(|_| ApiError::not_found(format!("registry {segment} does not exist")))
}

/// The account and the registry the request names, when the caller may manage it; another
/// account's is "not found", exactly like a missing one.
async fn visible(
    call: &Call<'_>,
    caller: &Caller,
    segment: &str,
) -> ApiResult<(AccountId, RemoteRegistry)> {
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let name = registry_name(segment)?;
    let registry = call
        .manager(caller)
        .registry(account, &name)
        .await
        .map_err(ApiError::manage)?;
    Ok((account, registry))
}

/// A string field, absent or given.
pub(super) fn text(body: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(format!("{field} is a string"))),
    }
}

/// A string field that null removes: absent (`None`), null (`Some(None)`) or given.
pub(super) fn removable(
    body: &Map<String, Value>,
    field: &str,
) -> ApiResult<Option<Option<String>>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::invalid(format!(
            "{field} is a string, or null to remove it"
        ))),
    }
}

pub(super) fn flag(body: &Map<String, Value>, field: &str) -> ApiResult<Option<bool>> {
    body.get(field)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| ApiError::invalid(format!("{field} is true or false")))
        })
        .transpose()
}

pub(crate) async fn list(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let page = call.query.page()?;
    let found = call
        .manager(&caller)
        .registries(account)
        .await
        .map_err(ApiError::manage)?;
    let items = found
        .iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .map(json::remote_registry)
        .collect();
    ok(
        StatusCode::OK,
        json::page(items, page.page, page.size, found.len() as u64),
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
            &["name", "url", "username", "password", "insecure"],
        )
        .await?;
    let name = text(&body, "name")?.ok_or_else(|| ApiError::invalid("name is required"))?;
    let name = RegistryName::parse(&name).map_err(|e| ApiError::invalid(e.to_string()))?;
    let url = text(&body, "url")?.ok_or_else(|| ApiError::invalid("url is required"))?;
    let spec = RemoteRegistrySpec {
        name,
        url,
        username: removable(&body, "username")?.flatten(),
        password: removable(&body, "password")?.flatten(),
        insecure: flag(&body, "insecure")?.unwrap_or(false),
    };
    let created = call
        .manager(&caller)
        .create_registry(account, spec)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::CREATED, json::remote_registry(&created))
}

pub(crate) async fn get(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (_, registry) = visible(call, &caller, segment).await?;
    ok(StatusCode::OK, json::remote_registry(&registry))
}

pub(crate) async fn update(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, registry) = visible(call, &caller, segment).await?;
    let body = call
        .object(&caller, &["url", "username", "password", "insecure"])
        .await?;
    let change = RemoteRegistryChange {
        url: text(&body, "url")?,
        username: removable(&body, "username")?,
        password: removable(&body, "password")?,
        insecure: flag(&body, "insecure")?,
    };
    let updated = call
        .manager(&caller)
        .update_registry(account, &registry.name, change)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::OK, json::remote_registry(&updated))
}

pub(crate) async fn delete(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, registry) = visible(call, &caller, segment).await?;
    call.manager(&caller)
        .delete_registry(account, &registry.name)
        .await
        .map_err(ApiError::manage)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

/// Asks the registry whether it answers and accepts the stored credentials; what it found is
/// the answer (200), whatever the remote did.
pub(crate) async fn ping(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, registry) = visible(call, &caller, segment).await?;
    let ping = call
        .manager(&caller)
        .ping_registry(account, &registry.name)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        serde_json::json!({
            "reachable": ping.reachable,
            "authenticated": ping.authenticated,
            "message": ping.message,
        }),
    )
}
