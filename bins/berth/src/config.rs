//! Configuration: defaults, then a TOML file (`--config`), then `BERTH_*` environment variables,
//! then command-line flags; the later wins.
//!
//! With nothing set, berth keeps SQLite and blobs under `./berth-data` and listens on
//! `127.0.0.1:5000`. PostgreSQL (`metadata.postgres_url`) and S3 (`storage.s3`) replace them for
//! several nodes, which must then share `auth.token_key` and `auth.sealing_key`.
//!
//! Durations are [`Period`]s, parsed once where they are read (the file or a variable), with
//! the setting named in the error; nothing parses them again later.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Everything `serve`, `gc` and `admin` read.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Address to listen on.
    pub(crate) listen: SocketAddr,
    /// Where SQLite, blobs and the generated token key live.
    pub(crate) data_dir: PathBuf,
    /// The registry's public URL (`https://registry.example.com`), for the token realm and the
    /// commands shown to users; derived from each request's `Host` when unset.
    pub(crate) public_url: Option<String>,
    /// The account that `admin` commands act on by default, created on first start.
    pub(crate) default_account: i64,
    /// `text` or `json` logs.
    pub(crate) log_format: LogFormat,
    /// Peers (a reverse proxy, a load balancer) whose `X-Request-Id` is kept as the request's
    /// id; any other peer's is replaced by a fresh one.
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,
    /// Metadata backend.
    pub(crate) metadata: MetadataConfig,
    /// Blob backend.
    pub(crate) storage: StorageConfig,
    /// Authentication.
    pub(crate) auth: AuthSection,
    /// TLS; plain HTTP when absent.
    pub(crate) tls: Option<TlsConfig>,
    /// Garbage collection.
    pub(crate) gc: GcConfig,
    /// Proxy repositories (the pull-through cache).
    pub(crate) proxy: ProxyConfig,
    /// Replication between registries.
    pub(crate) replication: ReplicationConfig,
    /// Pull statistics.
    pub(crate) stats: StatsConfig,
    /// Request limits.
    pub(crate) limits: LimitsConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MetadataConfig {
    /// `postgres://user:password@host:port/db`; SQLite in the data directory when unset.
    pub(crate) postgres_url: Option<String>,
    /// Most PostgreSQL connections per node.
    pub(crate) max_connections: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StorageConfig {
    /// S3-compatible storage; local files in the data directory when unset.
    pub(crate) s3: Option<S3Section>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct S3Section {
    /// The service URL (`http://127.0.0.1:9000`); Amazon S3 when unset.
    pub(crate) endpoint: Option<String>,
    pub(crate) bucket: String,
    pub(crate) region: Option<String>,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    /// Key prefix inside the bucket.
    pub(crate) prefix: Option<String>,
    /// Virtual-hosted-style URLs (Amazon S3) rather than path style.
    pub(crate) virtual_hosted_style: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AuthSection {
    /// `token` (the Docker token flow) or `basic`.
    pub(crate) mode: AuthModeName,
    /// The token signing key (32 characters or more); generated into the data directory when
    /// unset. Nodes sharing a store must share it.
    pub(crate) token_key: Option<String>,
    /// The key material that seals remote registries' passwords in the metadata store (32
    /// characters or more); generated into the data directory (`sealing.key`) when unset.
    /// Nodes sharing a store must share it.
    pub(crate) sealing_key: Option<String>,
    /// How long a token lives (`5m`).
    #[serde(deserialize_with = "setting::auth_token_ttl")]
    pub(crate) token_ttl: Period,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            mode: AuthModeName::Token,
            token_key: None,
            sealing_key: None,
            token_ttl: Period::secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AuthModeName {
    Token,
    Basic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsConfig {
    /// PEM certificate chain.
    pub(crate) cert: PathBuf,
    /// PEM private key.
    pub(crate) key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct GcConfig {
    /// How often to collect (`1h`).
    #[serde(deserialize_with = "setting::gc_interval")]
    pub(crate) interval: Period,
    /// How long an unreferenced blob is kept (`1h`).
    #[serde(deserialize_with = "setting::gc_grace")]
    pub(crate) grace: Period,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ProxyConfig {
    /// How often a proxy repository asks its upstream what a tag names (`60s`).
    #[serde(deserialize_with = "setting::proxy_tag_check")]
    pub(crate) tag_check: Period,
    /// Cached artifacts nobody pulled for this long are removed by the collector (`7d`).
    #[serde(deserialize_with = "setting::proxy_keep_unpulled")]
    pub(crate) keep_unpulled: Period,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ReplicationConfig {
    /// Artifacts one execution copies at once (`4`).
    pub(crate) concurrency: usize,
    /// Executions this node runs at once (`4`).
    pub(crate) executions: usize,
    /// How long a node's claim on an execution lasts unless renewed (`10s`): after a crash,
    /// the execution continues elsewhere (or after the restart) once it lapsed.
    #[serde(deserialize_with = "setting::replication_lease")]
    pub(crate) lease: Period,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            concurrency: 4,
            executions: 4,
            lease: Period::secs(10),
        }
    }
}

impl ReplicationConfig {
    fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<(), String> {
        for (variable, field) in [
            ("BERTH_REPLICATION_CONCURRENCY", &mut self.concurrency),
            ("BERTH_REPLICATION_EXECUTIONS", &mut self.executions),
        ] {
            if let Some(v) = get(variable) {
                *field = v
                    .parse()
                    .ok()
                    .filter(|&n: &usize| (1..=256).contains(&n))
                    .ok_or_else(|| format!("{variable}={v:?} is not a number from 1 to 256"))?;
            }
        }
        Period::from_env(
            get,
            "BERTH_REPLICATION_LEASE",
            "replication.lease",
            &mut self.lease,
        )
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            tag_check: Period::secs(60),
            keep_unpulled: Period::secs(7 * 86_400),
        }
    }
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            interval: Period::secs(3600),
            grace: Period::secs(3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StatsConfig {
    /// How often pull statistics are written (`5s`).
    #[serde(deserialize_with = "setting::stats_flush_interval")]
    pub(crate) flush_interval: Period,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            flush_interval: Period::secs(5),
        }
    }
}

/// What one client may hold of the server: every bound on requests, bodies, sessions and
/// connections (SECURITY.md lists them with their reasons).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LimitsConfig {
    /// Largest manifest accepted, in bytes.
    pub(crate) max_manifest_bytes: u64,
    /// Bytes of manifest and JSON bodies all requests together may hold in memory (`64MiB`);
    /// past it a request is answered 429 with `Retry-After`.
    pub(crate) max_buffered_bytes: u64,
    /// Upload sessions a repository may have open at once.
    pub(crate) max_open_uploads: u64,
    /// How long an upload session may sit idle before it is removed (`1h`).
    #[serde(deserialize_with = "setting::limits_upload_idle_timeout")]
    pub(crate) upload_idle_timeout: Period,
    /// A request head must arrive within this of its first byte, and a new connection's first
    /// head within this of the connection (`10s`).
    #[serde(deserialize_with = "setting::limits_head_timeout")]
    pub(crate) head_timeout: Period,
    /// How long a connection may stay idle between requests (`60s`).
    #[serde(deserialize_with = "setting::limits_idle_timeout")]
    pub(crate) idle_timeout: Period,
    /// A request body that brings no data for this long fails (`30s`).
    #[serde(deserialize_with = "setting::limits_body_timeout")]
    pub(crate) body_timeout: Period,
    /// A response the client does not read for this long closes the connection (`60s`).
    #[serde(deserialize_with = "setting::limits_send_timeout")]
    pub(crate) send_timeout: Period,
    /// Largest request head (HTTP/1) or header list (HTTP/2), in bytes.
    pub(crate) max_header_bytes: u64,
    /// HTTP/2 streams one connection may have open at once.
    pub(crate) h2_max_streams: u32,
    /// Connections open at once; 0 derives it from the descriptor limit (half of it, less a
    /// reserve).
    pub(crate) max_connections: usize,
    /// Connections open at once from one address; 0 derives it (a quarter of
    /// `max_connections`, at most 1024). Behind a proxy every client shares its address: raise
    /// this to `max_connections`.
    pub(crate) max_connections_per_source: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_manifest_bytes: 4 << 20,
            max_buffered_bytes: 64 << 20,
            max_open_uploads: 100,
            upload_idle_timeout: Period::secs(3600),
            head_timeout: Period::secs(10),
            idle_timeout: Period::secs(60),
            body_timeout: Period::secs(30),
            send_timeout: Period::secs(60),
            max_header_bytes: 64 << 10,
            h2_max_streams: 100,
            max_connections: 0,
            max_connections_per_source: 0,
        }
    }
}

impl LimitsConfig {
    fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) -> Result<(), String> {
        fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}={v:?} is not a whole number"))
        }
        if let Some(v) = get("BERTH_LIMITS_MAX_MANIFEST_BYTES") {
            self.max_manifest_bytes =
                parse_size(&v).map_err(|e| format!("BERTH_LIMITS_MAX_MANIFEST_BYTES: {e}"))?;
        }
        if let Some(v) = get("BERTH_LIMITS_MAX_BUFFERED_BYTES") {
            self.max_buffered_bytes =
                parse_size(&v).map_err(|e| format!("BERTH_LIMITS_MAX_BUFFERED_BYTES: {e}"))?;
        }
        if let Some(v) = get("BERTH_LIMITS_MAX_HEADER_BYTES") {
            self.max_header_bytes =
                parse_size(&v).map_err(|e| format!("BERTH_LIMITS_MAX_HEADER_BYTES: {e}"))?;
        }
        if let Some(v) = get("BERTH_LIMITS_MAX_OPEN_UPLOADS") {
            self.max_open_uploads = number("BERTH_LIMITS_MAX_OPEN_UPLOADS", &v)?;
        }
        if let Some(v) = get("BERTH_LIMITS_H2_MAX_STREAMS") {
            self.h2_max_streams = number("BERTH_LIMITS_H2_MAX_STREAMS", &v)?;
        }
        if let Some(v) = get("BERTH_LIMITS_MAX_CONNECTIONS") {
            self.max_connections = number("BERTH_LIMITS_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = get("BERTH_LIMITS_MAX_CONNECTIONS_PER_SOURCE") {
            self.max_connections_per_source =
                number("BERTH_LIMITS_MAX_CONNECTIONS_PER_SOURCE", &v)?;
        }
        for (variable, setting, field) in [
            (
                "BERTH_LIMITS_UPLOAD_IDLE_TIMEOUT",
                "limits.upload_idle_timeout",
                &mut self.upload_idle_timeout,
            ),
            (
                "BERTH_LIMITS_HEAD_TIMEOUT",
                "limits.head_timeout",
                &mut self.head_timeout,
            ),
            (
                "BERTH_LIMITS_IDLE_TIMEOUT",
                "limits.idle_timeout",
                &mut self.idle_timeout,
            ),
            (
                "BERTH_LIMITS_BODY_TIMEOUT",
                "limits.body_timeout",
                &mut self.body_timeout,
            ),
            (
                "BERTH_LIMITS_SEND_TIMEOUT",
                "limits.send_timeout",
                &mut self.send_timeout,
            ),
        ] {
            Period::from_env(get, variable, setting, field)?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), String> {
        if self.max_header_bytes < 8192 {
            return Err("limits.max_header_bytes must be at least 8192".into());
        }
        if self.max_buffered_bytes < self.max_manifest_bytes.max(1 << 20) {
            return Err(
                "limits.max_buffered_bytes must be at least 1 MiB and at least \
                 limits.max_manifest_bytes"
                    .into(),
            );
        }
        if self.max_open_uploads == 0 || self.h2_max_streams == 0 {
            return Err(
                "limits.max_open_uploads and limits.h2_max_streams must be more than zero".into(),
            );
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            data_dir: PathBuf::from("./berth-data"),
            public_url: None,
            default_account: 10000,
            log_format: LogFormat::Text,
            trusted_proxies: Vec::new(),
            metadata: MetadataConfig::default(),
            storage: StorageConfig::default(),
            auth: AuthSection::default(),
            tls: None,
            gc: GcConfig::default(),
            proxy: ProxyConfig::default(),
            replication: ReplicationConfig::default(),
            stats: StatsConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

/// Settings that also come as flags.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) config: Option<PathBuf>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) listen: Option<String>,
}

impl Config {
    /// Defaults, the file, the environment (`env` is a lookup, so tests pass their own), then
    /// the flags.
    pub(crate) fn load(
        flags: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let file = flags
            .config
            .clone()
            .or_else(|| env("BERTH_CONFIG").map(PathBuf::from));
        let mut config = match &file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(&env)?;
        if let Some(dir) = &flags.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(listen) = &flags.listen {
            config.listen = parse_listen(listen)?;
        }
        config.check()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), String> {
        let get = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(v) = get("BERTH_LISTEN") {
            self.listen = parse_listen(&v)?;
        }
        if let Some(v) = get("BERTH_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("BERTH_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = get("BERTH_DEFAULT_ACCOUNT") {
            self.default_account = v
                .parse()
                .map_err(|_| format!("BERTH_DEFAULT_ACCOUNT={v:?} is not a number"))?;
        }
        if let Some(v) = get("BERTH_LOG_FORMAT") {
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(format!("BERTH_LOG_FORMAT={v:?}: use text or json")),
            };
        }
        if let Some(v) = get("BERTH_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|_| format!("BERTH_TRUSTED_PROXIES: {s:?} is not an IP address"))
                })
                .collect::<Result<_, String>>()?;
        }
        if let Some(v) = get("BERTH_POSTGRES_URL") {
            self.metadata.postgres_url = Some(v);
        }
        if let Some(endpoint) = get("BERTH_S3_ENDPOINT").or_else(|| get("BERTH_S3_BUCKET")) {
            let s3 = self.storage.s3.get_or_insert_with(S3Section::default);
            if get("BERTH_S3_ENDPOINT").is_some() {
                s3.endpoint = Some(endpoint);
            }
            if let Some(v) = get("BERTH_S3_BUCKET") {
                s3.bucket = v;
            }
            if let Some(v) = get("BERTH_S3_REGION") {
                s3.region = Some(v);
            }
            if let Some(v) = get("BERTH_S3_ACCESS_KEY") {
                s3.access_key = v;
            }
            if let Some(v) = get("BERTH_S3_SECRET_KEY") {
                s3.secret_key = v;
            }
            if let Some(v) = get("BERTH_S3_PREFIX") {
                s3.prefix = Some(v);
            }
        }
        if let Some(v) = get("BERTH_AUTH_MODE") {
            self.auth.mode = match v.as_str() {
                "token" => AuthModeName::Token,
                "basic" => AuthModeName::Basic,
                _ => return Err(format!("BERTH_AUTH_MODE={v:?}: use token or basic")),
            };
        }
        if let Some(v) = get("BERTH_TOKEN_KEY") {
            self.auth.token_key = Some(v);
        }
        if let Some(v) = get("BERTH_SEALING_KEY") {
            self.auth.sealing_key = Some(v);
        }
        Period::from_env(
            &get,
            "BERTH_TOKEN_TTL",
            "auth.token_ttl",
            &mut self.auth.token_ttl,
        )?;
        match (get("BERTH_TLS_CERT"), get("BERTH_TLS_KEY")) {
            (Some(cert), Some(key)) => {
                self.tls = Some(TlsConfig {
                    cert: cert.into(),
                    key: key.into(),
                })
            }
            (None, None) => {}
            _ => return Err("set both BERTH_TLS_CERT and BERTH_TLS_KEY, or neither".into()),
        }
        Period::from_env(
            &get,
            "BERTH_GC_INTERVAL",
            "gc.interval",
            &mut self.gc.interval,
        )?;
        Period::from_env(&get, "BERTH_GC_GRACE", "gc.grace", &mut self.gc.grace)?;
        Period::from_env(
            &get,
            "BERTH_PROXY_TAG_CHECK",
            "proxy.tag_check",
            &mut self.proxy.tag_check,
        )?;
        Period::from_env(
            &get,
            "BERTH_PROXY_KEEP_UNPULLED",
            "proxy.keep_unpulled",
            &mut self.proxy.keep_unpulled,
        )?;
        self.replication.apply_env(&get)?;
        Period::from_env(
            &get,
            "BERTH_STATS_FLUSH_INTERVAL",
            "stats.flush_interval",
            &mut self.stats.flush_interval,
        )?;
        self.limits.apply_env(&get)
    }

    /// Rules over several settings, or over settings that come from several places, checked
    /// once everything is merged.
    fn check(&self) -> Result<(), String> {
        if let Some(key) = &self.auth.token_key
            && key.len() < 32
        {
            return Err(format!(
                "auth.token_key needs at least 32 characters, got {}",
                key.len()
            ));
        }
        if let Some(key) = &self.auth.sealing_key
            && key.len() < 32
        {
            return Err(format!(
                "auth.sealing_key needs at least 32 characters, got {}",
                key.len()
            ));
        }
        if let Some(s3) = &self.storage.s3
            && (s3.bucket.is_empty() || s3.access_key.is_empty() || s3.secret_key.is_empty())
        {
            return Err("storage.s3 needs bucket, access_key and secret_key".into());
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "public_url {url:?} must start with http:// or https://"
            ));
        }
        self.limits.check()
    }
}

/// A duration setting: `250ms`, `30s`, `5m`, `1h`, `2d` or plain seconds (a string, or a whole
/// number in the file), more than zero.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period(Duration);

impl Period {
    /// A default, in seconds (more than zero).
    const fn secs(n: u64) -> Self {
        Period(Duration::from_secs(n))
    }

    /// The duration.
    pub(crate) fn get(self) -> Duration {
        self.0
    }

    /// Parses `value` for `setting`, which the error names.
    fn parse(setting: &str, value: &str) -> Result<Self, String> {
        let d = parse_duration(value).map_err(|e| format!("{setting}: {e}"))?;
        if d.is_zero() {
            return Err(format!("{setting} must be more than zero"));
        }
        Ok(Period(d))
    }

    /// Sets `field` from the variable `variable` when it is set; the error names both.
    fn from_env(
        get: &impl Fn(&str) -> Option<String>,
        variable: &str,
        setting: &str,
        field: &mut Period,
    ) -> Result<(), String> {
        if let Some(v) = get(variable) {
            *field = Period::parse(&format!("{variable} ({setting})"), &v)?;
        }
        Ok(())
    }

    /// Reads `setting` from the file: a string or a whole number of seconds.
    fn deserialize_named<'de, D: Deserializer<'de>>(
        deserializer: D,
        setting: &'static str,
    ) -> Result<Self, D::Error> {
        struct Visitor(&'static str);
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Period;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a duration for {} such as 30s, 5m or 1h", self.0)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Period, E> {
                Period::parse(self.0, v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Period, E> {
                Period::parse(self.0, &v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Period, E> {
                Period::parse(self.0, &v.to_string()).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor(setting))
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The `deserialize_with` of each [`Period`] setting, so that an error in the file names the
/// setting as an error in a variable does.
mod setting {
    use super::Period;
    use serde::Deserializer;

    macro_rules! periods {
        ($($function:ident = $setting:literal),* $(,)?) => {$(
            pub(super) fn $function<'de, D: Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
                Period::deserialize_named(d, $setting)
            }
        )*};
    }

    periods! {
        auth_token_ttl = "auth.token_ttl",
        gc_interval = "gc.interval",
        gc_grace = "gc.grace",
        proxy_tag_check = "proxy.tag_check",
        proxy_keep_unpulled = "proxy.keep_unpulled",
        replication_lease = "replication.lease",
        stats_flush_interval = "stats.flush_interval",
        limits_upload_idle_timeout = "limits.upload_idle_timeout",
        limits_head_timeout = "limits.head_timeout",
        limits_idle_timeout = "limits.idle_timeout",
        limits_body_timeout = "limits.body_timeout",
        limits_send_timeout = "limits.send_timeout",
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("listen address {s:?} must be IP:PORT, e.g. 127.0.0.1:5000"))
}

/// `500ms`, `30s`, `5m`, `1h`, `7d`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30s, 5m or 1h"))?;
    let seconds = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?} is not a duration such as 30s, 5m or 1h")),
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// `10GiB`, `500MB`, `1.5GiB`, `1073741824`, as bytes.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 10GiB or 500MB"))?;
    let unit: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "ti" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?} is not a size such as 10GiB or 500MB")),
    };
    let bytes = (n * unit).round();
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes as u64)
}

/// Every variable berth reads (a test checks the sources name no other).
pub(crate) const VARIABLES: &[&str] = &[
    "BERTH_ADMIN_PASSWORD",
    "BERTH_AUTH_MODE",
    "BERTH_CONFIG",
    "BERTH_DATA_DIR",
    "BERTH_DEFAULT_ACCOUNT",
    "BERTH_GC_GRACE",
    "BERTH_GC_INTERVAL",
    "BERTH_LIMITS_BODY_TIMEOUT",
    "BERTH_LIMITS_H2_MAX_STREAMS",
    "BERTH_LIMITS_HEAD_TIMEOUT",
    "BERTH_LIMITS_IDLE_TIMEOUT",
    "BERTH_LIMITS_MAX_BUFFERED_BYTES",
    "BERTH_LIMITS_MAX_CONNECTIONS",
    "BERTH_LIMITS_MAX_CONNECTIONS_PER_SOURCE",
    "BERTH_LIMITS_MAX_HEADER_BYTES",
    "BERTH_LIMITS_MAX_MANIFEST_BYTES",
    "BERTH_LIMITS_MAX_OPEN_UPLOADS",
    "BERTH_LIMITS_SEND_TIMEOUT",
    "BERTH_LIMITS_UPLOAD_IDLE_TIMEOUT",
    "BERTH_LISTEN",
    "BERTH_LOG",
    "BERTH_LOG_FORMAT",
    "BERTH_POSTGRES_URL",
    "BERTH_PROXY_KEEP_UNPULLED",
    "BERTH_PROXY_TAG_CHECK",
    "BERTH_PUBLIC_URL",
    "BERTH_REPLICATION_CONCURRENCY",
    "BERTH_REPLICATION_EXECUTIONS",
    "BERTH_REPLICATION_LEASE",
    "BERTH_S3_ACCESS_KEY",
    "BERTH_S3_BUCKET",
    "BERTH_S3_ENDPOINT",
    "BERTH_S3_PREFIX",
    "BERTH_S3_REGION",
    "BERTH_S3_SECRET_KEY",
    "BERTH_SEALING_KEY",
    "BERTH_STATS_FLUSH_INTERVAL",
    "BERTH_TLS_CERT",
    "BERTH_TLS_KEY",
    "BERTH_TOKEN_KEY",
    "BERTH_TOKEN_TTL",
    "BERTH_TRUSTED_PROXIES",
];

/// The `BERTH_*` variables among `names` that berth does not read, each with the known one it
/// most likely meant (at most three edits away), so a misspelt setting is not silently ignored.
pub(crate) fn unknown_variables(
    names: impl IntoIterator<Item = String>,
) -> Vec<(String, Option<&'static str>)> {
    let mut unknown: Vec<(String, Option<&'static str>)> = names
        .into_iter()
        .filter(|n| n.starts_with("BERTH_") && !VARIABLES.contains(&n.as_str()))
        .map(|n| {
            let near = VARIABLES
                .iter()
                .map(|known| (edits(&n, known), *known))
                .filter(|(d, _)| *d <= 3)
                .min()
                .map(|(_, known)| known);
            (n, near)
        })
        .collect();
    unknown.sort();
    unknown
}

/// The edit distance between two names (insertions, deletions and substitutions).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn zero_configuration_is_sqlite_and_files_on_loopback() {
        let c = Config::load(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(c.data_dir, PathBuf::from("./berth-data"));
        assert!(c.metadata.postgres_url.is_none() && c.storage.s3.is_none());
        assert_eq!(c.auth.mode, AuthModeName::Token);
    }

    #[test]
    fn flags_beat_environment_beats_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(
            &file,
            r#"
listen = "127.0.0.1:6000"
data_dir = "/from/file"
[metadata]
postgres_url = "postgres://file"
[storage.s3]
endpoint = "http://127.0.0.1:9000"
bucket = "b"
access_key = "k"
secret_key = "s"
[auth]
mode = "basic"
token_key = "0123456789abcdef0123456789abcdef"
sealing_key = "fedcba9876543210fedcba9876543210"
[gc]
interval = "10m"
"#,
        )
        .unwrap();
        let flags = Overrides {
            config: Some(file),
            data_dir: Some("/from/flag".into()),
            listen: None,
        };
        let c = Config::load(
            &flags,
            env(&[
                ("BERTH_LISTEN", "127.0.0.1:7000"),
                ("BERTH_AUTH_MODE", "token"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.metadata.postgres_url.as_deref(), Some("postgres://file"));
        assert_eq!(c.storage.s3.as_ref().unwrap().bucket, "b");
        assert_eq!(c.auth.mode, AuthModeName::Token);
        assert_eq!(
            c.auth.sealing_key.as_deref(),
            Some("fedcba9876543210fedcba9876543210")
        );
        assert_eq!(c.gc.interval.get(), Duration::from_secs(600));
    }

    #[test]
    fn mistakes_are_named() {
        let bad = |vars: &[(&str, &str)]| Config::load(&Overrides::default(), env(vars));
        assert!(
            bad(&[("BERTH_LISTEN", "localhost")])
                .unwrap_err()
                .contains("IP:PORT")
        );
        assert!(
            bad(&[("BERTH_TOKEN_KEY", "short")])
                .unwrap_err()
                .contains("32")
        );
        assert!(
            bad(&[("BERTH_SEALING_KEY", "short")])
                .unwrap_err()
                .contains("auth.sealing_key needs at least 32")
        );
        assert!(
            bad(&[("BERTH_GC_INTERVAL", "soon")])
                .unwrap_err()
                .contains("gc.interval")
        );
        assert!(
            bad(&[("BERTH_AUTH_MODE", "ldap")])
                .unwrap_err()
                .contains("basic")
        );
        assert!(
            bad(&[("BERTH_S3_BUCKET", "b")])
                .unwrap_err()
                .contains("access_key")
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "lisen = \"x\"").unwrap();
        let flags = Overrides {
            config: Some(file),
            ..Overrides::default()
        };
        assert!(
            Config::load(&flags, env(&[]))
                .unwrap_err()
                .contains("lisen")
        );
    }

    /// A bad duration names its setting wherever it comes from, and good ones arrive parsed.
    #[test]
    fn bad_durations_name_their_setting_in_the_file_and_in_variables() {
        let dir = tempfile::tempdir().unwrap();
        let load_file = |text: &str| {
            let file = dir.path().join("berth.toml");
            std::fs::write(&file, text).unwrap();
            let flags = Overrides {
                config: Some(file),
                ..Overrides::default()
            };
            Config::load(&flags, env(&[]))
        };
        for (text, setting) in [
            ("[gc]\ninterval = \"soon\"\n", "gc.interval"),
            ("[auth]\ntoken_ttl = \"1w\"\n", "auth.token_ttl"),
            ("[limits]\nbody_timeout = \"0s\"\n", "limits.body_timeout"),
            ("[limits]\nhead_timeout = -5\n", "limits.head_timeout"),
            ("[stats]\nflush_interval = true\n", "stats.flush_interval"),
        ] {
            let e = load_file(text).unwrap_err();
            assert!(e.contains(setting), "{text:?}: {e}");
            assert!(e.contains("berth.toml"), "{text:?}: {e}");
        }
        let e = load_file("[gc]\ninterval = \"soon\"\n").unwrap_err();
        assert!(e.contains("\"soon\" is not a duration such as 30s"), "{e}");
        let c = load_file("[gc]\ninterval = 90\ngrace = \"250ms\"\n").unwrap();
        assert_eq!(c.gc.interval.get(), Duration::from_secs(90));
        assert_eq!(c.gc.grace.get(), Duration::from_millis(250));

        let bad = |vars: &[(&str, &str)]| Config::load(&Overrides::default(), env(vars));
        for (variable, value, setting) in [
            ("BERTH_TOKEN_TTL", "soon", "auth.token_ttl"),
            ("BERTH_GC_GRACE", "1w", "gc.grace"),
            ("BERTH_STATS_FLUSH_INTERVAL", "0", "stats.flush_interval"),
            ("BERTH_LIMITS_SEND_TIMEOUT", "fast", "limits.send_timeout"),
        ] {
            let e = bad(&[(variable, value)]).unwrap_err();
            assert!(
                e.contains(variable) && e.contains(setting),
                "{variable}: {e}"
            );
        }
        let c = bad(&[("BERTH_TOKEN_TTL", "2d")]).unwrap();
        assert_eq!(c.auth.token_ttl.get(), Duration::from_secs(172_800));
    }

    #[test]
    fn sizes_and_durations_read_like_people_write_them() {
        assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("ten").is_err() && parse_size("5XB").is_err());
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("1w").is_err());
    }

    #[test]
    fn limits_have_defaults_and_variables() {
        let c = Config::load(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c.limits.head_timeout.get(), Duration::from_secs(10));
        assert_eq!(c.limits.max_buffered_bytes, 64 << 20);
        let c = Config::load(
            &Overrides::default(),
            env(&[
                ("BERTH_LIMITS_HEAD_TIMEOUT", "2s"),
                ("BERTH_LIMITS_MAX_CONNECTIONS_PER_SOURCE", "8"),
                ("BERTH_LIMITS_MAX_BUFFERED_BYTES", "16MiB"),
            ]),
        )
        .unwrap();
        assert_eq!(c.limits.head_timeout.get(), Duration::from_secs(2));
        assert_eq!(c.limits.max_connections_per_source, 8);
        assert_eq!(c.limits.max_buffered_bytes, 16 << 20);
        let bad = |vars: &[(&str, &str)]| Config::load(&Overrides::default(), env(vars));
        assert!(
            bad(&[("BERTH_LIMITS_BODY_TIMEOUT", "0s")])
                .unwrap_err()
                .contains("body_timeout")
        );
        assert!(
            bad(&[("BERTH_LIMITS_MAX_CONNECTIONS", "many")])
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            bad(&[("BERTH_LIMITS_MAX_BUFFERED_BYTES", "1KiB")])
                .unwrap_err()
                .contains("max_buffered_bytes")
        );
    }

    #[test]
    fn misspelt_variables_are_named_with_what_was_meant() {
        let names = [
            "BERTH_LISTEN",
            "BERTH_LISTN",
            "BERTH_S3_BUCKT",
            "BERTH_WHATEVER_ELSE",
            "PATH",
        ]
        .map(String::from);
        assert_eq!(
            unknown_variables(names),
            [
                ("BERTH_LISTN".to_owned(), Some("BERTH_LISTEN")),
                ("BERTH_S3_BUCKT".to_owned(), Some("BERTH_S3_BUCKET")),
                ("BERTH_WHATEVER_ELSE".to_owned(), None),
            ]
        );
    }

    /// The list of known variables is every `BERTH_*` name the binary's sources read.
    #[test]
    fn every_variable_read_is_known() {
        let sources = [
            include_str!("config.rs"),
            include_str!("main.rs"),
            include_str!("serve.rs"),
            include_str!("backends.rs"),
            include_str!("admin.rs"),
        ];
        for source in sources {
            // The code, not its tests (which name unknown variables on purpose).
            let code = source.split("#[cfg(test)]").next().unwrap_or_default();
            for piece in code.split("\"BERTH_").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if name.is_empty() {
                    continue; // the prefix itself
                }
                let name = format!("BERTH_{name}");
                assert!(
                    VARIABLES.contains(&name.as_str()),
                    "{name} is read but not in VARIABLES"
                );
            }
        }
    }
}
