//! Replication executions: created planned or not, claimed under a lease, planned and
//! finished task by task by the lease's owner, deleted with their rule.

use super::replication::{copy, delete, is_not_found, new_rule, registry_of, rule_on_peer};
use super::*;
use crate::{Entity, MetadataStore};

/// An execution of `rule` claimed by `owner` until `at(100)`.
async fn claimed(
    s: &dyn MetadataStore,
    rule: &ReplicationRule,
    tasks: Option<Vec<NewTask>>,
    owner: &str,
) -> ReplicationExecution {
    let created = s
        .create_execution(rule.id, "manual", tasks, at(1))
        .await
        .expect("create execution");
    let claimed = s
        .claim_execution(owner, at(2), at(100))
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(claimed.id, created.id);
    claimed
}

async fn execution(s: &dyn MetadataStore, id: ExecutionId) -> ReplicationExecution {
    s.execution(id).await.expect("execution").expect("present")
}

/// An execution starts running without a lease, planned with the tasks it is given (numbered
/// from 0) or unplanned; a rule's executions are listed newest first.
pub async fn executions_are_created_planned_or_not(h: &Harness) {
    let s = &*h.store;
    let rule = rule_on_peer(s).await;
    let planned = s
        .create_execution(
            rule.id,
            "event",
            Some(vec![copy("app", "v1"), delete("app", "old")]),
            at(1),
        )
        .await
        .expect("create");
    assert_eq!(
        planned,
        ReplicationExecution {
            id: planned.id,
            rule: rule.id,
            trigger: "event".to_owned(),
            status: ExecutionStatus::Running,
            planned: true,
            started: at(1),
            finished: None,
            artifacts_total: 2,
            artifacts_copied: 0,
            artifacts_skipped: 0,
            artifacts_failed: 0,
            bytes: 0,
            error: None,
            lease: None,
        }
    );
    assert_eq!(execution(s, planned.id).await, planned);
    let tasks = s.execution_tasks(planned.id, false).await.expect("tasks");
    assert_eq!(
        tasks,
        [
            ReplicationTask {
                seq: 0,
                task: copy("app", "v1"),
                state: TaskState::Pending
            },
            ReplicationTask {
                seq: 1,
                task: delete("app", "old"),
                state: TaskState::Pending
            },
        ]
    );

    let unplanned = s
        .create_execution(rule.id, "schedule", None, at(2))
        .await
        .expect("create");
    assert!(!unplanned.planned);
    assert_eq!(unplanned.artifacts_total, 0);
    assert_eq!(unplanned.trigger, "schedule");
    assert!(
        s.execution_tasks(unplanned.id, false)
            .await
            .expect("tasks")
            .is_empty()
    );
    let empty = s
        .create_execution(rule.id, "manual", Some(Vec::new()), at(3))
        .await
        .expect("create");
    assert!(empty.planned, "planned with no tasks");

    let unknown = s
        .create_execution(ReplicationRuleId(rule.id.0 + 1000), "manual", None, at(4))
        .await;
    assert!(
        is_not_found(&unknown, Entity::ReplicationRule),
        "{unknown:?}"
    );
    assert_eq!(
        s.execution(ExecutionId(empty.id.0 + 1000))
            .await
            .expect("read"),
        None
    );

    let ids = |list: Vec<ReplicationExecution>| -> Vec<ExecutionId> {
        list.into_iter().map(|e| e.id).collect()
    };
    assert_eq!(
        ids(s.list_executions(rule.id, 10).await.expect("list")),
        [empty.id, unplanned.id, planned.id]
    );
    assert_eq!(
        ids(s.list_executions(rule.id, 2).await.expect("list")),
        [empty.id, unplanned.id]
    );
    let other = s
        .create_replication_rule(new_rule(1, "other", &registry_of(s, "peer").await), T0)
        .await
        .expect("create");
    assert!(
        s.list_executions(other.id, 10)
            .await
            .expect("list")
            .is_empty()
    );
}

/// A claim takes the oldest running execution without a live lease; nobody else gets it until
/// the lease ends (strictly before their `now`), and only its owner renews it.
pub async fn executions_are_claimed_under_a_lease(h: &Harness) {
    let s = &*h.store;
    let rule = rule_on_peer(s).await;
    let first = s
        .create_execution(rule.id, "manual", None, at(1))
        .await
        .expect("create");
    let second = s
        .create_execution(rule.id, "manual", None, at(1))
        .await
        .expect("create");

    let a = s
        .claim_execution("node-a", at(2), at(10))
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(a.id, first.id, "oldest first");
    assert_eq!(
        a.lease,
        Some(Lease {
            owner: "node-a".to_owned(),
            until: at(10)
        })
    );
    assert_eq!(execution(s, first.id).await.lease, a.lease);
    let b = s
        .claim_execution("node-b", at(3), at(10))
        .await
        .expect("claim")
        .expect("the other one");
    assert_eq!(b.id, second.id);
    assert_eq!(
        s.claim_execution("node-c", at(4), at(20))
            .await
            .expect("claim"),
        None,
        "both are held"
    );
    assert_eq!(
        s.claim_execution("node-c", at(10), at(20))
            .await
            .expect("claim"),
        None,
        "a lease holds until its end"
    );

    assert!(
        !s.renew_lease(first.id, "node-b", at(30))
            .await
            .expect("renew"),
        "not the owner"
    );
    assert!(
        s.renew_lease(first.id, "node-a", at(30))
            .await
            .expect("renew")
    );
    assert_eq!(
        execution(s, first.id).await.lease.expect("lease").until,
        at(30)
    );

    // node-b's lease lapses: node-c takes it over, and node-b can no longer renew it.
    let c = s
        .claim_execution(
            "node-c",
            Timestamp::from_unix_millis(at(10).unix_millis() + 1),
            at(40),
        )
        .await
        .expect("claim")
        .expect("a lapsed lease");
    assert_eq!(c.id, second.id);
    assert!(
        !s.renew_lease(second.id, "node-b", at(50))
            .await
            .expect("renew"),
        "lost to another node"
    );
    assert_eq!(
        execution(s, second.id).await.lease,
        Some(Lease {
            owner: "node-c".to_owned(),
            until: at(40)
        })
    );
    assert!(
        !s.renew_lease(ExecutionId(second.id.0 + 1000), "node-c", at(50))
            .await
            .expect("renew"),
        "an unknown execution"
    );
}

/// Planning appends tasks numbered after the existing ones and adds them to the total; only
/// the lease's owner plans.
pub async fn executions_are_planned_by_their_claimant(h: &Harness) {
    let s = &*h.store;
    let rule = rule_on_peer(s).await;
    let e = claimed(s, &rule, None, "node-a").await;
    assert!(!e.planned);
    assert!(
        !s.plan_execution(e.id, "node-b", vec![copy("app", "v1")])
            .await
            .expect("plan"),
        "not the owner"
    );
    assert_eq!(execution(s, e.id).await, e, "nothing changed");
    assert!(
        s.plan_execution(e.id, "node-a", vec![copy("app", "v1"), copy("app", "v2")])
            .await
            .expect("plan")
    );
    assert!(
        s.plan_execution(e.id, "node-a", vec![delete("lib", "old")])
            .await
            .expect("plan more")
    );
    let planned = execution(s, e.id).await;
    assert!(planned.planned);
    assert_eq!(planned.artifacts_total, 3);
    let tasks = s.execution_tasks(e.id, false).await.expect("tasks");
    let seen: Vec<(u64, NewTask)> = tasks.into_iter().map(|t| (t.seq, t.task)).collect();
    assert_eq!(
        seen,
        [
            (0, copy("app", "v1")),
            (1, copy("app", "v2")),
            (2, delete("lib", "old"))
        ]
    );

    // Tasks given at creation are numbered from 0; planning continues after them.
    let f = s
        .create_execution(rule.id, "manual", Some(vec![copy("a", "1")]), at(5))
        .await
        .expect("create");
    let f = s
        .claim_execution("node-b", at(6), at(100))
        .await
        .expect("claim")
        .filter(|c| c.id == f.id)
        .expect("claims the new one");
    assert!(
        s.plan_execution(f.id, "node-b", vec![copy("b", "2")])
            .await
            .expect("plan")
    );
    let seqs: Vec<u64> = s
        .execution_tasks(f.id, false)
        .await
        .expect("tasks")
        .iter()
        .map(|t| t.seq)
        .collect();
    assert_eq!(seqs, [0, 1]);
    assert_eq!(execution(s, f.id).await.artifacts_total, 2);
    assert!(
        !s.plan_execution(ExecutionId(f.id.0 + 1000), "node-b", Vec::new())
            .await
            .expect("plan"),
        "an unknown execution"
    );
}

/// A task's outcome is recorded once, by the lease's owner, and counted in its execution.
pub async fn task_outcomes_are_counted_once(h: &Harness) {
    let s = &*h.store;
    let rule = rule_on_peer(s).await;
    let tasks = vec![
        copy("app", "v1"),
        copy("app", "v2"),
        copy("app", "v3"),
        delete("app", "old"),
    ];
    let e = claimed(s, &rule, Some(tasks), "node-a").await;
    let failed = TaskState::Failed {
        error: "401 from the destination".to_owned(),
    };
    assert!(
        s.finish_task(e.id, 0, "node-a", TaskState::Copied { bytes: 1_500 })
            .await
            .expect("finish")
    );
    assert!(
        s.finish_task(e.id, 2, "node-a", failed.clone())
            .await
            .expect("finish")
    );
    assert!(
        s.finish_task(e.id, 3, "node-a", TaskState::Skipped)
            .await
            .expect("finish")
    );
    assert!(
        !s.finish_task(e.id, 0, "node-a", TaskState::Copied { bytes: 99 })
            .await
            .expect("finish"),
        "finished already"
    );
    assert!(
        !s.finish_task(e.id, 1, "node-b", TaskState::Skipped)
            .await
            .expect("finish"),
        "not the owner"
    );
    assert!(
        !s.finish_task(e.id, 7, "node-a", TaskState::Skipped)
            .await
            .expect("finish"),
        "no such task"
    );

    let now = execution(s, e.id).await;
    assert_eq!(
        (
            now.artifacts_total,
            now.artifacts_copied,
            now.artifacts_skipped,
            now.artifacts_failed,
            now.bytes
        ),
        (4, 1, 1, 1, 1_500)
    );
    assert_eq!(now.status, ExecutionStatus::Running);
    let states: Vec<TaskState> = s
        .execution_tasks(e.id, false)
        .await
        .expect("tasks")
        .into_iter()
        .map(|t| t.state)
        .collect();
    assert_eq!(
        states,
        [
            TaskState::Copied { bytes: 1_500 },
            TaskState::Pending,
            failed,
            TaskState::Skipped
        ]
    );
    let pending = s.execution_tasks(e.id, true).await.expect("pending");
    assert_eq!(
        pending,
        [ReplicationTask {
            seq: 1,
            task: copy("app", "v2"),
            state: TaskState::Pending
        }]
    );
    assert!(
        s.finish_task(e.id, 1, "node-a", TaskState::Copied { bytes: 500 })
            .await
            .expect("finish")
    );
    assert!(
        s.execution_tasks(e.id, true)
            .await
            .expect("pending")
            .is_empty()
    );
    let reread = (h.reopen)().await;
    let done = reread
        .execution(e.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!((done.artifacts_copied, done.bytes), (2, 2_000));
}

/// Finishing gives the status [`ExecutionStatus::of`] says, sets `finished` and the error,
/// clears the lease; a finished execution is neither claimable nor changed by its old owner.
pub async fn finished_executions_have_a_status(h: &Harness) {
    let s = &*h.store;
    let rule = rule_on_peer(s).await;
    let cases: [(&[TaskState], Option<&str>, ExecutionStatus); 5] = [
        (
            &[TaskState::Copied { bytes: 10 }, TaskState::Skipped],
            None,
            ExecutionStatus::Succeeded,
        ),
        (&[], None, ExecutionStatus::Succeeded),
        (
            &[
                TaskState::Copied { bytes: 10 },
                TaskState::Failed {
                    error: "boom".to_owned(),
                },
            ],
            None,
            ExecutionStatus::Partial,
        ),
        (
            &[TaskState::Failed {
                error: "boom".to_owned(),
            }],
            None,
            ExecutionStatus::Failed,
        ),
        (
            &[TaskState::Copied { bytes: 10 }],
            Some("cannot list the source"),
            ExecutionStatus::Failed,
        ),
    ];
    for (i, (outcomes, error, status)) in cases.into_iter().enumerate() {
        let tasks = (0..outcomes.len())
            .map(|n| copy("app", &format!("v{n}")))
            .collect();
        let e = claimed(s, &rule, Some(tasks), "node-a").await;
        for (seq, outcome) in (0..).zip(outcomes) {
            assert!(
                s.finish_task(e.id, seq, "node-a", outcome.clone())
                    .await
                    .expect("finish task")
            );
        }
        assert_eq!(
            s.finish_execution(e.id, "node-b", None, at(50))
                .await
                .expect("finish"),
            None,
            "case {i}: not the owner"
        );
        let done = s
            .finish_execution(e.id, "node-a", error.map(str::to_owned), at(50))
            .await
            .expect("finish")
            .expect("the owner finishes");
        assert_eq!(done.status, status, "case {i}");
        assert_eq!(done.error.as_deref(), error, "case {i}");
        assert_eq!(done.finished, Some(at(50)), "case {i}");
        assert_eq!(done.lease, None, "case {i}");
        assert_eq!(execution(s, e.id).await, done, "case {i}");
        assert_eq!(
            s.finish_execution(e.id, "node-a", None, at(60))
                .await
                .expect("finish"),
            None,
            "case {i}: finished already"
        );
        assert!(
            !s.renew_lease(e.id, "node-a", at(200)).await.expect("renew"),
            "case {i}"
        );
        assert!(
            !s.plan_execution(e.id, "node-a", vec![copy("late", "1")])
                .await
                .expect("plan"),
            "case {i}"
        );
        assert_eq!(
            s.claim_execution("node-c", at(1_000), at(2_000))
                .await
                .expect("claim"),
            None,
            "case {i}: a finished execution is not claimable"
        );
    }
    // A task left pending stays so: the execution finished around it.
    let e = claimed(s, &rule, Some(vec![copy("app", "x")]), "node-a").await;
    s.finish_execution(e.id, "node-a", None, at(70))
        .await
        .expect("finish")
        .expect("finished");
    assert!(
        !s.finish_task(e.id, 0, "node-a", TaskState::Skipped)
            .await
            .expect("finish task"),
        "the execution is over"
    );
    assert_eq!(execution(s, e.id).await.artifacts_skipped, 0);
}

/// Deleting a rule deletes its executions and their tasks; a node still running one finds out
/// at its next step. Other rules' executions stay.
pub async fn deleting_a_rule_deletes_its_executions(h: &Harness) {
    let s = &*h.store;
    let rule = rule_on_peer(s).await;
    let kept = s
        .create_replication_rule(new_rule(1, "kept", &registry_of(s, "peer").await), T0)
        .await
        .expect("create");
    let e = claimed(s, &rule, Some(vec![copy("app", "v1")]), "node-a").await;
    let idle = s
        .create_execution(rule.id, "manual", None, at(3))
        .await
        .expect("create");
    let other = s
        .create_execution(kept.id, "manual", Some(vec![copy("app", "v1")]), at(3))
        .await
        .expect("create");
    s.delete_replication_rule(AccountId(1), "nightly")
        .await
        .expect("delete");
    for id in [e.id, idle.id] {
        assert_eq!(s.execution(id).await.expect("read"), None);
        assert!(
            s.execution_tasks(id, false)
                .await
                .expect("tasks")
                .is_empty()
        );
    }
    assert!(
        s.list_executions(rule.id, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(!s.renew_lease(e.id, "node-a", at(200)).await.expect("renew"));
    assert!(
        !s.finish_task(e.id, 0, "node-a", TaskState::Skipped)
            .await
            .expect("finish task")
    );
    assert_eq!(
        s.finish_execution(e.id, "node-a", None, at(50))
            .await
            .expect("finish"),
        None
    );
    assert_eq!(
        s.create_replication_rule(new_rule(1, "nightly", &registry_of(s, "peer").await), T0)
            .await
            .expect("the name is free again")
            .scheduled,
        None
    );
    assert_eq!(execution(s, other.id).await, other);
    assert_eq!(
        s.execution_tasks(other.id, false)
            .await
            .expect("tasks")
            .len(),
        1
    );
    let claimed = s
        .claim_execution("node-b", at(4), at(100))
        .await
        .expect("claim")
        .expect("the other rule's execution");
    assert_eq!(claimed.id, other.id);
}

/// Nodes claiming at once, on several handles, never share an execution: each is claimed by
/// exactly one of them, and the rest get nothing.
pub async fn concurrent_claims_take_each_execution_once(h: &Harness) {
    let rule = rule_on_peer(&*h.store).await;
    let second = (h.reopen)().await;
    for (round, executions) in [(0u32, 1usize), (1, 3)] {
        let mut created = Vec::new();
        for _ in 0..executions {
            created.push(
                h.store
                    .create_execution(rule.id, "manual", None, at(1))
                    .await
                    .expect("create")
                    .id,
            );
        }
        let claims = (0..6).map(|n| {
            let store = if n % 2 == 0 {
                h.store.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                store
                    .claim_execution(&format!("node-{round}-{n}"), at(2), at(100))
                    .await
            })
        });
        let mut won: Vec<ExecutionId> = futures::future::join_all(claims)
            .await
            .into_iter()
            .filter_map(|r| r.expect("task").expect("claim"))
            .map(|e| e.id)
            .collect();
        won.sort();
        created.sort();
        assert_eq!(won, created, "round {round}: each claimed once");
        for id in created {
            let owner = execution(&*h.store, id).await.lease.expect("leased").owner;
            assert!(owner.starts_with(&format!("node-{round}-")), "{owner}");
            h.store
                .finish_execution(id, &owner, None, at(3))
                .await
                .expect("finish")
                .expect("finished");
        }
    }
}
