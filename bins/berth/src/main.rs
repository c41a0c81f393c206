//! The `berth` binary: configuration, wiring of concrete backends, sockets and the CLI.
//!
//! It is the only crate that names concrete storage and metadata backends (`backends.rs`).
//! `berth serve` runs the registry (`serve.rs`); `berth gc` and `berth admin ...` work on the same
//! store from the command line (`admin.rs`); configuration merges defaults, a TOML file,
//! `BERTH_*` variables and flags (`config.rs`).

mod admin;
mod backends;
mod config;
mod conn;
mod metrics;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use berth_core::identity::ConsoleUserChange;
use berth_meta::{AccountId, Permission};
use berth_model::RepositoryName;
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, LogFormat, Overrides};

/// A multi-tenant OCI container registry.
#[derive(Parser)]
#[command(name = "berth", version, about, after_help = examples::BERTH)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
    /// Where SQLite, blobs and the token key live [default: ./berth-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the registry.
    #[command(after_help = examples::SERVE)]
    Serve {
        /// Address to listen on [default: 127.0.0.1:5000].
        #[arg(long)]
        listen: Option<String>,
    },
    /// Deletes unreferenced blobs and idle uploads now.
    #[command(after_help = examples::GC)]
    Gc {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manages accounts, repositories, remote registries, users, console users and API tokens;
    /// backs up.
    #[command(after_help = examples::ADMIN)]
    Admin {
        #[command(subcommand)]
        what: Admin,
    },
}

#[derive(Subcommand)]
enum Admin {
    /// Accounts (tenants).
    #[command(after_help = examples::ACCOUNT)]
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Console users: people who manage an account in the web console.
    #[command(after_help = examples::CONSOLE_USER)]
    ConsoleUser {
        #[command(subcommand)]
        command: ConsoleUserCommand,
    },
    /// API tokens (`berth_...`) of a console user, for scripts calling the management API.
    #[command(after_help = examples::API_TOKEN)]
    ApiToken {
        #[command(subcommand)]
        command: ApiTokenCommand,
    },
    /// Repositories of the account.
    #[command(after_help = examples::REPOSITORY)]
    Repository {
        #[command(subcommand)]
        command: RepositoryCommand,
    },
    /// Remote registries of the account: the upstreams of proxy repositories.
    #[command(after_help = examples::REGISTRY)]
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Repository users (robot credentials) of the account.
    #[command(after_help = examples::USER)]
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Images of a repository.
    #[command(after_help = examples::IMAGE)]
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Writes a consistent copy of the embedded SQLite store to FILE, also while `berth serve`
    /// runs. Blobs are not in it (copy the blob directory or bucket after it); PostgreSQL is
    /// backed up with pg_dump.
    #[command(after_help = examples::BACKUP)]
    Backup {
        /// Where to write it; must not exist.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Deletes an image with every artifact and tag of it.
    Delete {
        /// REPOSITORY/IMAGE, e.g. team-a/backend/api.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct Scope {
    /// The account [default: the configured default account, 10000].
    #[arg(long)]
    account: Option<i64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The repository user a command acts on, in the account of `--account`.
#[derive(Args)]
struct UserName {
    /// Its name, with or without the account prefix (`ci` or `10000-ci`).
    #[arg(required_unless_present = "name_flag", conflicts_with = "name_flag")]
    name: Option<String>,
    /// The same, given as in `user create`.
    #[arg(long = "name", id = "name_flag", value_name = "NAME")]
    name_flag: Option<String>,
}

impl UserName {
    fn given(self) -> String {
        self.name
            .or(self.name_flag)
            .expect("clap requires NAME or --name")
    }
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Creates an account.
    Create {
        /// Its id, e.g. 10042.
        id: i64,
        /// A display name.
        #[arg(long)]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists the accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConsoleUserCommand {
    /// Creates a console user; the password is the first line of standard input.
    Create {
        /// Its login name.
        username: String,
        /// The account it manages [default: the default account].
        #[arg(long, conflicts_with = "admin")]
        account: Option<i64>,
        /// Make a system administrator instead.
        #[arg(long)]
        admin: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists an account's console users, or the system administrators.
    List {
        /// The account [default: the default account].
        #[arg(long, conflicts_with = "admins")]
        account: Option<i64>,
        /// List the system administrators instead.
        #[arg(long)]
        admins: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sets a console user's password (the first line of standard input) and ends its sessions
    /// and API tokens: also the way back from a lost administrator password
    /// (`berth admin console-user set-password admin`).
    SetPassword {
        /// Its login name.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disables a console user: it cannot log in, and its sessions and API tokens end.
    Disable {
        /// Its login name.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Enables a disabled console user again.
    Enable {
        /// Its login name.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deletes a console user with its sessions and API tokens.
    Delete {
        /// Its login name.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ApiTokenCommand {
    /// Lists a console user's API tokens, newest first (their ids, never the tokens).
    List {
        /// The console user whose tokens these are.
        #[arg(long)]
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Creates an API token acting as a console user and prints it, once.
    Create {
        /// The console user the token acts as.
        #[arg(long)]
        user: String,
        /// A label, e.g. what uses it.
        #[arg(long, default_value = "")]
        description: String,
        /// An expiry date YYYY-MM-DD, or never.
        #[arg(long, value_parser = admin::parse_expiry)]
        expires: Option<admin::Expiry>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revokes (deletes) an API token by its id; it stops working at once.
    #[command(visible_alias = "delete")]
    Revoke {
        /// Its id, as `api-token list` shows it.
        id: String,
        /// The console user it belongs to.
        #[arg(long)]
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RepositoryCommand {
    /// Creates a repository.
    Create {
        /// Its name (lowercase letters, digits, `.`, `_`, `-`).
        name: String,
        /// Who may pull without credentials.
        #[arg(long, default_value = "private", value_parser = ["private", "public"])]
        access: String,
        /// A storage limit such as 10GiB, or none.
        #[arg(long, value_parser = admin::parse_quota)]
        quota: Option<admin::Quota>,
        /// Makes it a proxy repository (a pull-through cache) of this remote registry of the
        /// account; fixed at creation.
        #[arg(long, value_name = "REGISTRY")]
        proxy_registry: Option<String>,
        /// The upstream prefix of a proxy repository (`library`): `<repository>/<image>` is
        /// fetched as `<namespace>/<image>`.
        #[arg(long, value_name = "NAMESPACE", requires = "proxy_registry")]
        proxy_namespace: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
    /// Lists the account's repositories.
    List {
        #[command(flatten)]
        scope: Scope,
    },
    /// Changes a repository's access level or quota.
    Update {
        /// Its name.
        name: String,
        /// Who may pull without credentials.
        #[arg(long, value_parser = ["private", "public"])]
        access: Option<String>,
        /// A storage limit such as 10GiB, or none.
        #[arg(long, value_parser = admin::parse_quota)]
        quota: Option<admin::Quota>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deletes a repository that holds no artifacts (delete its images first).
    Delete {
        /// Its name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Creates a remote registry; its password (the first line of standard input, with
    /// --password-stdin) is sealed in the store and never printed.
    Create {
        /// Its name in the account (`dockerhub`, `ghcr.io`).
        name: String,
        /// Its base URL, http or https (`https://registry-1.docker.io`).
        #[arg(long)]
        url: String,
        /// The user berth logs in as [default: anonymous].
        #[arg(long)]
        username: Option<String>,
        /// Read the password from the first line of standard input (needs --username).
        #[arg(long, requires = "username")]
        password_stdin: bool,
        /// Accept TLS certificates that do not verify.
        #[arg(long)]
        insecure: bool,
        #[command(flatten)]
        scope: Scope,
    },
    /// Lists the account's remote registries (never their passwords).
    List {
        #[command(flatten)]
        scope: Scope,
    },
    /// Changes a remote registry's URL, username, password or TLS verification.
    Update {
        /// Its name.
        name: String,
        /// A new base URL.
        #[arg(long)]
        url: Option<String>,
        /// A new user.
        #[arg(long, conflicts_with = "no_username")]
        username: Option<String>,
        /// Log in anonymously from now on (removes the password too).
        #[arg(long, conflicts_with_all = ["password_stdin", "no_password"])]
        no_username: bool,
        /// Read a new password from the first line of standard input.
        #[arg(long, conflicts_with = "no_password")]
        password_stdin: bool,
        /// Remove the password.
        #[arg(long)]
        no_password: bool,
        /// Accept TLS certificates that do not verify.
        #[arg(long, conflicts_with = "verify_tls")]
        insecure: bool,
        /// Verify TLS certificates again.
        #[arg(long)]
        verify_tls: bool,
        #[command(flatten)]
        scope: Scope,
    },
    /// Deletes a remote registry that no proxy repository uses.
    Delete {
        /// Its name.
        name: String,
        #[command(flatten)]
        scope: Scope,
    },
    /// Asks a remote registry whether it answers and accepts the stored credentials (exit code
    /// 1 when it does not).
    Ping {
        /// Its name.
        name: String,
        #[command(flatten)]
        scope: Scope,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Creates a repository user and prints its secret, once.
    Create {
        /// Its name (`ci`, or `10000-ci` in account 10000); the account prefix is added when
        /// missing. Generated when omitted.
        #[arg(long)]
        name: Option<String>,
        /// REPOSITORY=push_pull or REPOSITORY=pull; repeat for several.
        #[arg(long = "repository", value_parser = admin::parse_permission, required = true)]
        repositories: Vec<(RepositoryName, Permission)>,
        /// An expiry date YYYY-MM-DD (a past date creates it locked), or never.
        #[arg(long, value_parser = admin::parse_expiry)]
        expires: Option<admin::Expiry>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
    /// Changes a repository user's expiry, description or repositories.
    Update {
        #[command(flatten)]
        name: UserName,
        /// REPOSITORY=push_pull or REPOSITORY=pull; replaces every permission when given.
        #[arg(long = "repository", value_parser = admin::parse_permission)]
        repositories: Vec<(RepositoryName, Permission)>,
        /// An expiry date YYYY-MM-DD (a past date locks it), or never (unlocks it).
        #[arg(long, value_parser = admin::parse_expiry)]
        expires: Option<admin::Expiry>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
    /// Replaces a repository user's secret and prints the new one, once.
    RefreshSecret {
        #[command(flatten)]
        name: UserName,
        #[command(flatten)]
        scope: Scope,
    },
    /// Lists the account's repository users.
    List {
        /// Only those with a permission on this repository.
        #[arg(long)]
        repository: Option<String>,
        #[command(flatten)]
        scope: Scope,
    },
    /// Deletes a repository user; its credentials stop working.
    Delete {
        #[command(flatten)]
        name: UserName,
        #[command(flatten)]
        scope: Scope,
    },
}

/// The examples `--help` shows under each main command (a test parses each `berth ...` line).
mod examples {
    pub(crate) const BERTH: &str = "\
Examples:
  berth serve                                    # ./berth-data, 127.0.0.1:5000
  berth admin repository create team-a --quota 10GiB
  berth admin user create --name ci --repository team-a=push_pull
  berth admin backup /backup/berth.db
  berth --data-dir /var/lib/berth admin user list";

    pub(crate) const SERVE: &str = "\
Examples:
  berth serve                                    # SQLite and blobs in ./berth-data
  berth serve --listen 0.0.0.0:5000 --data-dir /var/lib/berth
  BERTH_ADMIN_PASSWORD=... berth serve           # the first administrator's password
  berth --config /etc/berth/berth.toml serve     # PostgreSQL, S3, TLS: see the README";

    pub(crate) const GC: &str = "\
Examples:
  berth gc
  berth gc --json --data-dir /var/lib/berth";

    pub(crate) const ADMIN: &str = "\
Examples:
  berth admin repository create team-a --quota 10GiB
  berth admin user create --name ci --repository team-a=push_pull
  berth admin registry create dockerhub --url https://registry-1.docker.io
  printf '%s\\n' \"$NEW_PASSWORD\" | berth admin console-user set-password admin
  berth admin api-token create --user admin --description deploy
  berth admin backup /backup/berth.db

The commands work on the server's data directory (--data-dir or BERTH_DATA_DIR), also while
it runs; every command takes --json.";

    pub(crate) const ACCOUNT: &str = "\
Examples:
  berth admin account create 10042 --name team-b
  berth admin account list --json";

    pub(crate) const CONSOLE_USER: &str = "\
Examples:
  printf '%s\\n' \"$PASSWORD\" | berth admin console-user create alice --account 10000
  printf '%s\\n' \"$NEW_PASSWORD\" | berth admin console-user set-password admin
  berth admin console-user disable alice
  berth admin console-user list --admins";

    pub(crate) const API_TOKEN: &str = "\
Examples:
  berth admin api-token create --user admin --description deploy --expires 2027-01-31
  berth admin api-token list --user admin
  berth admin api-token revoke 0123456789abcdef --user admin
  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:5000/api/v1/repositories";

    pub(crate) const REPOSITORY: &str = "\
Examples:
  berth admin repository create team-a --quota 10GiB
  berth admin repository create public-images --access public
  berth admin repository create hub --access public --proxy-registry dockerhub
  berth admin repository create bitnami --proxy-registry dockerhub --proxy-namespace bitnami
  berth admin repository update team-a --quota none
  berth admin repository list --json
  berth admin repository delete team-a";

    pub(crate) const REGISTRY: &str = "\
Examples:
  berth admin registry create dockerhub --url https://registry-1.docker.io
  printf '%s\\n' \"$TOKEN\" | berth admin registry create ghcr.io --url https://ghcr.io --username bot --password-stdin
  berth admin repository create hub --access public --proxy-registry dockerhub
  printf '%s\\n' \"$TOKEN\" | berth admin registry update ghcr.io --password-stdin
  berth admin registry update dockerhub --no-username
  berth admin registry ping ghcr.io
  berth admin registry list --json
  berth admin registry delete dockerhub";

    pub(crate) const USER: &str = "\
Examples:
  berth admin user create --name ci --repository team-a=push_pull --expires 2027-01-31
  berth admin user update ci --repository team-a=pull --repository team-b=pull
  berth admin user refresh-secret ci             # or 10000-ci, with the account prefix
  berth admin user list --repository team-a
  berth admin user delete ci";

    pub(crate) const IMAGE: &str = "\
Examples:
  berth admin image delete team-a/backend/api";

    pub(crate) const BACKUP: &str = "\
Examples:
  berth admin backup /backup/berth.db
  rsync -a berth-data/blobs/ /backup/blobs/      # then the blobs

PostgreSQL: pg_dump --format=custom --file=berth.dump \"$BERTH_POSTGRES_URL\"";
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        config: cli.common.config.clone(),
        data_dir: cli.common.data_dir.clone(),
        listen,
    };
    let config = match Config::load(&overrides, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("berth: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(
        config.log_format,
        matches!(cli.command, Command::Serve { .. }),
    );
    let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for (name, near) in config::unknown_variables(names) {
        match near {
            Some(near) => {
                tracing::warn!(variable = %name, "unknown variable {name}, ignored: did you mean {near}?")
            }
            None => tracing::warn!(variable = %name, "unknown variable {name}, ignored"),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    let default_account = config.default_account;
    let account = |scope: &Scope| AccountId(scope.account.unwrap_or(default_account));
    let (output, json) = match command {
        Command::Serve { .. } => return serve::serve(config).await,
        Command::Gc { json } => {
            backends::require_store(&config)?;
            let registry = backends::registry(&config).await?;
            (admin::gc(&registry).await?, json)
        }
        Command::Admin {
            what: Admin::Backup { file, json },
        } => (admin::backup(&config, &file).await?, json),
        Command::Admin { what } => {
            backends::require_store(&config)?;
            let registry = backends::registry(&config).await?;
            let r = &registry;
            match what {
                Admin::Account { command } => match command {
                    AccountCommand::Create { id, name, json } => {
                        (admin::create_account(r, AccountId(id), &name).await?, json)
                    }
                    AccountCommand::List { json } => (admin::list_accounts(r).await?, json),
                },
                Admin::ConsoleUser { command } => match command {
                    ConsoleUserCommand::Create {
                        username,
                        account,
                        admin,
                        json,
                    } => {
                        let account =
                            (!admin).then(|| AccountId(account.unwrap_or(default_account)));
                        (
                            admin::create_console_user(r, account, &username).await?,
                            json,
                        )
                    }
                    ConsoleUserCommand::List {
                        account,
                        admins,
                        json,
                    } => {
                        let account =
                            (!admins).then(|| AccountId(account.unwrap_or(default_account)));
                        (admin::list_console_users(r, account).await?, json)
                    }
                    ConsoleUserCommand::SetPassword { username, json } => {
                        let password = admin::read_password()?;
                        let change = ConsoleUserChange {
                            password: Some(password),
                            disabled: None,
                        };
                        (
                            admin::change_console_user(r, &username, change, "set the password of")
                                .await?,
                            json,
                        )
                    }
                    ConsoleUserCommand::Disable { username, json } => {
                        let change = ConsoleUserChange {
                            password: None,
                            disabled: Some(true),
                        };
                        (
                            admin::change_console_user(r, &username, change, "disabled").await?,
                            json,
                        )
                    }
                    ConsoleUserCommand::Enable { username, json } => {
                        let change = ConsoleUserChange {
                            password: None,
                            disabled: Some(false),
                        };
                        (
                            admin::change_console_user(r, &username, change, "enabled").await?,
                            json,
                        )
                    }
                    ConsoleUserCommand::Delete { username, json } => {
                        (admin::delete_console_user(r, &username).await?, json)
                    }
                },
                Admin::ApiToken { command } => match command {
                    ApiTokenCommand::List { user, json } => {
                        (admin::list_api_tokens(r, &user).await?, json)
                    }
                    ApiTokenCommand::Create {
                        user,
                        description,
                        expires,
                        json,
                    } => (
                        admin::create_api_token(r, &user, &description, expires.and_then(|e| e.0))
                            .await?,
                        json,
                    ),
                    ApiTokenCommand::Revoke { id, user, json } => {
                        (admin::revoke_api_token(r, &user, &id).await?, json)
                    }
                },
                Admin::Repository { command } => match command {
                    RepositoryCommand::Create {
                        name,
                        access,
                        quota,
                        proxy_registry,
                        proxy_namespace,
                        scope,
                    } => {
                        let quota = quota.and_then(|q| q.0);
                        let proxy = proxy_registry
                            .as_deref()
                            .map(|registry| (registry, proxy_namespace.as_deref()));
                        let out = admin::create_repository(
                            r,
                            account(&scope),
                            &name,
                            &access,
                            quota,
                            proxy,
                        )
                        .await?;
                        (out, scope.json)
                    }
                    RepositoryCommand::List { scope } => (
                        admin::list_repositories(r, account(&scope)).await?,
                        scope.json,
                    ),
                    RepositoryCommand::Update {
                        name,
                        access,
                        quota,
                        json,
                    } => (
                        admin::update_repository(r, &name, access.as_deref(), quota.map(|q| q.0))
                            .await?,
                        json,
                    ),
                    RepositoryCommand::Delete { name, json } => {
                        (admin::delete_repository(r, &name).await?, json)
                    }
                },
                Admin::Registry { command } => match command {
                    RegistryCommand::Create {
                        name,
                        url,
                        username,
                        password_stdin,
                        insecure,
                        scope,
                    } => {
                        let password = password_stdin.then(admin::read_password).transpose()?;
                        let args = admin::RegistryArgs {
                            name,
                            url,
                            username,
                            password,
                            insecure,
                        };
                        (
                            admin::create_registry(r, account(&scope), args).await?,
                            scope.json,
                        )
                    }
                    RegistryCommand::List { scope } => (
                        admin::list_registries(r, account(&scope)).await?,
                        scope.json,
                    ),
                    RegistryCommand::Update {
                        name,
                        url,
                        username,
                        no_username,
                        password_stdin,
                        no_password,
                        insecure,
                        verify_tls,
                        scope,
                    } => {
                        let password = if password_stdin {
                            Some(Some(admin::read_password()?))
                        } else {
                            no_password.then_some(None)
                        };
                        let change = berth_core::RemoteRegistryChange {
                            url,
                            username: if no_username {
                                Some(None)
                            } else {
                                username.map(Some)
                            },
                            password,
                            insecure: (insecure || verify_tls).then_some(insecure),
                        };
                        (
                            admin::update_registry(r, account(&scope), &name, change).await?,
                            scope.json,
                        )
                    }
                    RegistryCommand::Delete { name, scope } => (
                        admin::delete_registry(r, account(&scope), &name).await?,
                        scope.json,
                    ),
                    RegistryCommand::Ping { name, scope } => (
                        admin::ping_registry(r, account(&scope), &name).await?,
                        scope.json,
                    ),
                },
                Admin::Backup { .. } => unreachable!("handled above"),
                Admin::Image { command } => match command {
                    ImageCommand::Delete { name, json } => {
                        (admin::delete_image(r, &name).await?, json)
                    }
                },
                Admin::User { command } => match command {
                    UserCommand::Create {
                        name,
                        repositories,
                        expires,
                        description,
                        scope,
                    } => {
                        let args = admin::UserArgs {
                            repositories,
                            expires: expires.map(|e| e.0),
                            description,
                        };
                        (
                            admin::create_user(r, account(&scope), name, args).await?,
                            scope.json,
                        )
                    }
                    UserCommand::Update {
                        name,
                        repositories,
                        expires,
                        description,
                        scope,
                    } => {
                        let args = admin::UserArgs {
                            repositories,
                            expires: expires.map(|e| e.0),
                            description,
                        };
                        let name = name.given();
                        (
                            admin::update_user(r, account(&scope), &name, args).await?,
                            scope.json,
                        )
                    }
                    UserCommand::RefreshSecret { name, scope } => {
                        let name = name.given();
                        (
                            admin::refresh_secret(r, account(&scope), &name).await?,
                            scope.json,
                        )
                    }
                    UserCommand::List { repository, scope } => (
                        admin::list_users(r, account(&scope), repository.as_deref()).await?,
                        scope.json,
                    ),
                    UserCommand::Delete { name, scope } => {
                        let name = name.given();
                        (
                            admin::delete_user(r, account(&scope), &name).await?,
                            scope.json,
                        )
                    }
                },
            }
        }
    };
    if json {
        println!("{}", output.json);
    } else {
        println!("{}", output.text);
    }
    Ok(())
}

/// Logs go to stderr: text by default, JSON when configured; `BERTH_LOG` filters
/// (`info`, `debug`, `berth=debug,warn`). Commands other than `serve` log warnings only.
fn init_logs(format: LogFormat, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_update(args: &[&str]) -> Result<String, clap::Error> {
        let cli = Cli::try_parse_from(["berth", "admin", "user", "update"].iter().chain(args))?;
        match cli.command {
            Command::Admin {
                what:
                    Admin::User {
                        command: UserCommand::Update { name, .. },
                    },
            } => Ok(name.given()),
            _ => unreachable!("parsed as another command"),
        }
    }

    /// `--help` of every main command ends with examples, and each `berth ...` line of them
    /// parses as written.
    #[test]
    fn help_shows_examples_that_parse() {
        use clap::CommandFactory as _;
        let mut cli = Cli::command();
        cli.build();
        let mut commands = vec![(vec!["berth"], cli.clone())];
        for sub in cli.get_subcommands().filter(|c| c.get_name() != "help") {
            commands.push((vec!["berth", sub.get_name()], sub.clone()));
            if sub.get_name() == "admin" {
                for inner in sub.get_subcommands().filter(|c| c.get_name() != "help") {
                    commands.push((vec!["berth", "admin", inner.get_name()], inner.clone()));
                }
            }
        }
        for (path, mut command) in commands {
            let help = command.render_long_help().to_string();
            let (_, examples) = help
                .split_once("Examples:")
                .unwrap_or_else(|| panic!("{path:?} --help has no examples:\n{help}"));
            for line in examples.lines() {
                let Some((_, rest)) = line.split_once("berth ") else {
                    continue;
                };
                let command_line = rest.split(" # ").next().unwrap_or_default();
                let argv: Vec<&str> = std::iter::once("berth")
                    .chain(command_line.split_whitespace())
                    .collect();
                if let Err(e) = Cli::try_parse_from(&argv) {
                    panic!("the example {argv:?} of {path:?} does not parse: {e}");
                }
            }
        }
    }

    #[test]
    fn user_commands_take_the_name_as_user_create_does_or_positionally() {
        assert_eq!(user_update(&["--name", "ci"]).unwrap(), "ci");
        assert_eq!(user_update(&["10000-ci"]).unwrap(), "10000-ci");
        assert!(user_update(&[]).is_err());
        assert!(user_update(&["ci", "--name", "ci"]).is_err());
        assert!(
            Cli::try_parse_from(["berth", "admin", "user", "refresh-secret", "--name", "ci"])
                .is_ok()
        );
    }
}
