//! Replication rules of an account and their executions. A rule copies between one of the
//! account's repositories and one of its remote registries; `POST .../executions` starts a run
//! (202), and the executions list shows progress and each failed artifact with its error.

use berth_core::{ReplicationRuleChange, ReplicationRuleSpec, parse_interval};
use berth_meta::{AccountId, Direction, ExecutionId, ReplicationRule, Trigger};
use berth_model::RegistryName;
use berth_policy::Managed;
use http::StatusCode;
use serde_json::{Map, Value};

use super::registries::{flag, removable, text};
use super::{ApiError, ApiResult, Call, Caller, ok};
use crate::{Answer, json};

/// The fields a rule's JSON may carry.
const FIELDS: [&str; 11] = [
    "name",
    "direction",
    "registry",
    "source",
    "destination",
    "tag_filter",
    "trigger",
    "delete_propagation",
    "copy_referrers",
    "enabled",
    "bandwidth_limit",
];

/// The account and the rule the request names, when the caller may manage it; another
/// account's is "not found", exactly like a missing one.
async fn visible(
    call: &Call<'_>,
    caller: &Caller,
    name: &str,
) -> ApiResult<(AccountId, ReplicationRule)> {
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let rule = call
        .manager(caller)
        .replication_rule(account, name)
        .await
        .map_err(ApiError::manage)?;
    Ok((account, rule))
}

fn direction(body: &Map<String, Value>) -> ApiResult<Option<Direction>> {
    text(body, "direction")?
        .map(|d| {
            Direction::parse(&d)
                .ok_or_else(|| ApiError::invalid(format!("direction is push or pull, not {d:?}")))
        })
        .transpose()
}

fn trigger(body: &Map<String, Value>) -> ApiResult<Option<Trigger>> {
    let Some(value) = body.get("trigger") else {
        return Ok(None);
    };
    let shape = || {
        ApiError::invalid(
            r#"trigger is {"type": "manual"}, {"type": "event"} or {"type": "schedule", "interval": "1h"}"#,
        )
    };
    let object = value.as_object().ok_or_else(shape)?;
    if let Some(extra) = object.keys().find(|k| *k != "type" && *k != "interval") {
        return Err(ApiError::invalid(format!("trigger has no field {extra:?}")));
    }
    match object.get("type").and_then(Value::as_str) {
        Some("manual") => Ok(Some(Trigger::Manual)),
        Some("event") => Ok(Some(Trigger::Event)),
        Some("schedule") => {
            let interval = object
                .get("interval")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::invalid("a schedule trigger needs an interval, such as \"1h\"")
                })?;
            let every_secs = parse_interval(interval).map_err(ApiError::invalid)?;
            Ok(Some(Trigger::Schedule { every_secs }))
        }
        _ => Err(shape()),
    }
}

/// `bandwidth_limit`: bytes per second, or null for none.
fn bandwidth(body: &Map<String, Value>) -> ApiResult<Option<Option<u64>>> {
    match body.get("bandwidth_limit") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_u64()
            .filter(|&n| n > 0)
            .map(|n| Some(Some(n)))
            .ok_or_else(|| {
                ApiError::invalid("bandwidth_limit is a number of bytes per second, or null")
            }),
    }
}

fn registry(body: &Map<String, Value>) -> ApiResult<Option<RegistryName>> {
    text(body, "registry")?
        .map(|r| {
            RegistryName::parse(&r)
                .map_err(|_| ApiError::invalid(format!("registry {r} does not exist")))
        })
        .transpose()
}

pub(crate) async fn list(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let account = caller.account(&call.query, call.console.config.default_account)?;
    let page = call.query.page()?;
    let found = call
        .manager(&caller)
        .replication_rules(account)
        .await
        .map_err(ApiError::manage)?;
    let items = found
        .iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .map(json::replication_rule)
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
    let body = call.object(&caller, &FIELDS).await?;
    let required = |field: &str, value: Option<String>| {
        value.ok_or_else(|| ApiError::invalid(format!("{field} is required")))
    };
    let spec = ReplicationRuleSpec {
        name: required("name", text(&body, "name")?)?,
        direction: direction(&body)?.ok_or_else(|| ApiError::invalid("direction is required"))?,
        registry: registry(&body)?.ok_or_else(|| ApiError::invalid("registry is required"))?,
        source: required("source", text(&body, "source")?)?,
        destination: required("destination", text(&body, "destination")?)?,
        tag_filter: removable(&body, "tag_filter")?.flatten(),
        trigger: trigger(&body)?.unwrap_or(Trigger::Manual),
        delete_propagation: flag(&body, "delete_propagation")?.unwrap_or(false),
        copy_referrers: flag(&body, "copy_referrers")?.unwrap_or(true),
        enabled: flag(&body, "enabled")?.unwrap_or(true),
        bandwidth_limit: bandwidth(&body)?.flatten(),
    };
    let created = call
        .manager(&caller)
        .create_replication_rule(account, spec)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::CREATED, json::replication_rule(&created))
}

pub(crate) async fn get(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (_, rule) = visible(call, &caller, name).await?;
    ok(StatusCode::OK, json::replication_rule(&rule))
}

pub(crate) async fn update(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, rule) = visible(call, &caller, name).await?;
    let body = call.object(&caller, &FIELDS[1..]).await?;
    let change = ReplicationRuleChange {
        direction: direction(&body)?,
        registry: registry(&body)?,
        source: text(&body, "source")?,
        destination: text(&body, "destination")?,
        tag_filter: removable(&body, "tag_filter")?,
        trigger: trigger(&body)?,
        delete_propagation: flag(&body, "delete_propagation")?,
        copy_referrers: flag(&body, "copy_referrers")?,
        enabled: flag(&body, "enabled")?,
        bandwidth_limit: bandwidth(&body)?,
    };
    let updated = call
        .manager(&caller)
        .update_replication_rule(account, &rule.name, change)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::OK, json::replication_rule(&updated))
}

pub(crate) async fn delete(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, rule) = visible(call, &caller, name).await?;
    call.manager(&caller)
        .delete_replication_rule(account, &rule.name)
        .await
        .map_err(ApiError::manage)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

/// Starts an execution: 202 with it (`running`, not yet planned).
pub(crate) async fn run(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, rule) = visible(call, &caller, name).await?;
    let report = call
        .manager(&caller)
        .run_replication_rule(account, &rule.name)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::ACCEPTED, json::execution(&report))
}

/// The latest executions, newest first (`?n=`, at most 100, default 20).
pub(crate) async fn executions(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, rule) = visible(call, &caller, name).await?;
    let limit = match call.query.get("n") {
        None => 20,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid("n is a number from 1 to 100"))?,
    };
    let reports = call
        .manager(&caller)
        .replication_executions(account, &rule.name, limit)
        .await
        .map_err(ApiError::manage)?;
    let items: Vec<Value> = reports.iter().map(json::execution).collect();
    ok(StatusCode::OK, serde_json::json!({ "items": items }))
}

pub(crate) async fn execution(call: &Call<'_>, name: &str, id: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let (account, rule) = visible(call, &caller, name).await?;
    let id = id
        .parse::<i64>()
        .map(ExecutionId)
        .map_err(|_| ApiError::not_found(format!("execution {id} does not exist")))?;
    let report = call
        .manager(&caller)
        .replication_execution(account, &rule.name, id)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::OK, json::execution(&report))
}
