//! Repositories, their images, artifacts, tags, push commands and history.

use berth_meta::{Access, NewRepository, Proxy, Repository, RepositoryUpdate};
use berth_model::{Digest, ImageName, Name, Reference, RegistryName, RepositoryName, Tag};
use berth_policy::Managed;
use http::StatusCode;
use serde_json::Value;

use super::{ApiError, ApiResult, Call, Caller, ok, repository_name};
use crate::{Answer, json};

/// The repository named by a path segment, when the caller may manage it. Another account's
/// repository is "not found", exactly like a missing one: its existence is not told.
pub(crate) async fn visible(
    call: &Call<'_>,
    caller: &Caller,
    segment: &str,
) -> ApiResult<Repository> {
    let name = repository_name(segment)?;
    call.manager(caller)
        .repository(&name)
        .await
        .map_err(ApiError::manage)
}

fn image_name(call: &Call<'_>, repository: &RepositoryName) -> ApiResult<Name> {
    image_name_from(call, "image", repository)
}

/// The image of `repository` named by query parameter `parameter`.
fn image_name_from(
    call: &Call<'_>,
    parameter: &str,
    repository: &RepositoryName,
) -> ApiResult<Name> {
    let image = call.query.require(parameter)?;
    let image =
        ImageName::parse(image).map_err(|e| ApiError::not_found(format!("image {image}: {e}")))?;
    Name::new(repository.clone(), image).map_err(|e| ApiError::invalid(e.to_string()))
}

pub(crate) async fn list(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let page = call.query.page()?;
    let found = call
        .manager(&caller)
        .repositories(account, page)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        json::paged(&found, page.page, page.size, json::repository),
    )
}

/// `access_level` from a JSON value.
fn access(value: &Value) -> ApiResult<Access> {
    value
        .as_str()
        .and_then(Access::parse)
        .ok_or_else(|| ApiError::invalid("access_level is \"private\" or \"public\""))
}

/// `quota_bytes`: a whole number of bytes, or null for no limit.
fn quota(value: &Value) -> ApiResult<Option<u64>> {
    match value {
        Value::Null => Ok(None),
        v => v.as_u64().map(Some).ok_or_else(|| {
            ApiError::invalid("quota_bytes is a whole number of bytes, or null for no limit")
        }),
    }
}

/// `proxy`: `{"registry", "namespace"?}` (a remote registry of the account, and the upstream
/// prefix), or null for an ordinary repository.
fn proxy(value: &Value) -> ApiResult<Option<Proxy>> {
    const SHAPE: &str =
        "proxy is {\"registry\": NAME, \"namespace\": PREFIX} (namespace optional), or null";
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        _ => return Err(ApiError::invalid(SHAPE)),
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !["registry", "namespace"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "unknown field proxy.{unknown}; expected registry, namespace"
        )));
    }
    let registry = object
        .get("registry")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid(SHAPE))?;
    let registry = RegistryName::parse(registry)
        .map_err(|e| ApiError::invalid(format!("proxy.registry: {e}")))?;
    let namespace = match object.get("namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(
            ImageName::parse(s)
                .map_err(|e| ApiError::invalid(format!("proxy.namespace {s:?}: {e}")))?,
        ),
        Some(_) => return Err(ApiError::invalid(SHAPE)),
    };
    Ok(Some(Proxy {
        registry,
        namespace,
    }))
}

fn flag(value: &Value, field: &str) -> ApiResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| ApiError::invalid(format!("{field} is true or false")))
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
            &[
                "name",
                "access_level",
                "quota_bytes",
                "delete_orphan_referrers",
                "proxy",
            ],
        )
        .await?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("name is required"))?;
    let name = RepositoryName::parse(name)
        .map_err(|e| ApiError::invalid(format!("repository name {name:?}: {e}")))?;
    let access = match body.get("access_level") {
        Some(v) => access(v)?,
        None => Access::Private,
    };
    let quota = match body.get("quota_bytes") {
        Some(v) => quota(v)?,
        None => None,
    };
    let new = NewRepository {
        account,
        name: name.clone(),
        access,
        quota,
        delete_orphan_referrers: match body.get("delete_orphan_referrers") {
            Some(v) => flag(v, "delete_orphan_referrers")?,
            None => true,
        },
        proxy: body.get("proxy").map(proxy).transpose()?.flatten(),
    };
    let created = call
        .manager(&caller)
        .create_repository(new)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::CREATED, json::repository(&created))
}

pub(crate) async fn get(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    ok(StatusCode::OK, json::repository(&repository))
}

pub(crate) async fn update(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let body = call
        .object(
            &caller,
            &[
                "access_level",
                "quota_bytes",
                "delete_orphan_referrers",
                "proxy",
            ],
        )
        .await?;
    if body.contains_key("proxy") {
        return Err(ApiError::invalid(
            "proxy is set when a repository is created and cannot be changed; create another repository",
        ));
    }
    let update = RepositoryUpdate {
        access: body.get("access_level").map(access).transpose()?,
        quota: body.get("quota_bytes").map(quota).transpose()?,
        delete_orphan_referrers: body
            .get("delete_orphan_referrers")
            .map(|v| flag(v, "delete_orphan_referrers"))
            .transpose()?,
    };
    let updated = call
        .manager(&caller)
        .update_repository(&repository.name, update)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::OK, json::repository(&updated))
}

pub(crate) async fn delete(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    call.manager(&caller)
        .delete_repository(&repository.name)
        .await
        .map_err(ApiError::manage)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn images(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let page = call.query.page()?;
    let filter = call.query.get("name").filter(|f| !f.is_empty());
    let found = call
        .manager(&caller)
        .images(&repository.name, filter, page)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        json::paged(&found, page.page, page.size, json::image),
    )
}

pub(crate) async fn artifacts(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let name = image_name(call, &repository.name)?;
    let page = call.query.page()?;
    let found = call
        .manager(&caller)
        .artifacts(&name, page)
        .await
        .map_err(ApiError::manage)?;
    let host = call.registry_host();
    let to = call.registry_address(&host);
    ok(
        StatusCode::OK,
        json::paged(&found, page.page, page.size, |a| {
            json::artifact(a, to, &name)
        }),
    )
}

pub(crate) async fn delete_artifact(call: &Call<'_>, segment: &str, digest: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let name = image_name(call, &repository.name)?;
    let digest =
        Digest::parse(digest).map_err(|e| ApiError::invalid(format!("digest {digest:?}: {e}")))?;
    call.console
        .registry
        .delete_manifest(&caller.principal, &name, &Reference::Digest(digest))
        .await
        .map_err(ApiError::engine)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

/// Deletes an image (`?name=`) with every artifact and tag of it.
pub(crate) async fn delete_image(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let name = image_name_from(call, "name", &repository.name)?;
    call.console
        .registry
        .delete_image(&caller.principal, &name)
        .await
        .map_err(ApiError::engine)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn delete_tag(call: &Call<'_>, segment: &str, tag: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let name = image_name(call, &repository.name)?;
    let tag = Tag::parse(tag).map_err(|e| ApiError::invalid(format!("tag {tag:?}: {e}")))?;
    call.console
        .registry
        .delete_manifest(&caller.principal, &name, &Reference::Tag(tag))
        .await
        .map_err(ApiError::engine)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

/// The largest config blob an artifact's page shows (read whole into memory).
const CONFIG_SHOWN_LIMIT: u64 = 256 << 10;

/// One artifact whole: its record, manifest, config, layers, platforms and referrers. Reading it
/// is not a pull.
pub(crate) async fn artifact(call: &Call<'_>, segment: &str, digest: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let name = image_name(call, &repository.name)?;
    let digest =
        Digest::parse(digest).map_err(|e| ApiError::invalid(format!("digest {digest:?}: {e}")))?;
    let content = call
        .manager(&caller)
        .artifact_content(&name, &digest, CONFIG_SHOWN_LIMIT)
        .await
        .map_err(ApiError::manage)?;
    let host = call.registry_host();
    ok(
        StatusCode::OK,
        json::artifact_content(&content, call.registry_address(&host), &name),
    )
}

pub(crate) async fn push_commands(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let host = call.registry_host();
    let image = call
        .query
        .get("image")
        .filter(|i| ImageName::parse(i).is_ok())
        .unwrap_or("IMAGE");
    // A repository user's name to fill in; only characters a shell takes as one word.
    let user = call
        .query
        .get("user")
        .filter(|u| {
            !u.is_empty()
                && u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
        })
        .unwrap_or("REPOSITORY_USER");
    ok(
        StatusCode::OK,
        json::push_commands(call.registry_address(&host), &repository.name, image, user),
    )
}

pub(crate) async fn history(call: &Call<'_>, segment: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let repository = visible(call, &caller, segment).await?;
    let page = call.query.page()?;
    let found = call
        .manager(&caller)
        .history(&repository.name, page)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        json::paged(&found, page.page, page.size, json::history_event),
    )
}
