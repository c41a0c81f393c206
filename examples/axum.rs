//! berth inside an axum app: the OCI registry at `/v2/` and the web console at `/`, over one
//! in-memory engine with a public repository `demo`. Every registry request acts as the system
//! administrator (an app with its own authentication inserts each caller's `Principal` instead).
//!
//! `cargo run -p berth-examples --example axum -- 127.0.0.1:5000`, then
//! `skopeo copy --dest-tls-verify=false oci-archive:app.tar docker://127.0.0.1:5000/demo/app:1`.

use axum::{Extension, Router};
use berth_console::{Console, ConsoleConfig};
use berth_core::Registry;
use berth_v2::{Principal, V2};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let registry = Registry::in_memory(&["demo".parse()?]).await?;
    let app = Router::new()
        .nest_service("/v2", V2::new(registry.clone()).nested())
        .fallback_service(Console::new(registry, ConsoleConfig::default()))
        .layer(Extension(Principal::SystemAdmin));
    let address = std::env::args().nth(1).unwrap_or("127.0.0.1:5000".into());
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("listening on {}", listener.local_addr()?);
    Ok(axum::serve(listener, app).await?)
}
