//! Replication rules: kept per account, holding their registry, scheduled once.

use std::sync::Arc;

use super::remotes::{new_registry, registry_name};
use super::*;
use crate::{Entity, Error, MetadataStore};

pub(super) fn new_rule(account: i64, name: &str, registry: &RemoteRegistry) -> NewReplicationRule {
    NewReplicationRule {
        account: AccountId(account),
        name: name.to_owned(),
        direction: Direction::Push,
        registry: registry.id,
        source: "team/app-*".to_owned(),
        destination: "mirror".to_owned(),
        tag_filter: Some("v*".to_owned()),
        trigger: Trigger::Schedule { every_secs: 3600 },
        delete_propagation: true,
        copy_referrers: false,
        enabled: true,
        bandwidth_limit: Some(1_000_000),
    }
}

pub(super) fn copy(image: &str, reference: &str) -> NewTask {
    NewTask {
        image: image.to_owned(),
        reference: reference.to_owned(),
        action: TaskAction::Copy,
    }
}

pub(super) fn delete(image: &str, reference: &str) -> NewTask {
    NewTask {
        action: TaskAction::Delete,
        ..copy(image, reference)
    }
}

/// Account 1 with its registry `peer` and a rule `nightly` on it.
pub(super) async fn rule_on_peer(s: &dyn MetadataStore) -> ReplicationRule {
    setup(s, 1, "team", None).await;
    let peer = s
        .create_remote_registry(new_registry(1, "peer"), T0)
        .await
        .expect("create registry");
    s.create_replication_rule(new_rule(1, "nightly", &peer), T0)
        .await
        .expect("create rule")
}

/// The registry `name` of account 1.
pub(super) async fn registry_of(s: &dyn MetadataStore, name: &str) -> RemoteRegistry {
    s.remote_registry(AccountId(1), &registry_name(name))
        .await
        .expect("read")
        .expect("present")
}

pub(super) fn is_not_found(result: &Result<impl std::fmt::Debug, Error>, entity: Entity) -> bool {
    matches!(result, Err(Error::NotFound { entity: e, .. }) if *e == entity)
}

/// A change to a rule, and what it does to the expected rule.
type Step = (ReplicationRuleUpdate, fn(&mut ReplicationRule));

/// Rules are per account: created, read, listed (per account by name, all by account then
/// name), changed field by field, deleted; the same name in another account is another rule,
/// and a registry of another account is not found.
pub async fn replication_rules_are_kept_per_account(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    setup(s, 2, "others", None).await;
    let peer = s
        .create_remote_registry(new_registry(1, "peer"), T0)
        .await
        .expect("create");
    let spare = s
        .create_remote_registry(new_registry(1, "spare"), T0)
        .await
        .expect("create");
    let theirs = s
        .create_remote_registry(new_registry(2, "theirs"), T0)
        .await
        .expect("create");

    let nightly = s
        .create_replication_rule(new_rule(1, "nightly", &peer), at(1))
        .await
        .expect("create");
    let expected = ReplicationRule {
        id: nightly.id,
        account: AccountId(1),
        name: "nightly".to_owned(),
        direction: Direction::Push,
        registry: peer.id,
        registry_name: registry_name("peer"),
        source: "team/app-*".to_owned(),
        destination: "mirror".to_owned(),
        tag_filter: Some("v*".to_owned()),
        trigger: Trigger::Schedule { every_secs: 3600 },
        delete_propagation: true,
        copy_referrers: false,
        enabled: true,
        bandwidth_limit: Some(1_000_000),
        created: at(1),
        scheduled: None,
    };
    assert_eq!(nightly, expected);
    assert_eq!(
        s.replication_rule(AccountId(1), "nightly")
            .await
            .expect("read"),
        Some(expected.clone())
    );

    let again = s
        .create_replication_rule(new_rule(1, "nightly", &spare), at(2))
        .await;
    assert!(
        matches!(
            again,
            Err(Error::AlreadyExists {
                entity: Entity::ReplicationRule,
                ..
            })
        ),
        "{again:?}"
    );
    let foreign = s
        .create_replication_rule(new_rule(1, "foreign", &theirs), at(2))
        .await;
    assert!(
        is_not_found(&foreign, Entity::RemoteRegistry),
        "another account's registry: {foreign:?}"
    );
    let other = s
        .create_replication_rule(new_rule(2, "nightly", &theirs), at(2))
        .await
        .expect("the same name in another account");
    assert_ne!(other.id, nightly.id);
    let mut manual = new_rule(1, "adhoc", &spare);
    manual.direction = Direction::Pull;
    manual.trigger = Trigger::Manual;
    manual.tag_filter = None;
    manual.bandwidth_limit = None;
    let adhoc = s
        .create_replication_rule(manual, at(3))
        .await
        .expect("create");
    assert_eq!(
        (adhoc.direction, adhoc.trigger, adhoc.tag_filter.clone()),
        (Direction::Pull, Trigger::Manual, None)
    );
    assert_eq!(adhoc.registry_name, registry_name("spare"));

    let names = |rules: Vec<ReplicationRule>| -> Vec<(i64, String)> {
        rules.into_iter().map(|r| (r.account.0, r.name)).collect()
    };
    assert_eq!(
        names(
            s.list_replication_rules(Some(AccountId(1)))
                .await
                .expect("list")
        ),
        [(1, "adhoc".to_owned()), (1, "nightly".to_owned())]
    );
    assert_eq!(
        names(s.list_replication_rules(None).await.expect("list all")),
        [
            (1, "adhoc".to_owned()),
            (1, "nightly".to_owned()),
            (2, "nightly".to_owned())
        ]
    );
    assert!(
        s.list_replication_rules(Some(AccountId(3)))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        s.replication_rule(AccountId(2), "adhoc")
            .await
            .expect("read"),
        None,
        "another account's rule is not visible"
    );

    // Each field on its own, the others kept.
    let steps: Vec<Step> = vec![
        (
            ReplicationRuleUpdate {
                direction: Some(Direction::Pull),
                ..Default::default()
            },
            |r| r.direction = Direction::Pull,
        ),
        (
            ReplicationRuleUpdate {
                registry: Some(spare.id),
                ..Default::default()
            },
            // The id is set below: a plain fn cannot hold it.
            |r| r.registry_name = registry_name("spare"),
        ),
        (
            ReplicationRuleUpdate {
                source: Some("upstream/library/*".to_owned()),
                ..Default::default()
            },
            |r| r.source = "upstream/library/*".to_owned(),
        ),
        (
            ReplicationRuleUpdate {
                destination: Some("team".to_owned()),
                ..Default::default()
            },
            |r| r.destination = "team".to_owned(),
        ),
        (
            ReplicationRuleUpdate {
                tag_filter: Some(None),
                ..Default::default()
            },
            |r| r.tag_filter = None,
        ),
        (
            ReplicationRuleUpdate {
                trigger: Some(Trigger::Event),
                ..Default::default()
            },
            |r| r.trigger = Trigger::Event,
        ),
        (
            ReplicationRuleUpdate {
                delete_propagation: Some(false),
                ..Default::default()
            },
            |r| r.delete_propagation = false,
        ),
        (
            ReplicationRuleUpdate {
                copy_referrers: Some(true),
                ..Default::default()
            },
            |r| r.copy_referrers = true,
        ),
        (
            ReplicationRuleUpdate {
                enabled: Some(false),
                ..Default::default()
            },
            |r| r.enabled = false,
        ),
        (
            ReplicationRuleUpdate {
                bandwidth_limit: Some(None),
                ..Default::default()
            },
            |r| r.bandwidth_limit = None,
        ),
        (
            ReplicationRuleUpdate {
                tag_filter: Some(Some("latest".to_owned())),
                bandwidth_limit: Some(Some(5)),
                trigger: Some(Trigger::Schedule { every_secs: 60 }),
                ..Default::default()
            },
            |r| {
                r.tag_filter = Some("latest".to_owned());
                r.bandwidth_limit = Some(5);
                r.trigger = Trigger::Schedule { every_secs: 60 };
            },
        ),
    ];
    let mut want = expected;
    for (i, (change, apply)) in steps.into_iter().enumerate() {
        if change.registry.is_some() {
            want.registry = spare.id;
        }
        apply(&mut want);
        let changed = s
            .update_replication_rule(AccountId(1), "nightly", change)
            .await
            .expect("update");
        assert_eq!(changed, want, "step {i}");
    }
    let reread = (h.reopen)().await;
    assert_eq!(
        reread
            .replication_rule(AccountId(1), "nightly")
            .await
            .expect("read"),
        Some(want.clone()),
        "through another handle"
    );
    assert_eq!(
        s.update_replication_rule(AccountId(1), "nightly", ReplicationRuleUpdate::default())
            .await
            .expect("no change"),
        want
    );
    let moved = s
        .update_replication_rule(
            AccountId(1),
            "nightly",
            ReplicationRuleUpdate {
                registry: Some(theirs.id),
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert!(
        is_not_found(&moved, Entity::RemoteRegistry),
        "another account's registry: {moved:?}"
    );
    assert_eq!(
        s.replication_rule(AccountId(1), "nightly")
            .await
            .expect("read"),
        Some(want),
        "a refused update changes nothing"
    );
    let missing = s
        .update_replication_rule(AccountId(2), "adhoc", ReplicationRuleUpdate::default())
        .await;
    assert!(
        is_not_found(&missing, Entity::ReplicationRule),
        "{missing:?}"
    );

    s.delete_replication_rule(AccountId(1), "nightly")
        .await
        .expect("delete");
    let gone = s.delete_replication_rule(AccountId(1), "nightly").await;
    assert!(is_not_found(&gone, Entity::ReplicationRule), "{gone:?}");
    assert_eq!(
        s.replication_rule(AccountId(1), "nightly")
            .await
            .expect("read"),
        None
    );
    assert!(
        s.replication_rule(AccountId(2), "nightly")
            .await
            .expect("read")
            .is_some(),
        "the other account's rule of that name stays"
    );
}

/// A registry a rule uses cannot be deleted (the first such rule by name is named); once the
/// rules moved away or went, it can.
pub async fn registries_used_by_rules_are_kept(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let peer = s
        .create_remote_registry(new_registry(1, "peer"), T0)
        .await
        .expect("create");
    let spare = s
        .create_remote_registry(new_registry(1, "spare"), T0)
        .await
        .expect("create");
    for name in ["zeta", "alpha"] {
        s.create_replication_rule(new_rule(1, name, &peer), T0)
            .await
            .expect("create");
    }
    match s
        .delete_remote_registry(AccountId(1), &registry_name("peer"))
        .await
    {
        Err(Error::RegistryUsedByRule { registry, rule }) => {
            assert_eq!(registry, registry_name("peer"));
            assert_eq!(rule, "alpha", "the first rule by name");
        }
        other => panic!("deleting a registry a rule uses: {other:?}"),
    }
    assert!(
        s.remote_registry(AccountId(1), &registry_name("peer"))
            .await
            .expect("read")
            .is_some(),
        "nothing was deleted"
    );
    s.update_replication_rule(
        AccountId(1),
        "alpha",
        ReplicationRuleUpdate {
            registry: Some(spare.id),
            ..Default::default()
        },
    )
    .await
    .expect("move");
    match s
        .delete_remote_registry(AccountId(1), &registry_name("peer"))
        .await
    {
        Err(Error::RegistryUsedByRule { rule, .. }) => assert_eq!(rule, "zeta"),
        other => panic!("deleting a registry a rule uses: {other:?}"),
    }
    s.delete_replication_rule(AccountId(1), "zeta")
        .await
        .expect("delete rule");
    s.delete_remote_registry(AccountId(1), &registry_name("peer"))
        .await
        .expect("no longer used");
    let used = s
        .delete_remote_registry(AccountId(1), &registry_name("spare"))
        .await;
    assert!(
        matches!(used, Err(Error::RegistryUsedByRule { .. })),
        "{used:?}"
    );
}

/// `mark_rule_scheduled` is a compare-and-set: of several callers with the same `previous`,
/// on any handles, exactly one wins.
pub async fn rules_are_scheduled_once(h: &Harness) {
    let rule = rule_on_peer(&*h.store).await;
    let s = &*h.store;
    let id = rule.id;
    let mut previous = None;
    for round in 1..=4 {
        let handles: Vec<Arc<dyn MetadataStore>> =
            vec![h.store.clone(), (h.reopen)().await, h.store.clone()];
        let calls = handles.into_iter().map(|store| {
            tokio::spawn(async move {
                store
                    .mark_rule_scheduled(id, previous, at(round * 10))
                    .await
            })
        });
        let won = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|r| r.expect("task").expect("mark"))
            .filter(|won| *won)
            .count();
        assert_eq!(won, 1, "round {round}");
        assert_eq!(
            s.replication_rule(AccountId(1), "nightly")
                .await
                .expect("read")
                .expect("present")
                .scheduled,
            Some(at(round * 10))
        );
        previous = Some(at(round * 10));
    }
    assert!(
        !s.mark_rule_scheduled(rule.id, Some(at(10)), at(99))
            .await
            .expect("mark"),
        "a stale previous"
    );
    assert!(
        !s.mark_rule_scheduled(rule.id, None, at(99))
            .await
            .expect("mark"),
        "no longer unscheduled"
    );
    assert!(
        !s.mark_rule_scheduled(ReplicationRuleId(rule.id.0 + 1000), None, at(99))
            .await
            .expect("mark"),
        "an unknown rule"
    );
}
