//! An in-memory OCI registry in a few lines: `cargo run -p berth-examples --example embed`, then
//! push to `127.0.0.1:PORT/demo/<image>` (plain HTTP) with skopeo, podman or oras.

use berth_policy::Principal;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (listener, addr) = berth_examples::loopback().await?;
    eprintln!("serving repository `demo` on http://{addr}/v2/ (everyone is administrator here)");
    berth_examples::serve(listener, "demo", Principal::SystemAdmin).await
}
