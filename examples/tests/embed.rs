//! The embedding example, over real HTTP on loopback: a blob goes up in a chunked upload and
//! comes back byte for byte, and a manifest round-trips.

use berth_model::Digest;
use berth_policy::Principal;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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
async fn an_embedded_registry_serves_pushes_and_pulls() {
    let (listener, addr) = berth_examples::loopback().await.unwrap();
    let server = tokio::spawn(berth_examples::serve(
        listener,
        "demo",
        Principal::SystemAdmin,
    ));

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
    server.abort();
}
