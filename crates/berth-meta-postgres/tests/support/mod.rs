//! A real PostgreSQL for the tests: the one `BERTH_TEST_PG_URL` names, or a throwaway cluster of
//! this test binary's own.
//!
//! With `BERTH_TEST_PG_URL` set (a `postgres://` URL of a role allowed to create databases, as
//! `scripts/pg-server.sh` prints it), every test uses that server. Without it, the first test
//! to ask starts one cluster for the whole test binary: `initdb` into a temporary directory,
//! `pg_ctl start` on a free loopback port with `fsync=off` (as the `postgres` user through
//! `runuser` when the tests run as root). A watchdog shell, whose stdin is a pipe this process
//! holds until it exits, stops the cluster and removes the directory once that pipe closes: no
//! postgres outlives the test binary, however it ends (a panic, `exit`, a kill).
//!
//! Each test gets a database of its own (`CREATE DATABASE`), dropped when its guard is, so
//! tests run in parallel. Without a URL and without PostgreSQL's binaries the tests fail and say
//! how to get them: a backend test that silently skips would prove nothing.

// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::io::Read as _;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use berth_meta::MetadataStore;
use berth_meta::conformance::Harness;
use berth_meta_postgres::{PostgresMetadata, PostgresOptions};
use futures::FutureExt as _;
use tokio_postgres::NoTls;

const HOW_TO_GET_IT: &str = "the PostgreSQL tests need a PostgreSQL server: either set \
    BERTH_TEST_PG_URL=postgres://USER:PASSWORD@HOST:PORT/DB (a role that may CREATE DATABASE; \
    eval \"$(scripts/pg-server.sh)\" starts one and prints it), or install PostgreSQL 15 where \
    the tests find it (/usr/lib/postgresql/15/bin, or set BERTH_TEST_PG_BIN): \
    apt-get update && apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15";

/// Where the tests' databases live.
struct Server {
    /// A URL of the server with the database part left out: `…/` + database name.
    base: String,
    /// The maintenance database to connect to for `CREATE DATABASE`.
    admin_db: String,
    /// The watchdog, whose stdin stays open until the process exits (see the module doc). It is
    /// never waited for: it outlives this process on purpose.
    _watchdog: Option<Mutex<Child>>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| match std::env::var("BERTH_TEST_PG_URL") {
        Ok(url) => external(&url),
        Err(_) => own_cluster(),
    })
}

/// Splits `postgres://…/db?query` into the URL before the database and the database.
fn external(url: &str) -> Server {
    url.parse::<tokio_postgres::Config>()
        .unwrap_or_else(|e| panic!("BERTH_TEST_PG_URL is not a PostgreSQL URL: {e}"));
    let authority_start = url
        .find("://")
        .map(|i| i + 3)
        .unwrap_or_else(|| panic!("BERTH_TEST_PG_URL must be a postgres:// URL: {url}"));
    let (base, db) = match url[authority_start..].find('/') {
        Some(slash) => {
            let (base, rest) = url.split_at(authority_start + slash + 1);
            (base.to_owned(), rest.split('?').next().unwrap_or_default())
        }
        None => (format!("{url}/"), ""),
    };
    Server {
        base,
        admin_db: if db.is_empty() { "postgres" } else { db }.to_owned(),
        _watchdog: None,
    }
}

/// Runs `cmd`, panicking with its output when it fails.
fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `program` as the `postgres` user when running as root (PostgreSQL refuses to run as root).
fn as_postgres(root: bool, program: &Path) -> Command {
    if root {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn own_cluster() -> Server {
    let bin = std::env::var_os("BERTH_TEST_PG_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    );
    let (initdb, pg_ctl) = (bin.join("initdb"), bin.join("pg_ctl"));
    assert!(
        initdb.exists() && pg_ctl.exists(),
        "no PostgreSQL binaries in {}: {HOW_TO_GET_IT}",
        bin.display()
    );
    // /proc/self belongs to the effective user: no unsafe `geteuid` needed.
    let root = std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0);

    let dir: PathBuf = tempfile::Builder::new()
        .prefix("berth-pg.")
        .tempdir()
        .expect("temporary directory")
        .keep(); // removed by the watchdog, after the server stopped
    let password = random_hex(16);
    let pwfile = dir.join("pwfile");
    std::fs::write(&pwfile, &password).expect("write the password file");
    if root {
        let id = |flag: &str| -> u32 {
            let out = run(Command::new("id").args([flag, "postgres"]), "id postgres");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("numeric id")
        };
        let (uid, gid) = (id("-u"), id("-g"));
        for path in [&dir, &pwfile] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
        }
    }
    let data = dir.join("data");
    run(
        as_postgres(root, &initdb)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display())),
        "initdb",
    );

    // The watchdog first, so that even a failed start below is cleaned up at exit. `trap ''`
    // keeps a Ctrl-C aimed at the test run from killing it before it has stopped the server.
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let stop = format!(
        "{runuser}{pg_ctl} -D {data} -m immediate stop",
        runuser = if root { "runuser -u postgres -- " } else { "" },
        pg_ctl = quote(&pg_ctl),
        data = quote(&data),
    );
    let script = format!(
        "trap '' INT TERM HUP; cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf {dir}",
        dir = quote(&dir)
    );
    #[expect(
        clippy::zombie_processes,
        reason = "the watchdog must outlive this process; init reaps it"
    )]
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the watchdog shell");

    // Another process may take the port between our probe and the server's bind: retry.
    let log = dir.join("server.log");
    for attempt in 1..=5 {
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {dir} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            dir = dir.display()
        );
        let started = as_postgres(root, &pg_ctl)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start", "-o", &options])
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl");
        if started.status.success() {
            return Server {
                base: format!("postgres://postgres:{password}@127.0.0.1:{port}/"),
                admin_db: "postgres".to_owned(),
                _watchdog: Some(Mutex::new(watchdog)),
            };
        }
        if attempt == 5 {
            panic!(
                "pg_ctl start failed:\n{}\n{}\nserver log:\n{}",
                String::from_utf8_lossy(&started.stdout),
                String::from_utf8_lossy(&started.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }
    unreachable!("the loop returns or panics")
}

/// A database of the test's own, dropped with this guard.
pub(crate) struct TestDb {
    pub(crate) url: String,
    name: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop is synchronous and may run inside the test's runtime: a thread of its own with a
        // runtime of its own does the (best-effort) cleanup.
        let admin = admin_url();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, connection)) = tokio_postgres::connect(&admin, NoTls).await {
                    tokio::spawn(connection);
                    let _ = client.batch_execute(&sql).await;
                }
            });
        })
        .join();
    }
}

fn admin_url() -> String {
    let server = server();
    format!("{}{}", server.base, server.admin_db)
}

/// A fresh, empty database on the server.
pub(crate) async fn fresh_database() -> TestDb {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // A blocking start of the shared cluster (first test only); the other tests wait for it.
    let admin = tokio::task::block_in_place(admin_url);
    let name = format!(
        "berth_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (client, connection) = tokio_postgres::connect(&admin, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {admin}: {e}"));
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    drop(client);
    let _ = connection.await;
    TestDb {
        url: format!("{}{name}", server().base),
        name,
    }
}

/// Small pools: tests run in parallel against one server.
pub(crate) fn options() -> PostgresOptions {
    PostgresOptions {
        max_connections: 4,
        ..PostgresOptions::default()
    }
}

/// The conformance harness: a fresh database, a store on it, and `reopen` building a second,
/// independent pool on the same database (as another node would).
pub(crate) async fn harness() -> Harness {
    let db = fresh_database().await;
    let store = PostgresMetadata::connect(&db.url, options())
        .await
        .expect("connect");
    let url = db.url.clone();
    Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            let url = url.clone();
            async move {
                Arc::new(
                    PostgresMetadata::connect(&url, options())
                        .await
                        .expect("reopen"),
                ) as Arc<dyn MetadataStore>
            }
            .boxed()
        }),
        guard: Box::new(db),
    }
}
