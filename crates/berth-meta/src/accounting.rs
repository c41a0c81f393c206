//! The rules every backend applies, written once: which digests an artifact counts, what a push
//! adds to its repository's usage, and whether the quota admits it (with
//! [`berth_policy::admit`], the rule the engine applies to uploads too); and which history a
//! change of a repository user leaves in the repositories it concerns. Backends gather the facts
//! inside their transaction (the usage, which digests the repository counts already, the user's
//! permissions before) and call these, so the rules cannot drift apart between them.

use std::collections::BTreeMap;

use berth_model::{Digest, Permission, RepositoryName, Timestamp};

use crate::{BlobRef, Error, HistoryAction, HistoryEvent, Push, Result};

/// The history a change of repository user `user` leaves, one event per repository it concerns:
/// `add_user` where it gains a permission, `remove_user` where it loses one (or is deleted:
/// `after` empty), `change_user` where its permission changed, or where it kept one and
/// `changed` says what else changed (its expiry, description, disabled flag or secret).
pub fn user_history(
    user: &str,
    before: &[(RepositoryName, Permission)],
    after: &[(RepositoryName, Permission)],
    changed: Option<&str>,
    actor: &str,
    at: Timestamp,
) -> Vec<HistoryEvent> {
    let before: BTreeMap<&RepositoryName, Permission> =
        before.iter().map(|(r, p)| (r, *p)).collect();
    let after: BTreeMap<&RepositoryName, Permission> = after.iter().map(|(r, p)| (r, *p)).collect();
    let event = |repository: &RepositoryName, action, detail: String| HistoryEvent {
        at,
        actor: actor.to_owned(),
        action,
        repository: repository.clone(),
        image: None,
        target: Some(user.to_owned()),
        detail: Some(detail),
    };
    let mut events = Vec::new();
    for (repository, was) in &before {
        match after.get(repository) {
            None => events.push(event(
                repository,
                HistoryAction::RemoveUser,
                was.as_str().to_owned(),
            )),
            Some(now) if now != was => events.push(event(
                repository,
                HistoryAction::ChangeUser,
                format!("{} -> {}", was.as_str(), now.as_str()),
            )),
            Some(_) => {
                if let Some(changed) = changed {
                    events.push(event(
                        repository,
                        HistoryAction::ChangeUser,
                        changed.to_owned(),
                    ));
                }
            }
        }
    }
    for (repository, now) in &after {
        if !before.contains_key(repository) {
            events.push(event(
                repository,
                HistoryAction::AddUser,
                now.as_str().to_owned(),
            ));
        }
    }
    events
}

/// What a [`RepositoryUserUpdate`](crate::RepositoryUserUpdate) changes besides permissions, for
/// [`user_history`]'s `changed`.
pub fn user_change(update: &crate::RepositoryUserUpdate) -> Option<String> {
    let mut what = Vec::new();
    if update.secret_hash.is_some() {
        what.push("secret refreshed");
    }
    match update.disabled {
        Some(true) => what.push("disabled"),
        Some(false) => what.push("enabled"),
        None => {}
    }
    if update.expires.is_some() {
        what.push("expiry changed");
    }
    if update.description.is_some() {
        what.push("description changed");
    }
    (!what.is_empty()).then(|| what.join(", "))
}

/// The distinct digests `push` makes its artifact reference, sorted: its blobs and its own
/// manifest, each once. A digest listed twice counts once, at the smallest size given.
pub fn references(push: &Push) -> Vec<BlobRef> {
    let mut sizes: BTreeMap<&Digest, u64> = BTreeMap::new();
    let own = (&push.digest, push.manifest_size);
    for (digest, size) in push
        .blobs
        .iter()
        .map(|r| (&r.digest, r.size))
        .chain(std::iter::once(own))
    {
        sizes
            .entry(digest)
            .and_modify(|s| *s = (*s).min(size))
            .or_insert(size);
    }
    sizes
        .into_iter()
        .map(|(digest, size)| BlobRef {
            digest: digest.clone(),
            size,
        })
        .collect()
}

/// What recording `refs` adds to a repository's usage: the sizes of the digests it does not
/// count yet (`counted` says which it does), and whether its quota admits that: usage `used`,
/// limit `quota` (none: unlimited). Nothing is added by a re-push, so it is always admitted.
/// A sum past `u64::MAX` is refused as over any quota rather than wrapping.
pub fn admit_push(
    refs: &[BlobRef],
    counted: impl Fn(&Digest) -> bool,
    used: u64,
    quota: Option<u64>,
) -> Result<u64> {
    let mut added = 0u64;
    for r in refs.iter().filter(|r| !counted(&r.digest)) {
        added = added.checked_add(r.size).ok_or(Error::QuotaExceeded {
            used,
            delta: u64::MAX,
            limit: quota.unwrap_or(u64::MAX),
        })?;
    }
    berth_policy::admit(used, added, quota).map_err(|e| Error::QuotaExceeded {
        used: e.usage,
        delta: e.delta,
        limit: e.limit,
    })?;
    // Unlimited repositories still may not wrap their usage.
    used.checked_add(added).ok_or(Error::QuotaExceeded {
        used,
        delta: added,
        limit: u64::MAX,
    })?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::{Algorithm, Name};
    use proptest::prelude::*;

    fn digest(n: u8) -> Digest {
        Digest::compute(Algorithm::Sha256, &[n])
    }

    fn push(blobs: Vec<BlobRef>) -> Push {
        Push {
            name: Name::parse("team/app").unwrap(),
            digest: digest(0),
            media_type: String::new(),
            artifact_type: None,
            manifest_size: 7,
            total_size: 0,
            subject: None,
            annotations: Default::default(),
            blobs,
            children: Vec::new(),
            tag: None,
            actor: String::new(),
            at: berth_model::Timestamp::from_unix_millis(0),
            cached: false,
        }
    }

    #[test]
    fn a_digest_counts_once_at_its_smallest_size() {
        let refs = references(&push(vec![
            BlobRef {
                digest: digest(1),
                size: 10,
            },
            BlobRef {
                digest: digest(1),
                size: 4,
            },
            BlobRef {
                digest: digest(0),
                size: 99,
            },
        ]));
        let mut expected = vec![
            BlobRef {
                digest: digest(0),
                size: 7,
            },
            BlobRef {
                digest: digest(1),
                size: 4,
            },
        ];
        expected.sort_by(|a, b| a.digest.cmp(&b.digest));
        assert_eq!(refs, expected);
    }

    #[test]
    fn overflow_is_refused_not_wrapped() {
        let refs = [
            BlobRef {
                digest: digest(1),
                size: u64::MAX,
            },
            BlobRef {
                digest: digest(2),
                size: 2,
            },
        ];
        assert!(matches!(
            admit_push(&refs, |_| false, 0, None),
            Err(Error::QuotaExceeded { .. })
        ));
        let one = [BlobRef {
            digest: digest(1),
            size: 2,
        }];
        assert!(matches!(
            admit_push(&one, |_| false, u64::MAX - 1, None),
            Err(Error::QuotaExceeded { .. })
        ));
        assert!(matches!(
            admit_push(&one, |_| false, u64::MAX - 1, Some(u64::MAX)),
            Err(Error::QuotaExceeded { .. })
        ));
    }

    fn repo(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    #[test]
    fn a_user_change_is_told_where_it_matters() {
        let at = berth_model::Timestamp::from_unix_millis(0);
        let before = [
            (repo("a"), Permission::Pull),
            (repo("b"), Permission::PushPull),
            (repo("c"), Permission::Pull),
        ];
        let after = [
            (repo("a"), Permission::PushPull),
            (repo("c"), Permission::Pull),
            (repo("d"), Permission::Pull),
        ];
        let told: Vec<_> =
            user_history("1-ci", &before, &after, Some("expiry changed"), "alice", at)
                .into_iter()
                .map(|e| (e.repository.to_string(), e.action, e.detail.unwrap()))
                .collect();
        assert_eq!(
            told,
            [
                (
                    "a".into(),
                    HistoryAction::ChangeUser,
                    "pull -> push_pull".into()
                ),
                ("b".into(), HistoryAction::RemoveUser, "push_pull".into()),
                (
                    "c".into(),
                    HistoryAction::ChangeUser,
                    "expiry changed".into()
                ),
                ("d".into(), HistoryAction::AddUser, "pull".into()),
            ]
        );
        assert!(user_history("1-ci", &before, &before, None, "alice", at).is_empty());
    }

    proptest! {
        /// What is added is exactly the uncounted sizes, and it is admitted exactly when it is
        /// nothing or fits under the limit.
        #[test]
        fn admission_matches_its_definition(
            sizes in proptest::collection::vec((0u8..8, 0u64..1000), 0..10),
            counted in proptest::collection::btree_set(0u8..8, 0..8),
            used in 0u64..5000,
            quota in proptest::option::of(0u64..6000),
        ) {
            let pushed = push(sizes.iter().map(|&(d, size)| BlobRef { digest: digest(d + 1), size }).collect());
            let refs = references(&pushed);
            let is_counted = |d: &Digest| counted.iter().any(|&c| digest(c + 1) == *d);
            let expected: u64 = refs.iter().filter(|r| !is_counted(&r.digest)).map(|r| r.size).sum();
            match admit_push(&refs, is_counted, used, quota) {
                Ok(added) => {
                    prop_assert_eq!(added, expected);
                    prop_assert!(added == 0 || quota.is_none_or(|q| used + added <= q));
                }
                Err(Error::QuotaExceeded { delta, .. }) => {
                    prop_assert_eq!(delta, expected);
                    prop_assert!(expected > 0 && quota.is_some_and(|q| used + expected > q));
                }
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
