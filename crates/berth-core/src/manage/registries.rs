//! Remote registries of an account (the upstreams of proxy repositories): list, get, create,
//! change, delete and ping, decided like the account's repositories ([`Managed::Account`]). A
//! password arrives in clear and is sealed with [`crate::RegistryConfig::sealing_key`] before
//! it reaches the metadata store; no answer, log line or `Debug` output carries it.

use std::fmt;

use berth_meta::{Entity, NewRemoteRegistry, RemoteRegistry, RemoteRegistryUpdate};
use berth_model::{AccountId, RegistryName};
use berth_policy::Managed;
use berth_remote::Ping;

use super::{ManageError, Manager, Result};

/// The longest username a remote registry takes.
pub const MAX_REMOTE_USERNAME: usize = 256;
/// The longest password a remote registry takes.
pub const MAX_REMOTE_PASSWORD: usize = 4096;
/// The longest URL a remote registry takes.
pub const MAX_REMOTE_URL: usize = 2048;

/// What creating a remote registry takes; the password in clear, which the [`Manager`] seals.
#[derive(Clone)]
pub struct RemoteRegistrySpec {
    /// The name, unique in the account.
    pub name: RegistryName,
    /// The base URL: `http` or `https`, a host, no credentials, query or fragment.
    pub url: String,
    /// The user berth logs in as, if any.
    pub username: Option<String>,
    /// Its password (only with a username).
    pub password: Option<String>,
    /// Whether TLS certificates that do not verify are accepted.
    pub insecure: bool,
}

impl fmt::Debug for RemoteRegistrySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteRegistrySpec")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// Changes to a remote registry; `None` leaves a field as it is. Removing the username
/// (`Some(None)`) removes the password too.
#[derive(Clone, Default)]
pub struct RemoteRegistryChange {
    /// A new URL.
    pub url: Option<String>,
    /// A new user (`Some(None)` removes it, and the password with it).
    pub username: Option<Option<String>>,
    /// A new password in clear (`Some(None)` removes it).
    pub password: Option<Option<String>>,
    /// Whether TLS certificates that do not verify are accepted.
    pub insecure: Option<bool>,
}

impl fmt::Debug for RemoteRegistryChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteRegistryChange")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// A remote registry's URL as stored: `http` or `https` (lowercase), a host (lowercase) with an
/// optional port, an optional path without its trailing slashes; no user or password, query or
/// fragment. The error is the message for the person who typed it.
pub fn remote_registry_url(text: &str) -> std::result::Result<String, String> {
    if text.len() > MAX_REMOTE_URL {
        return Err(format!(
            "url is {} characters long; the limit is {MAX_REMOTE_URL}",
            text.len()
        ));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "url {text:?} cannot contain spaces or control characters"
        ));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!("url {text:?} must start with https:// or http://"));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(format!(
            "url {text:?}: the scheme is https or http, not {scheme:?}"
        ));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!("url {text:?} cannot have a query or a fragment"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(format!(
            "url {text:?} cannot hold a user or password; give them as username and password"
        ));
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]:5000`.
        Some(inner) => match inner.split_once(']') {
            Some((address, after))
                if !address.is_empty()
                    && address
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') =>
            {
                match after {
                    "" => (format!("[{address}]"), None),
                    _ => match after.strip_prefix(':') {
                        Some(port) => (format!("[{address}]"), Some(port)),
                        None => return Err(format!("url {text:?} has a malformed host")),
                    },
                }
            }
            _ => return Err(format!("url {text:?} has a malformed host")),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        },
    };
    if host.is_empty() {
        return Err(format!("url {text:?} needs a host"));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !host.starts_with('[') && !host.split('.').all(label_ok) {
        return Err(format!(
            "url {text:?}: {host:?} is not a host name or an IP address"
        ));
    }
    let port = match port {
        None => String::new(),
        Some(port) => match port.parse::<u16>() {
            Ok(n) if n > 0 && port.chars().all(|c| c.is_ascii_digit()) => format!(":{n}"),
            _ => {
                return Err(format!(
                    "url {text:?}: the port is a number from 1 to 65535"
                ));
            }
        },
    };
    let path = path.trim_end_matches('/');
    Ok(format!(
        "{scheme}://{}{port}{path}",
        host.to_ascii_lowercase()
    ))
}

fn check_username(username: &str) -> Result<String> {
    if username.is_empty() {
        return Err(ManageError::Invalid(
            "username cannot be empty (leave it out, or null, for anonymous access)".into(),
        ));
    }
    if username.len() > MAX_REMOTE_USERNAME {
        return Err(ManageError::Invalid(format!(
            "username is {} bytes long; the limit is {MAX_REMOTE_USERNAME}",
            username.len()
        )));
    }
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err(ManageError::Invalid(
            "username cannot contain ':' or control characters".into(),
        ));
    }
    Ok(username.to_owned())
}

fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(ManageError::Invalid(
            "password cannot be empty (leave it out, or null, for none)".into(),
        ));
    }
    if password.len() > MAX_REMOTE_PASSWORD {
        return Err(ManageError::Invalid(format!(
            "password is {} bytes long; the limit is {MAX_REMOTE_PASSWORD}",
            password.len()
        )));
    }
    Ok(())
}

fn needs_username() -> ManageError {
    ManageError::Invalid("a password needs a username".into())
}

fn not_found(name: &RegistryName) -> ManageError {
    ManageError::NotFound {
        what: "registry",
        name: name.to_string(),
    }
}

/// The store's "no such registry" (it went while we asked) as the caller reads it.
fn gone(name: &RegistryName) -> impl Fn(berth_meta::Error) -> ManageError + '_ {
    move |e| match e {
        berth_meta::Error::NotFound {
            entity: Entity::RemoteRegistry,
            ..
        } => not_found(name),
        e => e.into(),
    }
}

impl Manager<'_> {
    fn seal(&self, password: &str) -> Vec<u8> {
        self.registry.config().sealing_key.seal(password.as_bytes())
    }

    /// `account`'s remote registries, by name.
    pub async fn registries(&self, account: AccountId) -> Result<Vec<RemoteRegistry>> {
        self.may(Managed::Account(account))?;
        Ok(self.registry.meta.list_remote_registries(account).await?)
    }

    /// A remote registry of `account`; one of an account the caller may not manage is "not
    /// found", exactly like a missing one.
    pub async fn registry(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<RemoteRegistry> {
        if self.may(Managed::Account(account)).is_err() {
            return Err(not_found(name));
        }
        self.registry
            .meta
            .remote_registry(account, name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// Creates a remote registry in `account`, its password sealed.
    pub async fn create_registry(
        &self,
        account: AccountId,
        spec: RemoteRegistrySpec,
    ) -> Result<RemoteRegistry> {
        self.may(Managed::Account(account))?;
        let url = remote_registry_url(&spec.url).map_err(ManageError::Invalid)?;
        let username = spec.username.as_deref().map(check_username).transpose()?;
        let sealed_password = match &spec.password {
            None => None,
            Some(_) if username.is_none() => return Err(needs_username()),
            Some(password) => {
                check_password(password)?;
                Some(self.seal(password))
            }
        };
        let new = NewRemoteRegistry {
            account,
            name: spec.name.clone(),
            url,
            username,
            sealed_password,
            insecure: spec.insecure,
        };
        let created = self
            .registry
            .meta
            .create_remote_registry(new, self.now())
            .await
            .map_err(|e| match e {
                berth_meta::Error::NotFound { .. } => {
                    ManageError::Invalid(format!("account {account} does not exist"))
                }
                berth_meta::Error::AlreadyExists { .. } => {
                    ManageError::Conflict(format!("registry {} already exists", spec.name))
                }
                e => e.into(),
            })?;
        // A lookup of the name before it existed may be cached as "none".
        self.registry.forget_remote(account, &created.name);
        tracing::info!(registry = %created.name, url = %created.url, %account, actor = %self.actor, "remote registry created");
        Ok(created)
    }

    /// Changes a remote registry of `account`: its URL, username, password (sealed) or TLS
    /// verification. A password needs a username; removing the username removes the password.
    pub async fn update_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
        change: RemoteRegistryChange,
    ) -> Result<RemoteRegistry> {
        let current = self.registry(account, name).await?;
        let url = change
            .url
            .as_deref()
            .map(remote_registry_url)
            .transpose()
            .map_err(ManageError::Invalid)?;
        let username = match &change.username {
            None => None,
            Some(None) => Some(None),
            Some(Some(username)) => Some(Some(check_username(username)?)),
        };
        let username_after = match &username {
            Some(username) => username.clone(),
            None => current.username.clone(),
        };
        let sealed_password = match &change.password {
            Some(Some(_)) if username_after.is_none() => return Err(needs_username()),
            Some(Some(password)) => {
                check_password(password)?;
                Some(Some(self.seal(password)))
            }
            Some(None) => Some(None),
            None if username == Some(None) => Some(None),
            None => None,
        };
        let update = RemoteRegistryUpdate {
            url,
            username,
            sealed_password,
            insecure: change.insecure,
        };
        let updated = self
            .registry
            .meta
            .update_remote_registry(account, name, update)
            .await
            .map_err(gone(name));
        // Proxy repositories on this node use the change at once.
        self.registry.forget_remote(account, name);
        let updated = updated?;
        tracing::info!(registry = %name, %account, actor = %self.actor, "remote registry changed");
        Ok(updated)
    }

    /// Deletes a remote registry of `account`; refused ([`berth_meta::Error::RegistryInUse`])
    /// while a proxy repository uses it.
    pub async fn delete_registry(&self, account: AccountId, name: &RegistryName) -> Result<()> {
        self.registry(account, name).await?;
        self.registry
            .meta
            .delete_remote_registry(account, name)
            .await
            .map_err(gone(name))?;
        self.registry.forget_remote(account, name);
        tracing::info!(registry = %name, %account, actor = %self.actor, "remote registry deleted");
        Ok(())
    }
}

impl Manager<'_> {
    /// Asks a remote registry of `account` whether it answers and accepts the stored
    /// credentials (`GET /v2/` through the engine's client for it). Never an error for what the
    /// remote does: that is in the [`Ping`]; nor for a stored password that no longer opens
    /// (the sealing key changed), which the message says.
    pub async fn ping_registry(&self, account: AccountId, name: &RegistryName) -> Result<Ping> {
        let record = self.registry(account, name).await?;
        match self.registry.remote_client(&record) {
            Ok(client) => Ok(client.ping().await),
            Err(crate::Error::Upstream { message, .. }) => Ok(Ping {
                reachable: false,
                authenticated: false,
                message: format!("not asked: {message}"),
            }),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::remote_registry_url;

    #[test]
    fn urls_are_normalised_or_refused_with_the_reason() {
        for (given, stored) in [
            (
                "https://registry-1.docker.io",
                "https://registry-1.docker.io",
            ),
            ("https://ghcr.io/", "https://ghcr.io"),
            ("HTTPS://Quay.IO//", "https://quay.io"),
            ("http://localhost:5000", "http://localhost:5000"),
            (
                "http://10.0.0.1:5000/mirror/",
                "http://10.0.0.1:5000/mirror",
            ),
            ("https://[::1]:8443", "https://[::1]:8443"),
        ] {
            assert_eq!(remote_registry_url(given).as_deref(), Ok(stored), "{given}");
        }
        for (given, reason) in [
            ("ftp://example.com", "scheme"),
            ("example.com", "must start with"),
            ("https://", "needs a host"),
            ("https://user:pw@example.com", "user or password"),
            ("https://example.com/?a=b", "query"),
            ("https://example.com/#top", "fragment"),
            ("https://exa mple.com", "spaces"),
            ("https://example.com:0", "port"),
            ("https://example.com:99999", "port"),
            ("https://example.com:", "port"),
            ("https://-bad.example", "host name"),
            ("https://a..b", "host name"),
            ("https://[zz]", "malformed host"),
        ] {
            let error = remote_registry_url(given).unwrap_err();
            assert!(error.contains(reason), "{given}: {error}");
        }
        assert!(remote_registry_url(&format!("https://a.io/{}", "x".repeat(3000))).is_err());
    }
}
