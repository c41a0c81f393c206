//! Remote registries as the engine uses them: one client per registry, built from its record
//! (the sealed password opened with the configured key) and kept while the record is unchanged,
//! so that it keeps its cached tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use berth_meta::{AccountId, RemoteRegistry, RemoteRegistryId};
use berth_model::RegistryName;
use berth_remote::{Client, ClientOptions, Endpoint};

use crate::{Error, Registry, Result, ttl};

/// The clients, and the records they were built from.
#[derive(Debug)]
pub(crate) struct Remotes {
    records: ttl::Cache<Option<RemoteRegistry>>,
    clients: Mutex<HashMap<RemoteRegistryId, (RemoteRegistry, Client)>>,
}

impl Remotes {
    pub(crate) fn new() -> Self {
        Remotes {
            records: ttl::Cache::new(),
            clients: Mutex::new(HashMap::new()),
        }
    }
}

fn key(account: AccountId, name: &RegistryName) -> String {
    format!("{account}/{name}")
}

/// Whether two records make the same client (the id, name and creation time do not matter).
fn same_endpoint(a: &RemoteRegistry, b: &RemoteRegistry) -> bool {
    a.url == b.url
        && a.username == b.username
        && a.sealed_password == b.sealed_password
        && a.insecure == b.insecure
}

impl Registry {
    /// A client for a remote registry's record: the one made before while the record is
    /// unchanged (it keeps its tokens), else a new one with the password opened.
    pub fn remote_client(&self, record: &RemoteRegistry) -> Result<Client> {
        let mut clients = self.remotes.clients.lock().expect("remote clients lock");
        if let Some((built, client)) = clients.get(&record.id)
            && same_endpoint(built, record)
        {
            return Ok(client.clone());
        }
        let password = match &record.sealed_password {
            Some(sealed) => {
                let clear = self
                    .config
                    .sealing_key
                    .open(sealed)
                    .map_err(|e| Error::Upstream {
                        registry: record.name.clone(),
                        message: e.to_string(),
                    })?;
                Some(String::from_utf8(clear).map_err(|_| Error::Upstream {
                    registry: record.name.clone(),
                    message: "its stored password is not text".to_owned(),
                })?)
            }
            None => None,
        };
        let url = record.url.parse().map_err(|e| Error::Upstream {
            registry: record.name.clone(),
            message: format!("its URL {:?} does not parse: {e}", record.url),
        })?;
        let endpoint = Endpoint {
            url,
            username: record.username.clone(),
            password,
            insecure: record.insecure,
        };
        let options = ClientOptions {
            max_manifest_size: self.config.max_manifest_size,
            ..ClientOptions::default()
        };
        let client = Client::new(endpoint, options).map_err(|e| Error::Upstream {
            registry: record.name.clone(),
            message: e.to_string(),
        })?;
        if clients.len() >= ttl::SWEEP_AT {
            clients.clear();
        }
        clients.insert(record.id, (record.clone(), client.clone()));
        Ok(client)
    }

    /// A remote registry's record, at most [`Registry::REPOSITORY_TTL`] stale.
    pub(crate) async fn remote_record(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<RemoteRegistry> {
        let fetch = async { self.meta.remote_registry(account, name).await };
        self.remotes
            .records
            .get_or_fetch(&key(account, name), Self::REPOSITORY_TTL, fetch)
            .await
            .map_err(Error::metadata)?
            .ok_or_else(|| Error::Upstream {
                registry: name.clone(),
                message: "it no longer exists".to_owned(),
            })
    }

    /// Forgets the cached record of a remote registry: call after changing it through
    /// [`Registry::metadata`], so that this node uses the change at once.
    pub fn forget_remote(&self, account: AccountId, name: &RegistryName) {
        self.remotes.records.forget(&key(account, name));
    }
}
