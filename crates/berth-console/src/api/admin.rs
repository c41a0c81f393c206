//! Sessions (the console's login), and what only the system administrator manages: accounts and
//! console users; and every console user's own API tokens.

use berth_meta::{AccountId, Timestamp};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Call, Caller, ok};
use crate::session::{COOKIE, Session};
use crate::{Answer, json};

/// How long a console session lasts.
const SESSION_SECONDS: i64 = 12 * 3600;

fn session_json(caller: &Caller) -> Value {
    json!({
        "username": caller.user.username,
        "role": if caller.is_admin() { "admin" } else { "console" },
        "account": caller.user.account.map(|a| a.0),
    })
}

fn cookie(call: &Call<'_>, value: &str, max_age: i64) -> String {
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
    let login: Login = call.json()?;
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
    let session = Session {
        username: caller.user.username.clone(),
        expires: Timestamp::now().unix_millis().div_euclid(1000) + SESSION_SECONDS,
        fingerprint: call
            .console
            .sessions
            .fingerprint(&caller.user.password_hash),
    };
    let sealed = call.console.sessions.seal(&session);
    Ok(Answer::json(StatusCode::OK, &session_json(&caller)).header(
        http::header::SET_COOKIE,
        cookie(call, &sealed, SESSION_SECONDS),
    ))
}

pub(crate) async fn whoami(call: &Call<'_>) -> ApiResult {
    let caller = call.caller().await?;
    ok(StatusCode::OK, session_json(&caller))
}

pub(crate) fn logout(call: &Call<'_>) -> Answer {
    Answer::empty(StatusCode::NO_CONTENT).header(http::header::SET_COOKIE, cookie(call, "", 0))
}

pub(crate) async fn accounts(call: &Call<'_>) -> ApiResult {
    call.admin().await?;
    let page = call.query.page()?;
    let found = call
        .console
        .registry
        .metadata()
        .list_accounts(page)
        .await
        .map_err(ApiError::meta)?;
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
    call.admin().await?;
    let new: NewAccount = call.json()?;
    if new.id < 1 {
        return Err(ApiError::invalid("an account id is a positive number"));
    }
    let account = call
        .console
        .registry
        .metadata()
        .create_account(AccountId(new.id), &new.name, Timestamp::now())
        .await
        .map_err(ApiError::meta)?;
    ok(StatusCode::CREATED, json::account(&account))
}

pub(crate) async fn console_users(call: &Call<'_>) -> ApiResult {
    call.admin().await?;
    let page = call.query.page()?;
    let account = match call.query.get("account") {
        None | Some("") => None,
        Some(a) => Some(AccountId(a.parse().map_err(|_| {
            ApiError::invalid(format!("account {a:?} is not a number"))
        })?)),
    };
    let found = call
        .console
        .registry
        .metadata()
        .list_console_users(account, page)
        .await
        .map_err(ApiError::meta)?;
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
    call.admin().await?;
    let new: NewConsoleUser = call.json()?;
    let account = new.account.map(AccountId);
    if let Some(account) = account {
        let exists = call
            .console
            .registry
            .metadata()
            .account(account)
            .await
            .map_err(ApiError::meta)?;
        if exists.is_none() {
            return Err(ApiError::invalid(format!(
                "account {account} does not exist"
            )));
        }
    }
    let user = call
        .console
        .registry
        .identity()
        .create_console_user(account, &new.username, &new.password)
        .await
        .map_err(ApiError::identity)?;
    ok(StatusCode::CREATED, json::console_user(&user))
}

pub(crate) async fn api_tokens(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let page = call.query.page()?;
    let tokens = call
        .console
        .registry
        .metadata()
        .list_api_tokens(caller.user.id)
        .await
        .map_err(ApiError::meta)?;
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewToken {
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_at: Option<String>,
}

pub(crate) async fn create_api_token(call: &Call<'_>) -> ApiResult {
    let caller = call.authorized().await?;
    let new: NewToken = if call.body.is_empty() {
        NewToken::default()
    } else {
        call.json()?
    };
    let expires = match &new.expires_at {
        None => None,
        Some(s) => Some(Timestamp::parse_rfc3339(s).ok_or_else(|| {
            ApiError::invalid(format!("expires_at {s:?} is a date or an RFC 3339 time"))
        })?),
    };
    let created = call
        .console
        .registry
        .identity()
        .create_api_token(&caller.user, &new.description, expires)
        .await
        .map_err(ApiError::identity)?;
    ok(
        StatusCode::CREATED,
        json::api_token(&created.record, Some(&created.secret)),
    )
}

pub(crate) async fn delete_api_token(call: &Call<'_>, id: &str) -> ApiResult {
    let caller = call.authorized().await?;
    let meta = call.console.registry.metadata();
    let tokens = meta
        .list_api_tokens(caller.user.id)
        .await
        .map_err(ApiError::meta)?;
    let token = tokens
        .iter()
        .find(|t| json::api_token_id(t) == id)
        .ok_or_else(|| ApiError::not_found(format!("API token {id} does not exist")))?;
    meta.delete_api_token(&token.token_hash)
        .await
        .map_err(ApiError::meta)?;
    Ok(Answer::empty(StatusCode::NO_CONTENT))
}
