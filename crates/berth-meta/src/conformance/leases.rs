//! Replication rules and executions end to end: one rule's life, and one lease handed over.

use berth_model::RegistryName;

use super::*;
use crate::{Entity, Error};

async fn registry(s: &dyn MetadataStore, account: i64, name: &str) -> RemoteRegistry {
    s.create_remote_registry(
        NewRemoteRegistry {
            account: AccountId(account),
            name: RegistryName::parse(name).expect("registry name"),
            url: format!("https://{name}.example"),
            username: None,
            sealed_password: None,
            insecure: false,
        },
        T0,
    )
    .await
    .expect("remote registry")
}

fn new_rule(account: i64, name: &str, registry: RemoteRegistryId) -> NewReplicationRule {
    NewReplicationRule {
        account: AccountId(account),
        name: name.to_owned(),
        direction: Direction::Push,
        registry,
        source: "apps".to_owned(),
        destination: "mirror".to_owned(),
        tag_filter: None,
        trigger: Trigger::Event,
        delete_propagation: false,
        copy_referrers: true,
        enabled: true,
        bandwidth_limit: None,
    }
}

fn task(image: &str, reference: &str) -> NewTask {
    NewTask {
        image: image.to_owned(),
        reference: reference.to_owned(),
        action: TaskAction::Copy,
    }
}

/// Rules are per account, unique by name, changed field by field, and name their registry; a
/// registry a rule uses cannot be deleted; deleting a rule takes its executions.
pub async fn a_rule_goes_with_its_executions(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "first", None).await;
    setup(s, 2, "second", None).await;
    let hub = registry(s, 1, "hub").await;
    let other = registry(s, 2, "hub").await;
    let rule = s
        .create_replication_rule(new_rule(1, "to-hub", hub.id), T0)
        .await
        .expect("create");
    assert_eq!(rule.registry_name.as_str(), "hub");
    assert_eq!((rule.trigger, rule.scheduled), (Trigger::Event, None));
    assert!(matches!(
        s.create_replication_rule(new_rule(1, "to-hub", hub.id), T0)
            .await,
        Err(Error::AlreadyExists {
            entity: Entity::ReplicationRule,
            ..
        })
    ));
    assert!(matches!(
        s.create_replication_rule(new_rule(1, "foreign", other.id), T0)
            .await,
        Err(Error::NotFound {
            entity: Entity::RemoteRegistry,
            ..
        })
    ));
    s.create_replication_rule(new_rule(2, "to-hub", other.id), T0)
        .await
        .expect("same name, other account");
    assert_eq!(
        s.list_replication_rules(Some(AccountId(1)))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.list_replication_rules(None).await.unwrap().len(), 2);

    let update = ReplicationRuleUpdate {
        direction: Some(Direction::Pull),
        tag_filter: Some(Some("v*".to_owned())),
        trigger: Some(Trigger::Schedule { every_secs: 3600 }),
        bandwidth_limit: Some(Some(1 << 20)),
        enabled: Some(false),
        delete_propagation: Some(true),
        copy_referrers: Some(false),
        ..ReplicationRuleUpdate::default()
    };
    let changed = s
        .update_replication_rule(AccountId(1), "to-hub", update)
        .await
        .expect("update");
    assert_eq!(changed.direction, Direction::Pull);
    assert_eq!(changed.tag_filter.as_deref(), Some("v*"));
    assert_eq!(changed.trigger, Trigger::Schedule { every_secs: 3600 });
    assert_eq!(changed.bandwidth_limit, Some(1 << 20));
    assert!(!changed.enabled && changed.delete_propagation && !changed.copy_referrers);
    assert_eq!(changed.source, "apps");
    assert_eq!(
        s.replication_rule(AccountId(1), "to-hub").await.unwrap(),
        Some(changed.clone())
    );

    assert!(matches!(
        s.delete_remote_registry(AccountId(1), &hub.name).await,
        Err(Error::RegistryUsedByRule { .. })
    ));
    let execution = s
        .create_execution(changed.id, "manual", None, T0)
        .await
        .unwrap();
    s.delete_replication_rule(AccountId(1), "to-hub")
        .await
        .unwrap();
    assert_eq!(s.execution(execution.id).await.unwrap(), None);
    assert_eq!(
        s.replication_rule(AccountId(1), "to-hub").await.unwrap(),
        None
    );
    s.delete_remote_registry(AccountId(1), &hub.name)
        .await
        .expect("no rule uses it now");
}

/// The scheduler's compare-and-set; an execution claimed by one node is nobody else's until
/// its lease lapses; tasks are finished once, under the lease; the status follows the counts.
pub async fn replication_executions_are_leased(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "first", None).await;
    let hub = registry(s, 1, "hub").await;
    let rule = s
        .create_replication_rule(new_rule(1, "to-hub", hub.id), T0)
        .await
        .unwrap();
    assert!(s.mark_rule_scheduled(rule.id, None, at(1)).await.unwrap());
    assert!(!s.mark_rule_scheduled(rule.id, None, at(2)).await.unwrap());
    assert!(
        s.mark_rule_scheduled(rule.id, Some(at(1)), at(3))
            .await
            .unwrap()
    );

    let planned = s
        .create_execution(rule.id, "event", Some(vec![task("web", "v1")]), at(4))
        .await
        .unwrap();
    assert!(planned.planned);
    assert_eq!(planned.artifacts_total, 1);
    let unplanned = s
        .create_execution(rule.id, "schedule", None, at(5))
        .await
        .unwrap();
    assert!(!unplanned.planned);

    let first = s
        .claim_execution("a", at(6), at(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, planned.id, "oldest first");
    assert_eq!(first.lease.as_ref().map(|l| l.owner.as_str()), Some("a"));
    let second = s
        .claim_execution("b", at(6), at(16))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.id, unplanned.id);
    assert_eq!(s.claim_execution("c", at(7), at(17)).await.unwrap(), None);
    assert!(!s.renew_lease(first.id, "b", at(20)).await.unwrap());
    assert!(s.renew_lease(first.id, "a", at(20)).await.unwrap());

    // b plans and stops (a crash): its lease lapses and c continues.
    assert!(
        !s.plan_execution(second.id, "a", vec![task("x", "1")])
            .await
            .unwrap()
    );
    assert!(
        s.plan_execution(second.id, "b", vec![task("web", "v1"), task("web", "v2")])
            .await
            .unwrap()
    );
    assert!(
        s.finish_task(second.id, 0, "b", TaskState::Skipped)
            .await
            .unwrap()
    );
    let taken = s
        .claim_execution("c", at(17), at(27))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, second.id);
    assert!(taken.planned);
    assert!(
        !s.finish_task(second.id, 1, "b", TaskState::Skipped)
            .await
            .unwrap()
    );
    let pending = s.execution_tasks(second.id, true).await.unwrap();
    assert_eq!(pending.iter().map(|t| t.seq).collect::<Vec<_>>(), vec![1]);
    let failed = TaskState::Failed {
        error: "denied".to_owned(),
    };
    assert!(
        s.finish_task(second.id, 1, "c", failed.clone())
            .await
            .unwrap()
    );
    assert!(
        !s.finish_task(second.id, 1, "c", TaskState::Skipped)
            .await
            .unwrap()
    );
    let done = s
        .finish_execution(second.id, "c", None, at(18))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, ExecutionStatus::Partial);
    assert_eq!(
        (
            done.artifacts_total,
            done.artifacts_skipped,
            done.artifacts_failed
        ),
        (2, 1, 1)
    );
    assert_eq!((done.finished, done.lease), (Some(at(18)), None));
    let all = s.execution_tasks(second.id, false).await.unwrap();
    assert_eq!(all[1].state, failed);

    let bytes = TaskState::Copied { bytes: 512 };
    assert!(s.finish_task(first.id, 0, "a", bytes).await.unwrap());
    let done = s
        .finish_execution(first.id, "a", None, at(19))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.status, done.bytes), (ExecutionStatus::Succeeded, 512));
    assert_eq!(
        s.finish_execution(first.id, "a", None, at(19))
            .await
            .unwrap(),
        None
    );

    let broken = s
        .create_execution(rule.id, "manual", None, at(30))
        .await
        .unwrap();
    s.claim_execution("a", at(30), at(40))
        .await
        .unwrap()
        .unwrap();
    let failed = s
        .finish_execution(broken.id, "a", Some("unreachable".to_owned()), at(31))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (ExecutionStatus::Failed, Some("unreachable"))
    );
    assert_eq!(
        s.claim_execution("z", at(99), at(100)).await.unwrap(),
        None,
        "all finished"
    );
    let listed = s.list_executions(rule.id, 2).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![broken.id, second.id]
    );
}
