//! Replication rules, executions and their tasks. A lease is claimed, renewed and checked in
//! the writer's `BEGIN IMMEDIATE` transactions, so two nodes never hold one at once.

use berth_meta::{
    AccountId, Entity, Error, ExecutionId, ExecutionStatus, NewReplicationRule, NewTask,
    ReplicationExecution, ReplicationRule, ReplicationRuleId, ReplicationRuleUpdate,
    ReplicationTask, TaskState, Timestamp,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Res, unique};
use crate::rows;

fn rule_sql(filter: &str) -> String {
    format!(
        "SELECT {} FROM replication_rules r JOIN remote_registries g ON g.id = r.registry {filter}",
        rows::REPLICATION_RULE
    )
}

fn registry_of(c: &Connection, account: AccountId, id: berth_meta::RemoteRegistryId) -> Res<()> {
    let found = c
        .prepare_cached("SELECT 1 FROM remote_registries WHERE id = ?1 AND account = ?2")?
        .exists(params![id.0, account.0])?;
    if found {
        Ok(())
    } else {
        Err(Error::not_found(Entity::RemoteRegistry, id).into())
    }
}

fn limit(n: Option<u64>) -> Option<i64> {
    n.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

pub(crate) fn create(
    c: &Connection,
    new: &NewReplicationRule,
    at: Timestamp,
) -> Res<ReplicationRule> {
    registry_of(c, new.account, new.registry)?;
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO replication_rules (account, name, direction, registry, source, \
             destination, tag_filter, trigger, every_secs, delete_propagation, copy_referrers, \
             enabled, bandwidth_limit, created) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
        )?
        .query_row(
            params![
                new.account.0,
                new.name,
                new.direction.as_str(),
                new.registry.0,
                new.source,
                new.destination,
                new.tag_filter,
                new.trigger.kind(),
                limit(new.trigger.every_secs()),
                new.delete_propagation,
                new.copy_referrers,
                new.enabled,
                limit(new.bandwidth_limit),
                at.unix_millis()
            ],
            |r| r.get(0),
        )
        .map_err(unique(Entity::ReplicationRule, &new.name))?;
    by_id(c, ReplicationRuleId(id))?
        .ok_or_else(|| Error::not_found(Entity::ReplicationRule, &new.name).into())
}

fn by_id(c: &Connection, id: ReplicationRuleId) -> Res<Option<ReplicationRule>> {
    Ok(c.prepare_cached(&rule_sql("WHERE r.id = ?1"))?
        .query_row([id.0], rows::replication_rule)
        .optional()?)
}

pub(crate) fn get(c: &Connection, account: AccountId, name: &str) -> Res<Option<ReplicationRule>> {
    Ok(
        c.prepare_cached(&rule_sql("WHERE r.account = ?1 AND r.name = ?2"))?
            .query_row(params![account.0, name], rows::replication_rule)
            .optional()?,
    )
}

pub(crate) fn list(c: &Connection, account: Option<AccountId>) -> Res<Vec<ReplicationRule>> {
    let sql = rule_sql("WHERE ?1 IS NULL OR r.account = ?1 ORDER BY r.account, r.name");
    let mut statement = c.prepare_cached(&sql)?;
    let found = statement
        .query_map([account.map(|a| a.0)], rows::replication_rule)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

pub(crate) fn update(
    c: &Connection,
    account: AccountId,
    name: &str,
    u: &ReplicationRuleUpdate,
) -> Res<ReplicationRule> {
    let Some(current) = get(c, account, name)? else {
        return Err(Error::not_found(Entity::ReplicationRule, name).into());
    };
    if let Some(registry) = u.registry {
        registry_of(c, account, registry)?;
    }
    let trigger = u.trigger.unwrap_or(current.trigger);
    c.prepare_cached(
        "UPDATE replication_rules SET direction = ?2, registry = ?3, source = ?4, \
         destination = ?5, tag_filter = ?6, trigger = ?7, every_secs = ?8, \
         delete_propagation = ?9, copy_referrers = ?10, enabled = ?11, bandwidth_limit = ?12 \
         WHERE id = ?1",
    )?
    .execute(params![
        current.id.0,
        u.direction.unwrap_or(current.direction).as_str(),
        u.registry.unwrap_or(current.registry).0,
        u.source.as_ref().unwrap_or(&current.source),
        u.destination.as_ref().unwrap_or(&current.destination),
        u.tag_filter.as_ref().unwrap_or(&current.tag_filter),
        trigger.kind(),
        limit(trigger.every_secs()),
        u.delete_propagation.unwrap_or(current.delete_propagation),
        u.copy_referrers.unwrap_or(current.copy_referrers),
        u.enabled.unwrap_or(current.enabled),
        limit(u.bandwidth_limit.unwrap_or(current.bandwidth_limit)),
    ])?;
    by_id(c, current.id)?.ok_or_else(|| Error::not_found(Entity::ReplicationRule, name).into())
}

pub(crate) fn delete(c: &Connection, account: AccountId, name: &str) -> Res<()> {
    let Some(rule) = get(c, account, name)? else {
        return Err(Error::not_found(Entity::ReplicationRule, name).into());
    };
    c.prepare_cached(
        "DELETE FROM replication_tasks WHERE execution IN \
         (SELECT id FROM replication_executions WHERE rule = ?1)",
    )?
    .execute([rule.id.0])?;
    c.prepare_cached("DELETE FROM replication_executions WHERE rule = ?1")?
        .execute([rule.id.0])?;
    c.prepare_cached("DELETE FROM replication_rules WHERE id = ?1")?
        .execute([rule.id.0])?;
    Ok(())
}

/// The first rule (by name) of `account` that uses registry `id`.
pub(crate) fn rule_using(c: &Connection, id: i64) -> Res<Option<String>> {
    Ok(c.prepare_cached(
        "SELECT name FROM replication_rules WHERE registry = ?1 ORDER BY name LIMIT 1",
    )?
    .query_row([id], |r| r.get(0))
    .optional()?)
}

pub(crate) fn mark_scheduled(
    c: &Connection,
    rule: ReplicationRuleId,
    previous: Option<Timestamp>,
    at: Timestamp,
) -> Res<bool> {
    let changed = c
        .prepare_cached(
            "UPDATE replication_rules SET scheduled = ?3 WHERE id = ?1 AND scheduled IS ?2",
        )?
        .execute(params![
            rule.0,
            previous.map(Timestamp::unix_millis),
            at.unix_millis()
        ])?;
    Ok(changed == 1)
}

fn insert_tasks(c: &Connection, id: i64, first: u64, tasks: &[NewTask]) -> Res<()> {
    let mut insert = c.prepare_cached(
        "INSERT INTO replication_tasks (execution, seq, image, reference, action) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, task) in tasks.iter().enumerate() {
        insert.execute(params![
            id,
            first + i as u64,
            task.image,
            task.reference,
            task.action.as_str()
        ])?;
    }
    Ok(())
}

pub(crate) fn create_execution(
    c: &Connection,
    rule: ReplicationRuleId,
    trigger: &str,
    tasks: Option<&[NewTask]>,
    at: Timestamp,
) -> Res<ReplicationExecution> {
    if by_id(c, rule)?.is_none() {
        return Err(Error::not_found(Entity::ReplicationRule, rule).into());
    }
    let total = tasks.map_or(0, <[NewTask]>::len) as u64;
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO replication_executions (rule, trigger, status, planned, started, total) \
             VALUES (?1, ?2, 'running', ?3, ?4, ?5) RETURNING id",
        )?
        .query_row(
            params![rule.0, trigger, tasks.is_some(), at.unix_millis(), total],
            |r| r.get(0),
        )?;
    if let Some(tasks) = tasks {
        insert_tasks(c, id, 0, tasks)?;
    }
    execution(c, ExecutionId(id))?.ok_or_else(|| Error::not_found(Entity::Execution, id).into())
}

pub(crate) fn execution(c: &Connection, id: ExecutionId) -> Res<Option<ReplicationExecution>> {
    let sql = format!(
        "SELECT {} FROM replication_executions e WHERE e.id = ?1",
        rows::EXECUTION
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([id.0], rows::execution)
        .optional()?)
}

pub(crate) fn list_executions(
    c: &Connection,
    rule: ReplicationRuleId,
    n: usize,
) -> Res<Vec<ReplicationExecution>> {
    let sql = format!(
        "SELECT {} FROM replication_executions e WHERE e.rule = ?1 ORDER BY e.id DESC LIMIT ?2",
        rows::EXECUTION
    );
    let mut statement = c.prepare_cached(&sql)?;
    let found = statement
        .query_map(params![rule.0, rows::limit(n)], rows::execution)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

pub(crate) fn claim(
    c: &Connection,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> Res<Option<ReplicationExecution>> {
    let id: Option<i64> = c
        .prepare_cached(
            "UPDATE replication_executions SET lease_owner = ?1, lease_until = ?3 \
             WHERE id = (SELECT id FROM replication_executions WHERE status = 'running' \
             AND (lease_until IS NULL OR lease_until < ?2) ORDER BY id LIMIT 1) RETURNING id",
        )?
        .query_row(
            params![owner, now.unix_millis(), until.unix_millis()],
            |r| r.get(0),
        )
        .optional()?;
    match id {
        Some(id) => execution(c, ExecutionId(id)),
        None => Ok(None),
    }
}

/// Whether `owner` holds the lease of running execution `id`.
fn held(c: &Connection, id: ExecutionId, owner: &str) -> Res<bool> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM replication_executions WHERE id = ?1 AND lease_owner = ?2 \
         AND status = 'running'",
    )?
    .exists(params![id.0, owner])?)
}

pub(crate) fn renew(c: &Connection, id: ExecutionId, owner: &str, until: Timestamp) -> Res<bool> {
    let changed = c
        .prepare_cached(
            "UPDATE replication_executions SET lease_until = ?3 WHERE id = ?1 \
             AND lease_owner = ?2 AND status = 'running'",
        )?
        .execute(params![id.0, owner, until.unix_millis()])?;
    Ok(changed == 1)
}

pub(crate) fn plan(c: &Connection, id: ExecutionId, owner: &str, tasks: &[NewTask]) -> Res<bool> {
    if !held(c, id, owner)? {
        return Ok(false);
    }
    let first: u64 = c
        .prepare_cached("SELECT count(*) FROM replication_tasks WHERE execution = ?1")?
        .query_row([id.0], |r| r.get(0))?;
    insert_tasks(c, id.0, first, tasks)?;
    c.prepare_cached(
        "UPDATE replication_executions SET planned = 1, total = total + ?2 WHERE id = ?1",
    )?
    .execute(params![id.0, tasks.len() as u64])?;
    Ok(true)
}

pub(crate) fn tasks(
    c: &Connection,
    id: ExecutionId,
    pending_only: bool,
) -> Res<Vec<ReplicationTask>> {
    let sql = format!(
        "SELECT {} FROM replication_tasks t WHERE t.execution = ?1 \
         AND (?2 = 0 OR t.state = 'pending') ORDER BY t.seq",
        rows::TASK
    );
    let mut statement = c.prepare_cached(&sql)?;
    let found = statement
        .query_map(params![id.0, pending_only], rows::task)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

pub(crate) fn finish_task(
    c: &Connection,
    id: ExecutionId,
    seq: u64,
    owner: &str,
    state: &TaskState,
) -> Res<bool> {
    if !held(c, id, owner)? {
        return Ok(false);
    }
    let (word, bytes, error, column) = match state {
        TaskState::Pending => return Ok(false),
        TaskState::Copied { bytes } => ("copied", Some(*bytes), None, "copied"),
        TaskState::Skipped => ("skipped", None, None, "skipped"),
        TaskState::Failed { error } => ("failed", None, Some(error.as_str()), "failed"),
    };
    let changed = c
        .prepare_cached(
            "UPDATE replication_tasks SET state = ?3, bytes = ?4, error = ?5 \
             WHERE execution = ?1 AND seq = ?2 AND state = 'pending'",
        )?
        .execute(params![id.0, seq, word, bytes, error])?;
    if changed == 0 {
        return Ok(false);
    }
    // `column` is one of three fixed names.
    let sql = format!(
        "UPDATE replication_executions SET {column} = {column} + 1, bytes = bytes + ?2 \
         WHERE id = ?1"
    );
    c.prepare_cached(&sql)?
        .execute(params![id.0, bytes.unwrap_or(0)])?;
    Ok(true)
}

pub(crate) fn finish(
    c: &Connection,
    id: ExecutionId,
    owner: &str,
    error: Option<&str>,
    at: Timestamp,
) -> Res<Option<ReplicationExecution>> {
    if !held(c, id, owner)? {
        return Ok(None);
    }
    let Some(current) = execution(c, id)? else {
        return Ok(None);
    };
    let status = ExecutionStatus::of(
        current.artifacts_copied,
        current.artifacts_skipped,
        current.artifacts_failed,
        error.is_some(),
    );
    c.prepare_cached(
        "UPDATE replication_executions SET status = ?2, error = ?3, finished = ?4, \
         lease_owner = NULL, lease_until = NULL WHERE id = ?1",
    )?
    .execute(params![id.0, status.as_str(), error, at.unix_millis()])?;
    execution(c, id)
}
