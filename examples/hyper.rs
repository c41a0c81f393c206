//! berth served by hyper directly: the OCI registry over an in-memory engine with a public
//! repository `demo`, every request acting as the system administrator.
//!
//! `cargo run -p berth-examples --example hyper -- 127.0.0.1:5000`, then push to
//! `127.0.0.1:5000/demo/<image>` over plain HTTP with skopeo, podman or oras.

use berth_core::Registry;
use berth_v2::{Principal, V2};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let registry = Registry::in_memory(&["demo".parse()?]).await?;
    let v2 = TowerToHyperService::new(V2::new(registry).with_principal(Principal::SystemAdmin));
    let address = std::env::args().nth(1).unwrap_or("127.0.0.1:5000".into());
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        // A failed accept (a connection reset while it queued, or out of file descriptors) is
        // that connection's problem, never the server's: report it, pause, and go on.
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                eprintln!("accept: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let http = hyper::server::conn::http1::Builder::new();
        tokio::spawn(http.serve_connection(TokioIo::new(stream), v2.clone()));
    }
}
