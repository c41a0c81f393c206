//! A real S3 server for the tests: the one the environment names, or an `s3s-fs` of our own.
//!
//! With `BERTH_TEST_S3_ENDPOINT`, `BERTH_TEST_S3_ACCESS_KEY`, `BERTH_TEST_S3_SECRET_KEY` and
//! `BERTH_TEST_S3_BUCKET` set (as `scripts/s3-server.sh` prints them), every test uses that
//! server, each under its own key prefix. Without them, each test starts its own `s3s-fs` on a
//! free loopback port with its own data directory, which also lets the test see the multipart
//! uploads left pending (s3s-fs keeps them as `.upload*` files in its data directory, and does not
//! implement `ListMultipartUploads`). Without either, the tests fail and say how to get s3s-fs:
//! a backend test that silently skips would prove nothing.

// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_storage::BlobStore;
use berth_storage::conformance::Harness;
use berth_storage_s3::{S3Config, S3Store};
use futures::{FutureExt as _, TryStreamExt as _};
use object_store::ObjectStore as _;
use object_store::aws::AmazonS3Builder;

/// The S3 server a test talks to.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) endpoint: String,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) bucket: String,
}

/// An s3s-fs process of the test's own, stopped when dropped.
pub(crate) struct OwnServer {
    child: Child,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl OwnServer {
    /// The server's data directory (buckets are directories in it).
    pub(crate) fn data(&self) -> &Path {
        &self.data
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const HOW_TO_GET_IT: &str = "the S3 tests need an S3 server: either set BERTH_TEST_S3_ENDPOINT, \
    BERTH_TEST_S3_ACCESS_KEY, BERTH_TEST_S3_SECRET_KEY and BERTH_TEST_S3_BUCKET (eval \"$(scripts/s3-server.sh)\" \
    prints them), or install s3s-fs where the tests find it: \
    cargo install --locked s3s-fs@0.14.1 --features binary --root $HOME/.cache/berth-tools";

fn env_target() -> Option<Target> {
    let endpoint = std::env::var("BERTH_TEST_S3_ENDPOINT").ok()?;
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("BERTH_TEST_S3_ENDPOINT is set but {name} is not"))
    };
    Some(Target {
        endpoint,
        access_key: var("BERTH_TEST_S3_ACCESS_KEY"),
        secret_key: var("BERTH_TEST_S3_SECRET_KEY"),
        bucket: var("BERTH_TEST_S3_BUCKET"),
    })
}

fn s3s_fs_binary() -> Option<PathBuf> {
    let cached = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/berth-tools/bin/s3s-fs"));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("s3s-fs"));
    cached.into_iter().chain(on_path).find(|p| p.is_file())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Starts s3s-fs with a bucket `berth` (s3s-fs keeps a bucket as a directory of its data root).
pub(crate) fn start_server() -> (Target, OwnServer) {
    let binary = s3s_fs_binary().unwrap_or_else(|| panic!("{HOW_TO_GET_IT}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("berth")).expect("create the bucket directory");
    let (access_key, secret_key) = ("berth-test-key".to_owned(), "berth-test-secret".to_owned());
    // The port was free a moment ago; another process may take it in between, so try again.
    for _ in 0..5 {
        let port = free_port();
        let log =
            std::fs::File::create(dir.path().join(format!("s3s-fs-{port}.log"))).expect("log file");
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let target = Target {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    access_key,
                    secret_key,
                    bucket: "berth".to_owned(),
                };
                return (
                    target,
                    OwnServer {
                        child,
                        data,
                        _dir: dir,
                    },
                );
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "s3s-fs did not start; see its logs in {}",
        dir.path().display()
    );
}

/// A key prefix no other test (or earlier run) uses, and a short one: s3s-fs keeps each object's
/// metadata in a file named after the base64 of its key, so keys past about 165 bytes (a sha512
/// blob under a long prefix) exceed the file system's 255-byte names and fail with a 500.
pub(crate) fn unique_prefix(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{name}{:x}-{}-{:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos & 0xffff
    )
}

pub(crate) fn config(target: &Target, prefix: &str) -> S3Config {
    S3Config {
        endpoint: Some(target.endpoint.clone()),
        allow_http: true,
        prefix: prefix.to_owned(),
        ..S3Config::new(&target.bucket, &target.access_key, &target.secret_key)
    }
}

/// The server of this test: the environment's, or a fresh one kept alive by the returned guard.
pub(crate) fn target() -> (Target, Option<OwnServer>) {
    match env_target() {
        Some(target) => (target, None),
        None => {
            let (target, server) = start_server();
            (target, Some(server))
        }
    }
}

/// Pending multipart uploads in an s3s-fs data directory.
fn pending_uploads(data: &Path) -> Vec<String> {
    std::fs::read_dir(data)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with(".upload"))
                .map(|name| format!("pending multipart upload file {name}"))
                .collect()
        })
        .unwrap_or_default()
}

/// The conformance harness on a fresh prefix.
pub(crate) async fn harness() -> Harness {
    let (target, server) = target();
    let config = config(&target, &unique_prefix("c"));
    let store = S3Store::new(config.clone()).expect("store");
    // An independent client for `leftovers`: what is in the bucket, whatever the store believes.
    let raw = Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&target.endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region("us-east-1")
            .with_bucket_name(&target.bucket)
            .with_access_key_id(&target.access_key)
            .with_secret_access_key(&target.secret_key)
            .build()
            .expect("raw client"),
    );
    let prefix = config.prefix.clone();
    let data_dir = server.as_ref().map(|s| s.data.clone());
    Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            let config = config.clone();
            async move { Arc::new(S3Store::new(config).expect("reopen")) as Arc<dyn BlobStore> }
                .boxed()
        }),
        leftovers: Box::new(move || {
            let (raw, prefix, data_dir) = (raw.clone(), prefix.clone(), data_dir.clone());
            async move {
                let blobs = format!("{prefix}/blobs/");
                let mut left: Vec<String> = raw
                    .list(Some(&prefix.as_str().into()))
                    .map_ok(|meta| meta.location.to_string())
                    .try_collect::<Vec<_>>()
                    .await
                    .expect("list the test's prefix")
                    .into_iter()
                    // Committed blobs are the store's `list`'s business; anything else is not.
                    .filter(|key| !key.starts_with(&blobs))
                    .collect();
                if let Some(data) = data_dir {
                    left.extend(pending_uploads(&data));
                }
                left
            }
            .boxed()
        }),
        guard: Box::new(server),
    }
}
