//! `berth admin registry ...`: the account's remote registries (the upstreams of proxy
//! repositories), and `ping` to ask one whether it answers and takes the stored credentials. A password comes from standard input (`--password-stdin`), never from an
//! argument, and is never printed: the objects say only `has_password`.

use berth_console::json;
use berth_core::{Registry, RemoteRegistryChange, RemoteRegistrySpec};
use berth_meta::AccountId;
use berth_model::RegistryName;
use serde_json::Value;

use super::{Output, admin};

fn registry_name(name: &str) -> Result<RegistryName, String> {
    RegistryName::parse(name).map_err(|e| e.to_string())
}

fn registry_line(value: &Value) -> String {
    let login = match value["username"].as_str() {
        Some(user) if value["has_password"] == true => format!("as {user} (with a password)"),
        Some(user) => format!("as {user}"),
        None => "anonymous".to_owned(),
    };
    let tls = if value["insecure"] == true {
        "\tTLS not verified"
    } else {
        ""
    };
    format!(
        "{}\t{}\t{login}{tls}",
        value["name"].as_str().unwrap_or_default(),
        value["url"].as_str().unwrap_or_default(),
    )
}

/// What `registry create` takes besides the account.
#[derive(Debug)]
pub(crate) struct RegistryArgs {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) username: Option<String>,
    /// Read from standard input by the caller.
    pub(crate) password: Option<String>,
    pub(crate) insecure: bool,
}

pub(crate) async fn create_registry(
    registry: &Registry,
    account: AccountId,
    args: RegistryArgs,
) -> Result<Output, String> {
    let spec = RemoteRegistrySpec {
        name: registry_name(&args.name)?,
        url: args.url,
        username: args.username,
        password: args.password,
        insecure: args.insecure,
    };
    let created = admin(registry)
        .create_registry(account, spec)
        .await
        .map_err(|e| format!("cannot create the registry: {e}"))?;
    let json = json::remote_registry(&created);
    Ok(Output {
        text: format!("created registry {}", registry_line(&json)),
        json,
    })
}

pub(crate) async fn list_registries(
    registry: &Registry,
    account: AccountId,
) -> Result<Output, String> {
    let found = admin(registry)
        .registries(account)
        .await
        .map_err(|e| format!("cannot list registries: {e}"))?;
    let items: Vec<Value> = found.iter().map(json::remote_registry).collect();
    let text = if items.is_empty() {
        "no registries".to_owned()
    } else {
        items
            .iter()
            .map(registry_line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output {
        json: Value::Array(items),
        text,
    })
}

pub(crate) async fn update_registry(
    registry: &Registry,
    account: AccountId,
    name: &str,
    change: RemoteRegistryChange,
) -> Result<Output, String> {
    let name = registry_name(name)?;
    if change.url.is_none()
        && change.username.is_none()
        && change.password.is_none()
        && change.insecure.is_none()
    {
        return Err(
            "nothing to change: give --url, --username, --no-username, --password-stdin, \
             --no-password, --insecure or --verify-tls"
                .into(),
        );
    }
    let updated = admin(registry)
        .update_registry(account, &name, change)
        .await
        .map_err(|e| format!("cannot update registry {name}: {e}"))?;
    let json = json::remote_registry(&updated);
    Ok(Output {
        text: format!("updated registry {}", registry_line(&json)),
        json,
    })
}

pub(crate) async fn delete_registry(
    registry: &Registry,
    account: AccountId,
    name: &str,
) -> Result<Output, String> {
    let name = registry_name(name)?;
    admin(registry)
        .delete_registry(account, &name)
        .await
        .map_err(|e| format!("cannot delete registry {name}: {e}"))?;
    Ok(Output {
        json: serde_json::json!({"deleted": name.to_string()}),
        text: format!("deleted registry {name}"),
    })
}

/// Asks the registry whether it answers and accepts the stored credentials; fails (exit code
/// 1) when it is not reachable or refused the credentials, so scripts can check.
pub(crate) async fn ping_registry(
    registry: &Registry,
    account: AccountId,
    name: &str,
) -> Result<Output, String> {
    let name = registry_name(name)?;
    let ping = admin(registry)
        .ping_registry(account, &name)
        .await
        .map_err(|e| format!("cannot ping registry {name}: {e}"))?;
    let stored = admin(registry)
        .registry(account, &name)
        .await
        .map_err(|e| format!("cannot ping registry {name}: {e}"))?;
    let json = serde_json::json!({
        "reachable": ping.reachable,
        "authenticated": ping.authenticated,
        "message": ping.message,
    });
    let refused = stored.username.is_some() && !ping.authenticated;
    if !ping.reachable || refused {
        return Err(format!("registry {name}: {}", ping.message));
    }
    Ok(Output {
        text: format!("registry {name}: {}", ping.message),
        json,
    })
}

#[cfg(test)]
mod tests {
    use berth_model::RepositoryName;

    use super::*;

    #[tokio::test]
    async fn registries_from_the_command_line_never_print_the_password() {
        let registry = Registry::in_memory(&[]).await.unwrap();
        let account = AccountId(1);
        let args = RegistryArgs {
            name: "hub".into(),
            url: "https://registry-1.docker.io/".into(),
            username: Some("bot".into()),
            password: Some("cli-secret-123".into()),
            insecure: false,
        };
        let created = create_registry(&registry, account, args).await.unwrap();
        assert_eq!(created.json["url"], "https://registry-1.docker.io");
        assert!(created.text.contains("with a password"), "{}", created.text);
        let proxy = super::super::create_repository(
            &registry,
            account,
            "hub-cache",
            "private",
            None,
            Some(("hub", Some("library"))),
        )
        .await
        .unwrap();
        assert_eq!(proxy.json["proxy"]["namespace"], "library");
        assert!(
            proxy.text.contains("proxy of hub/library"),
            "{}",
            proxy.text
        );
        let listed = list_registries(&registry, account).await.unwrap();
        let nothing = update_registry(&registry, account, "hub", RemoteRegistryChange::default())
            .await
            .unwrap_err();
        assert!(nothing.contains("nothing to change"), "{nothing}");
        let change = RemoteRegistryChange {
            password: Some(Some("cli-secret-456".into())),
            ..Default::default()
        };
        let updated = update_registry(&registry, account, "hub", change)
            .await
            .unwrap();
        for out in [&created, &listed, &updated] {
            assert!(
                !out.text.contains("cli-secret") && !out.json.to_string().contains("cli-secret")
            );
        }
        let refused = delete_registry(&registry, account, "hub")
            .await
            .unwrap_err();
        assert!(refused.contains("hub-cache"), "{refused}");
        super::super::delete_repository(&registry, "hub-cache")
            .await
            .unwrap();
        assert!(RepositoryName::parse("hub-cache").is_ok());
        delete_registry(&registry, account, "hub").await.unwrap();
        let empty = list_registries(&registry, account).await.unwrap();
        assert_eq!(empty.text, "no registries");
        let unknown = super::super::create_repository(
            &registry,
            account,
            "other-cache",
            "private",
            None,
            Some(("nope", None)),
        )
        .await
        .unwrap_err();
        assert!(
            unknown.contains("registry nope does not exist"),
            "{unknown}"
        );
    }
}
