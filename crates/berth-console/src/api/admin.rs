//! Sessions (the console's login), and what only the system administrator manages: accounts and
//! console users; and every console user's own API tokens.

use std::time::Duration;

use berth_core::identity::ConsoleUserChange;
use berth_meta::{AccountId, Timestamp};
use berth_policy::Managed;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Call, Caller, ok};
use crate::session::{self, COOKIE};
use crate::{Answer, json};

/// How long a console session lasts.
const SESSION: Duration = Duration::from_secs(12 * 3600);

fn session_json(caller: &Caller) -> Value {
    json!({
        "username": caller.user.username,
        "role": if caller.is_admin() { "admin" } else { "console" },
        "account": caller.user.account.map(|a| a.0),
    })
}

fn cookie(call: &Call<'_>, value: &str, max_age: u64) -> String {
    let secure = if call.console.config.tls {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

pub(crate) async fn login(call: &Call<'_>) -> ApiResult {
    let login: Login = call.login_json().await?;
    let principal = call
        .console
        .registry
        .identity()
        .login(call.source, &login.username, &login.password)
        .await
        .map_err(ApiError::identity)?;
    let caller = call
        .console_caller(principal, &login.username, true)
        .await?;
    let opened = open_session(call, &caller).await?;
    Ok(Answer::json(StatusCode::OK, &session_json(&caller))
        .header(http::header::SET_COOKIE, opened))
}

/// A new session for `caller`, as the `Set-Cookie` value that carries it.
async fn open_session(call: &Call<'_>, caller: &Caller) -> ApiResult<String> {
    let opened = call
        .console
        .registry
        .identity()
        .open_console_session(&caller.user, SESSION)
        .await
        .map_err(ApiError::identity)?;
    Ok(cookie(call, &opened.secret, SESSION.as_secs()))
}

pub(crate) async fn whoami(call: &Call<'_>) -> ApiResult {
    let caller = call.caller().await?;
    ok(StatusCode::OK, session_json(&caller))
}

/// Ends the session the cookie carries, on the server, at once (another copy of the cookie is
/// refused from now on), and clears the cookie.
pub(crate) async fn logout(call: &Call<'_>) -> ApiResult {
    if let Some(secret) = session::from_headers(&call.headers) {
        call.console
            .registry
            .identity()
            .end_console_session(secret)
            .await
            .map_err(ApiError::identity)?;
    }
    Ok(Answer::empty(StatusCode::NO_CONTENT).header(http::header::SET_COOKIE, cookie(call, "", 0)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// A console user changes its own password, giving the current one. Every session and API token
/// of the user ends; a caller that came with the session cookie gets a new session.
pub(crate) async fn change_password(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let change: PasswordChange = call.json(&caller).await?;
    let user = call
        .console
        .registry
        .identity()
        .change_console_password(
            call.source,
            &caller.user.username,
            &change.current_password,
            &change.new_password,
        )
        .await
        .map_err(|e| match e {
            berth_core::identity::IdentityError::BadCredentials => {
                ApiError::forbidden("the current password is not right")
            }
            e => ApiError::identity(e),
        })?;
    let answer = Answer::empty(StatusCode::NO_CONTENT);
    if !caller.by_cookie {
        return Ok(answer);
    }
    let caller = Caller { user, ..caller };
    let opened = open_session(call, &caller).await?;
    Ok(answer.header(http::header::SET_COOKIE, opened))
}

/// Refuses, from the request head, a caller that may not manage accounts and console users.
fn system(call: &Call<'_>, caller: &Caller) -> ApiResult<()> {
    call.manager(caller)
        .may(Managed::System)
        .map_err(ApiError::manage)
}

pub(crate) async fn accounts(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let page = call.query.page()?;
    let found = call
        .manager(&caller)
        .accounts(page)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        json::paged(&found, page.page, page.size, json::account),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    id: i64,
    name: String,
}

pub(crate) async fn create_account(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    system(call, &caller)?;
    let new: NewAccount = call.json(&caller).await?;
    let account = call
        .manager(&caller)
        .create_account(AccountId(new.id), &new.name)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::CREATED, json::account(&account))
}

pub(crate) async fn console_users(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let page = call.query.page()?;
    let account = match call.query.get("account") {
        None | Some("") => None,
        Some(a) => Some(AccountId(a.parse().map_err(|_| {
            ApiError::invalid(format!("account {a:?} is not a number"))
        })?)),
    };
    let found = call
        .manager(&caller)
        .console_users(account, page)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::OK,
        json::paged(&found, page.page, page.size, json::console_user),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConsoleUser {
    username: String,
    password: String,
    account: Option<i64>,
}

pub(crate) async fn create_console_user(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    system(call, &caller)?;
    let new: NewConsoleUser = call.json(&caller).await?;
    let user = call
        .manager(&caller)
        .create_console_user(new.account.map(AccountId), &new.username, &new.password)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::CREATED, json::console_user(&user))
}

pub(crate) async fn console_user(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let user = call
        .manager(&caller)
        .console_user(name)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::OK, json::console_user(&user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsoleUserPatch {
    password: Option<String>,
    disabled: Option<bool>,
}

/// The administrator resets a console user's password, or disables or enables it; a reset or a
/// disable ends the user's sessions and API tokens.
pub(crate) async fn update_console_user(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    system(call, &caller)?;
    let patch: ConsoleUserPatch = call.json(&caller).await?;
    let change = ConsoleUserChange {
        password: patch.password,
        disabled: patch.disabled,
    };
    let user = call
        .manager(&caller)
        .update_console_user(name, change)
        .await
        .map_err(ApiError::manage)?;
    ok(StatusCode::OK, json::console_user(&user))
}

/// The administrator deletes a console user, with its sessions and API tokens.
pub(crate) async fn delete_console_user(call: &Call<'_>, name: &str) -> ApiResult {
    let caller = call.authorized().await?;
    call.manager(&caller)
        .delete_console_user(name)
        .await
        .map_err(ApiError::manage)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn api_tokens(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let page = call.query.page()?;
    let tokens = call
        .manager(&caller)
        .api_tokens()
        .await
        .map_err(ApiError::manage)?;
    let items = tokens
        .iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .map(|t| json::api_token(t, None))
        .collect();
    ok(
        StatusCode::OK,
        json::page(items, page.page, page.size, tokens.len() as u64),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_at: Option<String>,
}

pub(crate) async fn create_api_token(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let new: NewToken = call.json(&caller).await?;
    let expires = match &new.expires_at {
        None => None,
        Some(s) => Some(Timestamp::parse_rfc3339(s).ok_or_else(|| {
            ApiError::invalid(format!("expires_at {s:?} is a date or an RFC 3339 time"))
        })?),
    };
    let created = call
        .manager(&caller)
        .create_api_token(&new.description, expires)
        .await
        .map_err(ApiError::manage)?;
    ok(
        StatusCode::CREATED,
        json::api_token(&created.record, Some(&created.secret)),
    )
}

pub(crate) async fn delete_api_token(call: &Call<'_>, id: &str) -> ApiResult {
    let caller = call.authorized().await?;
    call.manager(&caller)
        .delete_api_token(id)
        .await
        .map_err(ApiError::manage)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}
