//! Replication rules, executions and their tasks. A claim takes the oldest claimable execution
//! with `FOR UPDATE SKIP LOCKED`, so concurrent claimants never take the same one; every change
//! under a lease checks the owner in the same statement or transaction.

use berth_meta::*;
use berth_model::RegistryName;
use deadpool_postgres::Pool;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::db::{
    self, corrupt, exec, get, get_opt_time, get_time, get_u64, int, opt, pg, rows, unique,
};

const RULE: &str = "SELECT r.id, r.account, r.name, r.direction, r.registry, g.name AS registry_name, \
     r.source, r.destination, r.tag_filter, r.trigger, r.every_secs, r.delete_propagation, \
     r.copy_referrers, r.enabled, r.bandwidth_limit, r.created, r.scheduled \
     FROM replication_rules r JOIN remote_registries g ON g.id = r.registry";

const EXECUTION: &str = "SELECT e.id, e.rule, e.trigger, e.status, e.planned, e.started, e.finished, \
     e.total, e.copied, e.skipped, e.failed, e.bytes, e.error, e.lease_owner, e.lease_until \
     FROM replication_executions e";

fn rule(row: &Row) -> Result<ReplicationRule> {
    let kind: String = get(row, "trigger")?;
    let every: Option<i64> = get(row, "every_secs")?;
    let trigger = Trigger::from_parts(&kind, every.and_then(|n| u64::try_from(n).ok()))
        .ok_or_else(|| corrupt(format!("replication trigger {kind:?}")))?;
    let direction: String = get(row, "direction")?;
    let registry_name: String = get(row, "registry_name")?;
    Ok(ReplicationRule {
        id: ReplicationRuleId(get(row, "id")?),
        account: AccountId(get(row, "account")?),
        name: get(row, "name")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| corrupt(format!("replication direction {direction:?}")))?,
        registry: RemoteRegistryId(get(row, "registry")?),
        registry_name: RegistryName::parse(&registry_name)
            .map_err(|e| corrupt(format!("registry name {registry_name:?}: {e}")))?,
        source: get(row, "source")?,
        destination: get(row, "destination")?,
        tag_filter: get(row, "tag_filter")?,
        trigger,
        delete_propagation: get(row, "delete_propagation")?,
        copy_referrers: get(row, "copy_referrers")?,
        enabled: get(row, "enabled")?,
        bandwidth_limit: get::<Option<i64>>(row, "bandwidth_limit")?
            .and_then(|n| u64::try_from(n).ok()),
        created: get_time(row, "created")?,
        scheduled: get_opt_time(row, "scheduled")?,
    })
}

fn execution_of(row: &Row) -> Result<ReplicationExecution> {
    let status: String = get(row, "status")?;
    let owner: Option<String> = get(row, "lease_owner")?;
    let until = get_opt_time(row, "lease_until")?;
    Ok(ReplicationExecution {
        id: ExecutionId(get(row, "id")?),
        rule: ReplicationRuleId(get(row, "rule")?),
        trigger: get(row, "trigger")?,
        status: ExecutionStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("execution status {status:?}")))?,
        planned: get(row, "planned")?,
        started: get_time(row, "started")?,
        finished: get_opt_time(row, "finished")?,
        artifacts_total: get_u64(row, "total")?,
        artifacts_copied: get_u64(row, "copied")?,
        artifacts_skipped: get_u64(row, "skipped")?,
        artifacts_failed: get_u64(row, "failed")?,
        bytes: get_u64(row, "bytes")?,
        error: get(row, "error")?,
        lease: owner
            .zip(until)
            .map(|(owner, until)| Lease { owner, until }),
    })
}

fn task(row: &Row) -> Result<ReplicationTask> {
    let state: String = get(row, "state")?;
    let state = match state.as_str() {
        "pending" => TaskState::Pending,
        "copied" => TaskState::Copied {
            bytes: get::<Option<i64>>(row, "bytes")?
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
        },
        "skipped" => TaskState::Skipped,
        _ => TaskState::Failed {
            error: get::<Option<String>>(row, "error")?.unwrap_or_default(),
        },
    };
    let action: String = get(row, "action")?;
    Ok(ReplicationTask {
        seq: get_u64(row, "seq")?,
        task: NewTask {
            image: get(row, "image")?,
            reference: get(row, "reference")?,
            action: TaskAction::parse(&action)
                .ok_or_else(|| corrupt(format!("task action {action:?}")))?,
        },
        state,
    })
}

fn limit(n: Option<u64>) -> Option<i64> {
    n.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

async fn registry_of<C: deadpool_postgres::GenericClient>(
    c: &C,
    account: AccountId,
    id: RemoteRegistryId,
) -> Result<()> {
    // KEY SHARE: a registry being deleted waits for the rule, and then sees it.
    let found = opt(
        c,
        "SELECT 1 FROM remote_registries WHERE id = $1 AND account = $2 FOR KEY SHARE",
        &[&id.0, &account.0],
    )
    .await?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::not_found(Entity::RemoteRegistry, id))
}

async fn by_id<C: deadpool_postgres::GenericClient>(
    c: &C,
    id: ReplicationRuleId,
) -> Result<Option<ReplicationRule>> {
    let sql = format!("{RULE} WHERE r.id = $1");
    opt(c, &sql, &[&id.0]).await?.map(|r| rule(&r)).transpose()
}

pub(crate) async fn create(
    pool: &Pool,
    new: NewReplicationRule,
    at: Timestamp,
) -> Result<ReplicationRule> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    registry_of(&tx, new.account, new.registry).await?;
    let row = tx
        .query_one(
            "INSERT INTO replication_rules (account, name, direction, registry, source, \
             destination, tag_filter, trigger, every_secs, delete_propagation, copy_referrers, \
             enabled, bandwidth_limit, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            &[
                &new.account.0,
                &new.name,
                &new.direction.as_str(),
                &new.registry.0,
                &new.source,
                &new.destination,
                &new.tag_filter,
                &new.trigger.kind(),
                &limit(new.trigger.every_secs()),
                &new.delete_propagation,
                &new.copy_referrers,
                &new.enabled,
                &limit(new.bandwidth_limit),
                &at.unix_millis(),
            ],
        )
        .await
        .map_err(unique(Entity::ReplicationRule, &new.name))?;
    let created = by_id(&tx, ReplicationRuleId(get(&row, "id")?))
        .await?
        .ok_or_else(|| Error::not_found(Entity::ReplicationRule, &new.name))?;
    tx.commit().await.map_err(pg)?;
    Ok(created)
}

pub(crate) async fn get_one(
    pool: &Pool,
    account: AccountId,
    name: &str,
) -> Result<Option<ReplicationRule>> {
    let client = db::conn(pool).await?;
    let sql = format!("{RULE} WHERE r.account = $1 AND r.name = $2");
    opt(&client, &sql, &[&account.0, &name])
        .await?
        .map(|r| rule(&r))
        .transpose()
}

pub(crate) async fn list(pool: &Pool, account: Option<AccountId>) -> Result<Vec<ReplicationRule>> {
    let client = db::conn(pool).await?;
    let sql =
        format!("{RULE} WHERE $1::bigint IS NULL OR r.account = $1 ORDER BY r.account, r.name");
    rows(&client, &sql, &[&account.map(|a| a.0)])
        .await?
        .iter()
        .map(rule)
        .collect()
}

pub(crate) async fn update(
    pool: &Pool,
    account: AccountId,
    name: &str,
    u: ReplicationRuleUpdate,
) -> Result<ReplicationRule> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let sql = format!("{RULE} WHERE r.account = $1 AND r.name = $2 FOR UPDATE OF r");
    let Some(current) = opt(&tx, &sql, &[&account.0, &name]).await? else {
        return Err(Error::not_found(Entity::ReplicationRule, name));
    };
    let current = rule(&current)?;
    if let Some(registry) = u.registry {
        registry_of(&tx, account, registry).await?;
    }
    let trigger = u.trigger.unwrap_or(current.trigger);
    let params: [&(dyn ToSql + Sync); 12] = [
        &current.id.0,
        &u.direction.unwrap_or(current.direction).as_str(),
        &u.registry.unwrap_or(current.registry).0,
        u.source.as_ref().unwrap_or(&current.source),
        u.destination.as_ref().unwrap_or(&current.destination),
        u.tag_filter.as_ref().unwrap_or(&current.tag_filter),
        &trigger.kind(),
        &limit(trigger.every_secs()),
        &u.delete_propagation.unwrap_or(current.delete_propagation),
        &u.copy_referrers.unwrap_or(current.copy_referrers),
        &u.enabled.unwrap_or(current.enabled),
        &limit(u.bandwidth_limit.unwrap_or(current.bandwidth_limit)),
    ];
    exec(
        &tx,
        "UPDATE replication_rules SET direction = $2, registry = $3, source = $4, \
         destination = $5, tag_filter = $6, trigger = $7, every_secs = $8, \
         delete_propagation = $9, copy_referrers = $10, enabled = $11, bandwidth_limit = $12 \
         WHERE id = $1",
        &params,
    )
    .await?;
    let updated = by_id(&tx, current.id)
        .await?
        .ok_or_else(|| Error::not_found(Entity::ReplicationRule, name))?;
    tx.commit().await.map_err(pg)?;
    Ok(updated)
}

pub(crate) async fn delete(pool: &Pool, account: AccountId, name: &str) -> Result<()> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    let Some(row) = opt(
        &tx,
        "SELECT id FROM replication_rules WHERE account = $1 AND name = $2 FOR UPDATE",
        &[&account.0, &name],
    )
    .await?
    else {
        return Err(Error::not_found(Entity::ReplicationRule, name));
    };
    let id: i64 = get(&row, "id")?;
    // The executions first, in the order a task's finish takes them (execution, then task), so
    // a delete racing a finish waits instead of deadlocking.
    rows(
        &tx,
        "SELECT id FROM replication_executions WHERE rule = $1 ORDER BY id FOR UPDATE",
        &[&id],
    )
    .await?;
    exec(
        &tx,
        "DELETE FROM replication_tasks WHERE execution IN \
         (SELECT id FROM replication_executions WHERE rule = $1)",
        &[&id],
    )
    .await?;
    exec(
        &tx,
        "DELETE FROM replication_executions WHERE rule = $1",
        &[&id],
    )
    .await?;
    exec(&tx, "DELETE FROM replication_rules WHERE id = $1", &[&id]).await?;
    tx.commit().await.map_err(pg)?;
    Ok(())
}

/// The first rule (by name) that uses registry `id`, in the transaction deleting it.
pub(crate) async fn rule_using<C: deadpool_postgres::GenericClient>(
    c: &C,
    id: i64,
) -> Result<Option<String>> {
    opt(
        c,
        "SELECT name FROM replication_rules WHERE registry = $1 ORDER BY name LIMIT 1",
        &[&id],
    )
    .await?
    .map(|r| get(&r, "name"))
    .transpose()
}

pub(crate) async fn mark_scheduled(
    pool: &Pool,
    rule: ReplicationRuleId,
    previous: Option<Timestamp>,
    at: Timestamp,
) -> Result<bool> {
    let client = db::conn(pool).await?;
    let changed = exec(
        &client,
        "UPDATE replication_rules SET scheduled = $3 \
         WHERE id = $1 AND scheduled IS NOT DISTINCT FROM $2",
        &[
            &rule.0,
            &previous.map(Timestamp::unix_millis),
            &at.unix_millis(),
        ],
    )
    .await?;
    Ok(changed == 1)
}

async fn insert_tasks<C: deadpool_postgres::GenericClient>(
    c: &C,
    id: i64,
    first: u64,
    tasks: &[NewTask],
) -> Result<()> {
    for (i, t) in tasks.iter().enumerate() {
        exec(
            c,
            "INSERT INTO replication_tasks (execution, seq, image, reference, action) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &id,
                &int(first + i as u64)?,
                &t.image,
                &t.reference,
                &t.action.as_str(),
            ],
        )
        .await?;
    }
    Ok(())
}

async fn execution_in<C: deadpool_postgres::GenericClient>(
    c: &C,
    id: ExecutionId,
) -> Result<Option<ReplicationExecution>> {
    let sql = format!("{EXECUTION} WHERE e.id = $1");
    opt(c, &sql, &[&id.0])
        .await?
        .map(|r| execution_of(&r))
        .transpose()
}

pub(crate) async fn create_execution(
    pool: &Pool,
    rule: ReplicationRuleId,
    trigger: &str,
    tasks: Option<Vec<NewTask>>,
    at: Timestamp,
) -> Result<ReplicationExecution> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    if opt(
        &tx,
        "SELECT 1 FROM replication_rules WHERE id = $1 FOR KEY SHARE",
        &[&rule.0],
    )
    .await?
    .is_none()
    {
        return Err(Error::not_found(Entity::ReplicationRule, rule));
    }
    let total = int(tasks.as_ref().map_or(0, Vec::len) as u64)?;
    let row = tx
        .query_one(
            "INSERT INTO replication_executions (rule, trigger, status, planned, started, total) \
             VALUES ($1, $2, 'running', $3, $4, $5) RETURNING id",
            &[
                &rule.0,
                &trigger,
                &tasks.is_some(),
                &at.unix_millis(),
                &total,
            ],
        )
        .await
        .map_err(pg)?;
    let id: i64 = get(&row, "id")?;
    if let Some(tasks) = &tasks {
        insert_tasks(&tx, id, 0, tasks).await?;
    }
    let created = execution_in(&tx, ExecutionId(id))
        .await?
        .ok_or_else(|| Error::not_found(Entity::Execution, id))?;
    tx.commit().await.map_err(pg)?;
    Ok(created)
}

pub(crate) async fn execution(
    pool: &Pool,
    id: ExecutionId,
) -> Result<Option<ReplicationExecution>> {
    let client = db::conn(pool).await?;
    execution_in(&client, id).await
}

pub(crate) async fn list_executions(
    pool: &Pool,
    rule: ReplicationRuleId,
    n: usize,
) -> Result<Vec<ReplicationExecution>> {
    let client = db::conn(pool).await?;
    let sql = format!("{EXECUTION} WHERE e.rule = $1 ORDER BY e.id DESC LIMIT $2");
    rows(&client, &sql, &[&rule.0, &db::limit(n)])
        .await?
        .iter()
        .map(execution_of)
        .collect()
}

pub(crate) async fn claim(
    pool: &Pool,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<ReplicationExecution>> {
    let client = db::conn(pool).await?;
    let claimed = opt(
        &client,
        "UPDATE replication_executions SET lease_owner = $1, lease_until = $3 \
         WHERE id = (SELECT id FROM replication_executions WHERE status = 'running' \
         AND (lease_until IS NULL OR lease_until < $2) ORDER BY id LIMIT 1 \
         FOR UPDATE SKIP LOCKED) RETURNING id",
        &[&owner, &now.unix_millis(), &until.unix_millis()],
    )
    .await?;
    match claimed {
        Some(row) => execution_in(&client, ExecutionId(get(&row, "id")?)).await,
        None => Ok(None),
    }
}

pub(crate) async fn renew(
    pool: &Pool,
    id: ExecutionId,
    owner: &str,
    until: Timestamp,
) -> Result<bool> {
    let client = db::conn(pool).await?;
    let changed = exec(
        &client,
        "UPDATE replication_executions SET lease_until = $3 \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        &[&id.0, &owner, &until.unix_millis()],
    )
    .await?;
    Ok(changed == 1)
}

/// Locks running execution `id` when `owner` holds its lease.
async fn hold<C: deadpool_postgres::GenericClient>(
    c: &C,
    id: ExecutionId,
    owner: &str,
) -> Result<bool> {
    Ok(opt(
        c,
        "SELECT 1 FROM replication_executions WHERE id = $1 AND lease_owner = $2 \
         AND status = 'running' FOR UPDATE",
        &[&id.0, &owner],
    )
    .await?
    .is_some())
}

pub(crate) async fn plan(
    pool: &Pool,
    id: ExecutionId,
    owner: &str,
    tasks: Vec<NewTask>,
) -> Result<bool> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    if !hold(&tx, id, owner).await? {
        return Ok(false);
    }
    let row = db::one(
        &tx,
        "SELECT count(*) AS n FROM replication_tasks WHERE execution = $1",
        &[&id.0],
    )
    .await?;
    let first = get_u64(&row, "n")?;
    insert_tasks(&tx, id.0, first, &tasks).await?;
    exec(
        &tx,
        "UPDATE replication_executions SET planned = true, total = total + $2 WHERE id = $1",
        &[&id.0, &int(tasks.len() as u64)?],
    )
    .await?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

pub(crate) async fn tasks(
    pool: &Pool,
    id: ExecutionId,
    pending_only: bool,
) -> Result<Vec<ReplicationTask>> {
    let client = db::conn(pool).await?;
    rows(
        &client,
        "SELECT seq, image, reference, action, state, bytes, error FROM replication_tasks \
         WHERE execution = $1 AND (NOT $2 OR state = 'pending') ORDER BY seq",
        &[&id.0, &pending_only],
    )
    .await?
    .iter()
    .map(task)
    .collect()
}

pub(crate) async fn finish_task(
    pool: &Pool,
    id: ExecutionId,
    seq: u64,
    owner: &str,
    state: TaskState,
) -> Result<bool> {
    let (word, bytes, error, column) = match &state {
        TaskState::Pending => return Ok(false),
        TaskState::Copied { bytes } => ("copied", Some(int(*bytes)?), None, "copied"),
        TaskState::Skipped => ("skipped", None, None, "skipped"),
        TaskState::Failed { error } => ("failed", None, Some(error.clone()), "failed"),
    };
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    if !hold(&tx, id, owner).await? {
        return Ok(false);
    }
    let changed = exec(
        &tx,
        "UPDATE replication_tasks SET state = $3, bytes = $4, error = $5 \
         WHERE execution = $1 AND seq = $2 AND state = 'pending'",
        &[&id.0, &int(seq)?, &word, &bytes, &error],
    )
    .await?;
    if changed == 0 {
        return Ok(false);
    }
    // `column` is one of three fixed names.
    let sql = format!(
        "UPDATE replication_executions SET {column} = {column} + 1, bytes = bytes + $2 \
         WHERE id = $1"
    );
    exec(&tx, &sql, &[&id.0, &bytes.unwrap_or(0)]).await?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

pub(crate) async fn finish(
    pool: &Pool,
    id: ExecutionId,
    owner: &str,
    error: Option<String>,
    at: Timestamp,
) -> Result<Option<ReplicationExecution>> {
    let mut client = db::conn(pool).await?;
    let tx = client.transaction().await.map_err(pg)?;
    if !hold(&tx, id, owner).await? {
        return Ok(None);
    }
    let Some(current) = execution_in(&tx, id).await? else {
        return Ok(None);
    };
    let status = ExecutionStatus::of(
        current.artifacts_copied,
        current.artifacts_skipped,
        current.artifacts_failed,
        error.is_some(),
    );
    exec(
        &tx,
        "UPDATE replication_executions SET status = $2, error = $3, finished = $4, \
         lease_owner = NULL, lease_until = NULL WHERE id = $1",
        &[&id.0, &status.as_str(), &error, &at.unix_millis()],
    )
    .await?;
    let finished = execution_in(&tx, id).await?;
    tx.commit().await.map_err(pg)?;
    Ok(finished)
}
