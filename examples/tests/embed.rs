//! The embedding examples, run as a user runs them (the programs `cargo test` builds beside the
//! tests), over real HTTP on loopback: a blob goes up in a chunked upload and comes back byte for
//! byte, and a manifest round-trips, through each; the axum app also serves the console.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_model::Digest;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A running example program, killed when dropped.
struct Example {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts example `name` on a free loopback port and waits until it listens.
async fn start(name: &str) -> Example {
    // The examples sit in `target/<profile>/examples/`, beside this test's `deps/` directory.
    let exe = std::env::current_exe().unwrap();
    let program: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        program.exists(),
        "{} is missing: `cargo test -p berth-examples` builds the examples",
        program.display()
    );
    // Port 0, and the example says which port it bound: no port is released by a probe and
    // taken by someone else in between.
    let mut child = Command::new(&program)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        // Drain the rest so the example never blocks on a full pipe.
        for _ in lines {}
    });
    let mut example = Example {
        child,
        addr: ([127, 0, 0, 1], 0).into(),
    };
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(Ok(line))) => line,
        Ok(_) => panic!(
            "example {name} exited before listening: {:?}",
            example.child.wait()
        ),
        Err(_) => panic!("example {name} did not listen within 60 s"),
    };
    example.addr = line
        .strip_prefix("listening on ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("example {name} printed {line:?}, not its address"));
    example
}

/// One HTTP/1.1 request on a fresh connection; returns status line, headers and body.
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, response[split + 4..].to_vec())
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        })
        .unwrap_or("")
}

/// Decodes a chunked transfer-encoded body (hyper streams blob reads that way).
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16)
                .unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hyper_example_serves_pushes_and_pulls() {
    let example = start("hyper").await;
    push_and_pull(example.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_example_serves_the_registry_nested_and_the_console() {
    let example = start("axum").await;
    push_and_pull(example.addr).await;
    let (status, head, body) = request(example.addr, "GET", "/", &[], b"").await;
    assert_eq!(status, 200);
    assert!(
        header(&head, "content-type").starts_with("text/html"),
        "{head}"
    );
    assert!(
        String::from_utf8_lossy(&body).contains("<html"),
        "the console page"
    );
    let (status, head, body) = request(example.addr, "GET", "/api/v1/repositories", &[], b"").await;
    assert_eq!(status, 401, "the management API wants a session");
    assert!(header(&head, "content-type").starts_with("application/json"));
    assert!(
        String::from_utf8_lossy(&body).contains("\"error\""),
        "{body:?}"
    );
    // axum hands the nested service `/v2` as an empty path: still the base endpoint.
    let (status, _, _) = request(example.addr, "GET", "/v2", &[], b"").await;
    assert_eq!(status, 200, "the base endpoint without its slash");
}

/// Pushes a layer in a chunked upload, reads it back, pushes a manifest and reads it back.
async fn push_and_pull(addr: SocketAddr) {
    let (status, head, _) = request(addr, "GET", "/v2/", &[], b"").await;
    assert_eq!(
        (status, header(&head, "docker-distribution-api-version")),
        (200, "registry/2.0")
    );

    let layer: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = Digest::sha256(&layer);
    let (status, head, _) = request(addr, "POST", "/v2/demo/app/blobs/uploads/", &[], b"").await;
    assert_eq!(status, 202);
    let location = header(&head, "location").to_owned();
    let (status, _, _) = request(
        addr,
        "PATCH",
        &location,
        &[("content-range", "0-99999")],
        &layer[..100_000],
    )
    .await;
    assert_eq!(status, 202);
    let (status, _, _) = request(
        addr,
        "PUT",
        &format!("{location}?digest={digest}"),
        &[],
        &layer[100_000..],
    )
    .await;
    assert_eq!(status, 201);

    let (status, head, body) = request(
        addr,
        "GET",
        &format!("/v2/demo/app/blobs/{digest}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    let body = if header(&head, "transfer-encoding") == "chunked" {
        dechunk(&body)
    } else {
        body
    };
    assert_eq!(
        Digest::sha256(&body),
        digest,
        "the blob comes back byte for byte"
    );

    let config = b"{}";
    let config_digest = Digest::sha256(config);
    let (status, _, _) = request(
        addr,
        "POST",
        &format!("/v2/demo/app/blobs/uploads/?digest={config_digest}"),
        &[],
        config,
    )
    .await;
    assert_eq!(status, 201);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{digest}","size":{}}}]}}"#,
        layer.len()
    );
    let ct = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
    let (status, head, _) = request(
        addr,
        "PUT",
        "/v2/demo/app/manifests/latest",
        &ct,
        manifest.as_bytes(),
    )
    .await;
    assert_eq!(
        (status, header(&head, "docker-content-digest")),
        (201, Digest::sha256(manifest.as_bytes()).as_str())
    );
    let (status, _, body) = request(addr, "GET", "/v2/demo/app/manifests/latest", &[], b"").await;
    assert_eq!((status, body), (200, manifest.into_bytes()));
}
