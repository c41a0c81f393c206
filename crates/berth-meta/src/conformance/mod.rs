//! The conformance suite every [`MetadataStore`] runs (feature `conformance`).
//!
//! A backend's tests build a [`Harness`] and call
//! [`meta_conformance_tests!`](crate::meta_conformance_tests), which generates one test per case,
//! grouped as the contract is split: `account_store::*` for
//! [`AccountStore`](crate::AccountStore), `registry_store::*` for
//! [`RegistryStore`](crate::RegistryStore), and `across::*` for what spans both in one
//! transaction. Every case starts from an empty store and creates what it needs (a registry case
//! creates its account through the account half).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use berth_model::{Digest, Name, RepositoryName, Tag};
use futures::future::BoxFuture;

use crate::MetadataStore;
pub(crate) use crate::types::*;

mod accounts;
mod console;
mod credentials;
mod deletes;
mod executions;
mod leases;
mod property;
mod registry;
mod remotes;
mod replication;
mod uploads;

pub use accounts::*;
pub use console::*;
pub use credentials::*;
pub use deletes::*;
pub use executions::*;
pub use leases::*;
pub use property::*;
pub use registry::*;
pub use remotes::*;
pub use replication::*;
pub use uploads::*;

/// What the suite needs of a backend.
pub struct Harness {
    /// The store under test, empty.
    pub store: Arc<dyn MetadataStore>,
    /// A second, independent handle on the same data (another connection pool, another node).
    pub reopen: Box<dyn Fn() -> BoxFuture<'static, Arc<dyn MetadataStore>> + Send + Sync>,
    /// Keeps whatever the backend needs alive (a temporary directory, a database).
    pub guard: Box<dyn Any + Send + Sync>,
}

/// Generates a `#[tokio::test]` per conformance case, each calling `$harness().await` for a fresh
/// [`Harness`]. The calling crate needs `tokio` with `macros` and `rt-multi-thread`.
#[macro_export]
macro_rules! meta_conformance_tests {
    ($harness:path) => {
        /// The [`AccountStore`](berth_meta::AccountStore) contract.
        mod account_store {
            use super::*;
            $crate::meta_conformance_tests!(@cases $harness;
                accounts_and_console_users, console_users_and_accounts_are_listed,
                api_tokens_are_listed_and_deleted, console_sessions_are_stored_bounded_and_ended,
                console_user_changes_end_sessions_and_tokens, console_users_are_deleted,
                repository_users_and_permissions, repository_users_are_deleted);
        }
        /// The [`RegistryStore`](berth_meta::RegistryStore) contract.
        mod registry_store {
            use super::*;
            $crate::meta_conformance_tests!(@cases $harness;
                repositories_are_unique_and_paged, push_records_everything,
                push_requires_known_blobs_and_children, repush_changes_no_usage_and_moves_the_tag,
                shared_digests_count_once, a_digest_listed_twice_counts_once,
                quota_refuses_and_records_nothing, concurrent_pushes_cannot_both_exceed_the_quota,
                deletes_lower_usage_at_once, tags_are_sorted_with_n_and_last,
                catalog_respects_scope_and_paging, referrers_filter_by_artifact_type,
                pulls_are_additive_across_handles, artifacts_list_newest_first,
                blobs_and_garbage_collection_queries, forgotten_blobs_are_tombstoned_until_finished,
                blobs_are_linked_per_repository, upload_sessions, history_is_newest_first,
                usage_matches_recomputation_after_random_operations, images_are_filtered_by_name,
                repositories_count_their_images, deleting_a_repository_with_artifacts_is_refused,
                deleting_a_repository_races_a_push, upload_sessions_are_capped_and_counted,
                concurrent_upload_starts_cannot_pass_the_cap,
                deleting_a_repository_removes_its_upload_sessions,
                linked_repositories_are_listed_per_account,
                deleting_an_image_deletes_its_artifacts_and_tags, referrers_go_with_their_subject,
                remote_registries_are_kept_per_account, proxy_repositories_hold_their_registry,
                cached_pushes_need_no_blobs_yet, replication_rules_are_kept_per_account,
                registries_used_by_rules_are_kept, rules_are_scheduled_once,
                executions_are_created_planned_or_not, executions_are_claimed_under_a_lease,
                executions_are_planned_by_their_claimant, task_outcomes_are_counted_once,
                finished_executions_have_a_status, deleting_a_rule_deletes_its_executions,
                concurrent_claims_take_each_execution_once, a_rule_goes_with_its_executions,
                replication_executions_are_leased);
        }
        /// What spans the two halves of a [`MetadataStore`](berth_meta::MetadataStore) in one
        /// transaction: a repository's deletion takes the permissions on it and refuses writes
        /// that name it; a repository user's changes are recorded in its repositories' history.
        mod across {
            use super::*;
            $crate::meta_conformance_tests!(@cases $harness;
                deleting_an_empty_repository_removes_everything_of_it,
                deleting_a_repository_races_writes_that_refer_to_it,
                repository_user_changes_are_recorded);
        }
    };
    (@cases $harness:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = $harness().await;
                $crate::conformance::$case(&harness).await;
            }
        )*
    };
}

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0.unix_millis() + seconds * 1000)
}

fn repo(s: &str) -> RepositoryName {
    RepositoryName::parse(s).expect("repository name")
}

fn name(s: &str) -> Name {
    Name::parse(s).expect("name")
}

fn tag(s: &str) -> Tag {
    Tag::parse(s).expect("tag")
}

fn digest(s: &str) -> Digest {
    Digest::sha256(s.as_bytes())
}

/// An account `id` with a repository `repository` (private, optional quota).
async fn setup(
    store: &dyn MetadataStore,
    id: i64,
    repository: &str,
    quota: Option<u64>,
) -> Repository {
    if store
        .account(AccountId(id))
        .await
        .expect("account")
        .is_none()
    {
        store
            .create_account(AccountId(id), &format!("account {id}"), T0)
            .await
            .expect("create account");
    }
    let new = NewRepository {
        account: AccountId(id),
        name: repo(repository),
        access: Access::Private,
        quota,
        delete_orphan_referrers: true,
        proxy: None,
    };
    store
        .create_repository(new, "admin", T0)
        .await
        .expect("create repository")
}

/// Records blobs `names` with `size` bytes each; returns their references.
async fn blobs(store: &dyn MetadataStore, names: &[&str], size: u64) -> Vec<BlobRef> {
    let mut out = Vec::new();
    for n in names {
        let d = digest(n);
        store.record_blob(&d, size, T0).await.expect("record blob");
        out.push(BlobRef { digest: d, size });
    }
    out
}

fn push(
    image: &str,
    manifest: &str,
    refs: Vec<BlobRef>,
    tag_name: Option<&str>,
    when: Timestamp,
) -> Push {
    Push {
        name: name(image),
        digest: digest(manifest),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        artifact_type: Some("application/vnd.oci.image.config.v1+json".to_owned()),
        manifest_size: 100,
        total_size: 100 + refs.iter().map(|r| r.size).sum::<u64>(),
        subject: None,
        annotations: BTreeMap::new(),
        blobs: refs,
        children: Vec::new(),
        cached: false,
        tag: tag_name.map(tag),
        actor: "robot".to_owned(),
        at: when,
    }
}

async fn used(store: &dyn MetadataStore, repository: &str) -> u64 {
    store
        .repository(&repo(repository))
        .await
        .expect("repository")
        .expect("exists")
        .used
}
