//! Cases about revocable console credentials: sessions, password changes, disabling and
//! deleting console users.

use super::*;
use crate::{Entity, Error};

fn console_session(id: u8, user: ConsoleUserId, created: i64, expires: i64) -> ConsoleSession {
    ConsoleSession {
        id_hash: vec![id; 32],
        user,
        created: at(created),
        expires: at(expires),
    }
}

fn api_token(id: u8, user: ConsoleUserId) -> ApiToken {
    ApiToken {
        token_hash: vec![id; 32],
        user,
        description: format!("token {id}"),
        created: T0,
        expires: None,
    }
}

async fn console_user(s: &dyn MetadataStore, name: &str) -> ConsoleUser {
    if s.account(AccountId(10042))
        .await
        .expect("account")
        .is_none()
    {
        s.create_account(AccountId(10042), "acme", T0)
            .await
            .expect("account");
    }
    s.create_console_user(Some(AccountId(10042)), name, "$argon2id$a", T0)
        .await
        .expect("console user")
}

/// Sessions are stored by hash, found, ended; a user's expired sessions go when it opens another,
/// and it holds at most `keep`.
pub async fn console_sessions_are_stored_bounded_and_ended(h: &Harness) {
    let s = &*h.store;
    let alice = console_user(s, "alice").await;
    let bob = console_user(s, "bob").await;
    let first = console_session(1, alice.id, 0, 100);
    s.create_console_session(first.clone(), 3)
        .await
        .expect("create");
    assert_eq!(
        s.console_session(&first.id_hash).await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(s.console_session(&[7; 32]).await.expect("get"), None);
    assert!(matches!(
        s.create_console_session(console_session(9, ConsoleUserId(i64::MAX), 0, 100), 3)
            .await,
        Err(Error::NotFound {
            entity: Entity::ConsoleUser,
            ..
        })
    ));

    // Opened at 200, the first (expired at 100) goes.
    s.create_console_session(console_session(2, alice.id, 200, 1000), 3)
        .await
        .expect("create");
    assert_eq!(s.console_session(&first.id_hash).await.expect("get"), None);
    s.create_console_session(console_session(3, alice.id, 201, 1000), 3)
        .await
        .expect("create");
    s.create_console_session(console_session(4, alice.id, 202, 1000), 3)
        .await
        .expect("create");
    s.create_console_session(console_session(5, bob.id, 202, 1000), 3)
        .await
        .expect("bob's own");
    // A fourth live session of alice's pushes out her oldest, not bob's.
    s.create_console_session(console_session(6, alice.id, 203, 1000), 3)
        .await
        .expect("create");
    let mut alive = Vec::new();
    for id in 1..=6u8 {
        if s.console_session(&[id; 32]).await.expect("get").is_some() {
            alive.push(id);
        }
    }
    assert_eq!(alive, [3, 4, 5, 6]);

    assert!(
        s.delete_console_session(&[4; 32])
            .await
            .expect("end a session")
    );
    assert!(!s.delete_console_session(&[4; 32]).await.expect("again"));
    assert_eq!(s.console_session(&[4; 32]).await.expect("get"), None);
    assert!(s.console_session(&[3; 32]).await.expect("get").is_some());
}

/// A new password or disabling ends the user's sessions and tokens in the same change; another
/// user's stay. Enabling again restores nothing; the flag is kept.
pub async fn console_user_changes_end_sessions_and_tokens(h: &Harness) {
    let s = &*h.store;
    let alice = console_user(s, "alice").await;
    let bob = console_user(s, "bob").await;
    assert!(!alice.disabled);
    let open = |n: u8, user: ConsoleUserId| async move {
        s.create_console_session(console_session(n, user, 0, 1000), 10)
            .await
            .expect("session");
        s.create_api_token(api_token(n, user)).await.expect("token");
    };
    open(1, alice.id).await;
    open(2, bob.id).await;

    let changed = s
        .update_console_user(
            alice.id,
            ConsoleUserUpdate {
                password_hash: Some("$argon2id$new".into()),
                disabled: None,
            },
        )
        .await
        .expect("new password");
    assert_eq!(
        (changed.password_hash.as_str(), changed.disabled),
        ("$argon2id$new", false)
    );
    assert_eq!(s.console_session(&[1; 32]).await.expect("get"), None);
    assert_eq!(s.api_token(&[1; 32]).await.expect("get"), None);
    assert!(s.console_session(&[2; 32]).await.expect("get").is_some());
    assert!(s.api_token(&[2; 32]).await.expect("get").is_some());

    open(3, alice.id).await;
    let disabled = s
        .update_console_user(
            alice.id,
            ConsoleUserUpdate {
                password_hash: None,
                disabled: Some(true),
            },
        )
        .await
        .expect("disable");
    assert!(disabled.disabled);
    assert_eq!(
        s.console_user("alice").await.expect("get"),
        Some(disabled.clone())
    );
    assert_eq!(s.console_session(&[3; 32]).await.expect("get"), None);
    assert_eq!(s.api_token(&[3; 32]).await.expect("get"), None);

    let enabled = s
        .update_console_user(
            alice.id,
            ConsoleUserUpdate {
                password_hash: None,
                disabled: Some(false),
            },
        )
        .await
        .expect("enable");
    assert!(!enabled.disabled);
    assert_eq!(enabled.password_hash, "$argon2id$new");

    // Nothing to change still answers with the record; a missing user is NotFound.
    assert_eq!(
        s.update_console_user(bob.id, ConsoleUserUpdate::default())
            .await
            .expect("no change"),
        bob
    );
    assert!(s.console_session(&[2; 32]).await.expect("get").is_some());
    assert!(matches!(
        s.update_console_user(ConsoleUserId(i64::MAX), ConsoleUserUpdate::default())
            .await,
        Err(Error::NotFound {
            entity: Entity::ConsoleUser,
            ..
        })
    ));
}

/// Deleting a console user removes it with its sessions and tokens; its name is free again.
pub async fn console_users_are_deleted(h: &Harness) {
    let s = &*h.store;
    let alice = console_user(s, "alice").await;
    let bob = console_user(s, "bob").await;
    s.create_console_session(console_session(1, alice.id, 0, 1000), 10)
        .await
        .expect("session");
    s.create_api_token(api_token(1, alice.id))
        .await
        .expect("token");
    s.create_api_token(api_token(2, bob.id))
        .await
        .expect("token");
    s.delete_console_user(alice.id).await.expect("delete");
    assert_eq!(s.console_user("alice").await.expect("get"), None);
    assert_eq!(s.console_user_by_id(alice.id).await.expect("get"), None);
    assert_eq!(s.console_session(&[1; 32]).await.expect("get"), None);
    assert_eq!(s.api_token(&[1; 32]).await.expect("get"), None);
    assert!(s.api_token(&[2; 32]).await.expect("get").is_some());
    assert!(matches!(
        s.delete_console_user(alice.id).await,
        Err(Error::NotFound {
            entity: Entity::ConsoleUser,
            ..
        })
    ));
    let again = console_user(s, "alice").await;
    assert_ne!(again.id, alice.id);
}
