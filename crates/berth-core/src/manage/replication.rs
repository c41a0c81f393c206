//! Replication rules of an account and their executions: list, get, create, change, delete,
//! run, decided like the account's repositories ([`Managed::Account`]). A rule names one of the
//! account's remote registries and one of its repositories; the engine runs it
//! (`replication.rs`).

use berth_meta::{
    Direction, Entity, ExecutionId, NewReplicationRule, ReplicationExecution, ReplicationRule,
    ReplicationRuleUpdate, ReplicationTask, TaskState, Trigger,
};
use berth_model::{AccountId, Glob, RegistryName, RepositoryName};
use berth_policy::Managed;
use berth_remote::RemoteName;

use super::{ManageError, Manager, Result};
use crate::replication::push_source;

/// The most replication rules an account may have.
pub const MAX_REPLICATION_RULES: usize = 100;
/// The shortest schedule interval, in seconds.
pub const MIN_SCHEDULE_SECS: u64 = 10;
/// Failed tasks shown per execution.
const MAX_FAILURES_SHOWN: usize = 100;

/// What creating a replication rule takes (see [`ReplicationRule`] for the fields).
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct ReplicationRuleSpec {
    pub name: String,
    pub direction: Direction,
    pub registry: RegistryName,
    pub source: String,
    pub destination: String,
    pub tag_filter: Option<String>,
    pub trigger: Trigger,
    pub delete_propagation: bool,
    pub copy_referrers: bool,
    pub enabled: bool,
    pub bandwidth_limit: Option<u64>,
}

/// Changes to a replication rule; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct ReplicationRuleChange {
    pub direction: Option<Direction>,
    pub registry: Option<RegistryName>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub tag_filter: Option<Option<String>>,
    pub trigger: Option<Trigger>,
    pub delete_propagation: Option<bool>,
    pub copy_referrers: Option<bool>,
    pub enabled: Option<bool>,
    pub bandwidth_limit: Option<Option<u64>>,
}

/// An execution with its failed tasks (at most 100 of them).
#[derive(Debug, Clone)]
pub struct ExecutionReport {
    /// The execution.
    pub execution: ReplicationExecution,
    /// The rule's name.
    pub rule: String,
    /// Tasks that failed, with their errors.
    pub failures: Vec<ReplicationTask>,
}

/// A schedule interval as people write it (`90s`, `15m`, `1h`, `1d`, or plain seconds): its
/// seconds, at least [`MIN_SCHEDULE_SECS`]. The error is the message for the person who typed
/// it.
pub fn parse_interval(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "interval {text:?}: write a number with s, m, h or d, such as 1h"
            ));
        }
    };
    let secs = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_secs))
        .ok_or_else(|| {
            format!("interval {text:?}: write a number with s, m, h or d, such as 1h")
        })?;
    if secs < MIN_SCHEDULE_SECS {
        return Err(format!(
            "interval {text:?} is too short: at least {MIN_SCHEDULE_SECS}s"
        ));
    }
    Ok(secs)
}

/// The interval as [`parse_interval`] reads it, in the largest whole unit.
pub fn format_interval(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn not_found(name: &str) -> ManageError {
    ManageError::NotFound {
        what: "replication rule",
        name: name.to_owned(),
    }
}

fn invalid(message: impl Into<String>) -> ManageError {
    ManageError::Invalid(message.into())
}

/// The store's "not found" as the caller reads it.
fn gone(name: &str) -> impl Fn(berth_meta::Error) -> ManageError + '_ {
    move |e| match e {
        berth_meta::Error::NotFound {
            entity: Entity::ReplicationRule,
            ..
        } => not_found(name),
        berth_meta::Error::NotFound {
            entity: Entity::RemoteRegistry,
            name: registry,
        } => invalid(format!("registry {registry} does not exist")),
        e => e.into(),
    }
}

/// What the fields of a rule must be, together.
struct Shape<'a> {
    direction: Direction,
    source: &'a str,
    destination: &'a str,
    tag_filter: Option<&'a str>,
    trigger: Trigger,
}

impl Manager<'_> {
    /// Checks a rule's fields; the repository it names must be one of `account`'s, and not a
    /// proxy repository when it receives copies.
    async fn check_rule(&self, account: AccountId, shape: Shape<'_>) -> Result<()> {
        let repository = match shape.direction {
            Direction::Push => {
                let (repository, _) = push_source(shape.source).map_err(invalid)?;
                RemoteName::parse(shape.destination)
                    .map_err(|e| invalid(format!("destination {:?}: {e}", shape.destination)))?;
                repository
            }
            Direction::Pull => {
                let glob = Glob::parse(shape.source)
                    .map_err(|e| invalid(format!("source {:?}: {e}", shape.source)))?;
                if glob.is_literal() {
                    RemoteName::parse(shape.source)
                        .map_err(|e| invalid(format!("source {:?}: {e}", shape.source)))?;
                }
                let repository = RepositoryName::parse(shape.destination).map_err(|e| {
                    invalid(format!(
                        "destination {:?} must be a repository here: {e}",
                        shape.destination
                    ))
                })?;
                if matches!(shape.trigger, Trigger::Event) {
                    return Err(invalid(
                        "an event trigger copies pushes made here, so it is for push rules; \
                         give a pull rule a schedule",
                    ));
                }
                repository
            }
        };
        if let Some(filter) = shape.tag_filter {
            Glob::parse(filter).map_err(|e| invalid(format!("tag_filter {filter:?}: {e}")))?;
        }
        if let Trigger::Schedule { every_secs } = shape.trigger
            && every_secs < MIN_SCHEDULE_SECS
        {
            return Err(invalid(format!(
                "a schedule interval is at least {MIN_SCHEDULE_SECS}s"
            )));
        }
        let found = self.registry.meta.repository(&repository).await?;
        match found {
            Some(r) if r.account == account => {
                if shape.direction == Direction::Pull && r.proxy.is_some() {
                    return Err(invalid(format!(
                        "repository {repository} is a proxy repository (read-only); a pull rule \
                         needs a repository it can write"
                    )));
                }
                Ok(())
            }
            _ => Err(invalid(format!("repository {repository} does not exist"))),
        }
    }

    async fn registry_id(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<berth_meta::RemoteRegistryId> {
        let found = self.registry.meta.remote_registry(account, name).await?;
        found
            .map(|r| r.id)
            .ok_or_else(|| invalid(format!("registry {name} does not exist")))
    }

    /// `account`'s replication rules, by name.
    pub async fn replication_rules(&self, account: AccountId) -> Result<Vec<ReplicationRule>> {
        self.may(Managed::Account(account))?;
        Ok(self
            .registry
            .meta
            .list_replication_rules(Some(account))
            .await?)
    }

    /// A replication rule of `account`; one of an account the caller may not manage is "not
    /// found", exactly like a missing one.
    pub async fn replication_rule(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<ReplicationRule> {
        if self.may(Managed::Account(account)).is_err() {
            return Err(not_found(name));
        }
        self.registry
            .meta
            .replication_rule(account, name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// Creates a replication rule in `account`.
    pub async fn create_replication_rule(
        &self,
        account: AccountId,
        spec: ReplicationRuleSpec,
    ) -> Result<ReplicationRule> {
        self.may(Managed::Account(account))?;
        RegistryName::parse(&spec.name).map_err(|e| invalid(format!("rule name: {e}")))?;
        self.check_rule(
            account,
            Shape {
                direction: spec.direction,
                source: &spec.source,
                destination: &spec.destination,
                tag_filter: spec.tag_filter.as_deref(),
                trigger: spec.trigger,
            },
        )
        .await?;
        let registry = self.registry_id(account, &spec.registry).await?;
        let existing = self
            .registry
            .meta
            .list_replication_rules(Some(account))
            .await?;
        if existing.len() >= MAX_REPLICATION_RULES {
            return Err(ManageError::Conflict(format!(
                "account {account} has {MAX_REPLICATION_RULES} replication rules, the most it may \
                 have; delete one first"
            )));
        }
        let new = NewReplicationRule {
            account,
            name: spec.name.clone(),
            direction: spec.direction,
            registry,
            source: spec.source,
            destination: spec.destination,
            tag_filter: spec.tag_filter,
            trigger: spec.trigger,
            delete_propagation: spec.delete_propagation,
            copy_referrers: spec.copy_referrers,
            enabled: spec.enabled,
            bandwidth_limit: spec.bandwidth_limit.filter(|&b| b > 0),
        };
        let created = self
            .registry
            .meta
            .create_replication_rule(new, self.now())
            .await
            .map_err(|e| match e {
                berth_meta::Error::AlreadyExists { .. } => {
                    ManageError::Conflict(format!("replication rule {} already exists", spec.name))
                }
                e => gone(&spec.name)(e),
            })?;
        self.registry.forget_replication_rules();
        tracing::info!(rule = %created.name, direction = created.direction.as_str(), registry = %created.registry_name, %account, actor = %self.actor, "replication rule created");
        Ok(created)
    }

    /// Changes a replication rule of `account`; the result must be a rule
    /// [`Manager::create_replication_rule`] would accept.
    pub async fn update_replication_rule(
        &self,
        account: AccountId,
        name: &str,
        change: ReplicationRuleChange,
    ) -> Result<ReplicationRule> {
        let current = self.replication_rule(account, name).await?;
        let tag_filter = match &change.tag_filter {
            Some(filter) => filter.as_deref(),
            None => current.tag_filter.as_deref(),
        };
        self.check_rule(
            account,
            Shape {
                direction: change.direction.unwrap_or(current.direction),
                source: change.source.as_deref().unwrap_or(&current.source),
                destination: change
                    .destination
                    .as_deref()
                    .unwrap_or(&current.destination),
                tag_filter,
                trigger: change.trigger.unwrap_or(current.trigger),
            },
        )
        .await?;
        let registry = match &change.registry {
            Some(registry) => Some(self.registry_id(account, registry).await?),
            None => None,
        };
        let update = ReplicationRuleUpdate {
            direction: change.direction,
            registry,
            source: change.source,
            destination: change.destination,
            tag_filter: change.tag_filter,
            trigger: change.trigger,
            delete_propagation: change.delete_propagation,
            copy_referrers: change.copy_referrers,
            enabled: change.enabled,
            bandwidth_limit: change.bandwidth_limit.map(|b| b.filter(|&b| b > 0)),
        };
        let updated = self
            .registry
            .meta
            .update_replication_rule(account, name, update)
            .await
            .map_err(gone(name))?;
        self.registry.forget_replication_rules();
        tracing::info!(rule = %name, %account, actor = %self.actor, "replication rule changed");
        Ok(updated)
    }

    /// Deletes a replication rule of `account` with its executions; one running stops at its
    /// next task.
    pub async fn delete_replication_rule(&self, account: AccountId, name: &str) -> Result<()> {
        self.replication_rule(account, name).await?;
        self.registry
            .meta
            .delete_replication_rule(account, name)
            .await
            .map_err(gone(name))?;
        self.registry.forget_replication_rules();
        tracing::info!(rule = %name, %account, actor = %self.actor, "replication rule deleted");
        Ok(())
    }

    /// Starts an execution of a rule of `account` (`manual`): it copies everything that
    /// matches, on whichever node claims it first.
    pub async fn run_replication_rule(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<ExecutionReport> {
        let rule = self.replication_rule(account, name).await?;
        if !rule.enabled {
            return Err(ManageError::Conflict(format!(
                "replication rule {name} is disabled; enable it first"
            )));
        }
        let execution = self.registry.start_replication(&rule, "manual").await?;
        tracing::info!(rule = %name, execution = %execution.id, %account, actor = %self.actor, "replication started by hand");
        Ok(ExecutionReport {
            execution,
            rule: rule.name,
            failures: Vec::new(),
        })
    }

    async fn report(&self, rule: &str, execution: ReplicationExecution) -> Result<ExecutionReport> {
        let failures = if execution.artifacts_failed > 0 {
            let tasks = self
                .registry
                .meta
                .execution_tasks(execution.id, false)
                .await?;
            tasks
                .into_iter()
                .filter(|t| matches!(t.state, TaskState::Failed { .. }))
                .take(MAX_FAILURES_SHOWN)
                .collect()
        } else {
            Vec::new()
        };
        Ok(ExecutionReport {
            execution,
            rule: rule.to_owned(),
            failures,
        })
    }

    /// The latest `limit` executions of a rule of `account`, newest first.
    pub async fn replication_executions(
        &self,
        account: AccountId,
        name: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionReport>> {
        let rule = self.replication_rule(account, name).await?;
        let executions = self
            .registry
            .meta
            .list_executions(rule.id, limit.clamp(1, 100))
            .await?;
        let mut reports = Vec::with_capacity(executions.len());
        for execution in executions {
            reports.push(self.report(&rule.name, execution).await?);
        }
        Ok(reports)
    }

    /// One execution of a rule of `account`.
    pub async fn replication_execution(
        &self,
        account: AccountId,
        name: &str,
        id: ExecutionId,
    ) -> Result<ExecutionReport> {
        let rule = self.replication_rule(account, name).await?;
        let missing = || ManageError::NotFound {
            what: "execution",
            name: id.to_string(),
        };
        let execution = self
            .registry
            .meta
            .execution(id)
            .await?
            .filter(|e| e.rule == rule.id)
            .ok_or_else(missing)?;
        self.report(&rule.name, execution).await
    }
}

#[cfg(test)]
mod tests {
    use super::{format_interval, parse_interval};

    #[test]
    fn intervals_are_read_as_people_write_them() {
        assert_eq!(parse_interval("1h"), Ok(3600));
        assert_eq!(parse_interval("15m"), Ok(900));
        assert_eq!(parse_interval("90s"), Ok(90));
        assert_eq!(parse_interval("2d"), Ok(172_800));
        assert_eq!(parse_interval("30"), Ok(30));
        assert!(parse_interval("5s").unwrap_err().contains("too short"));
        assert!(parse_interval("1w").is_err());
        assert!(parse_interval("h").is_err());
        assert!(parse_interval("99999999999999999999d").is_err());
        assert_eq!(format_interval(3600), "1h");
        assert_eq!(format_interval(90), "90s");
        assert_eq!(format_interval(120), "2m");
        assert_eq!(format_interval(86_400), "1d");
    }
}
