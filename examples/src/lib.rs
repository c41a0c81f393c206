//! Embedding berth in another Rust service.
//!
//! [`serve`] is the whole of it: an engine over in-memory backends, the v2 protocol over the
//! engine, and hyper serving it. The embedder decides who the caller is (here, one principal for
//! every request, as a service with its own authentication in front would); the `embed` example
//! runs it (`cargo run -p berth-examples --example embed`), and the tests push and pull through it
//! over real HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use berth_core::{Registry, RegistryConfig};
use berth_meta::{Access, AccountId, MemoryMetadata, MetadataStore, NewRepository, Timestamp};
use berth_model::RepositoryName;
use berth_policy::Principal;
use berth_storage::MemoryStore;
use berth_v2::V2;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Creates repository `repository` (public) in a fresh in-memory registry and serves the v2
/// protocol on `listener`, treating every caller as `principal`. Runs until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    repository: &str,
    principal: Principal,
) -> std::io::Result<()> {
    let name = RepositoryName::parse(repository).map_err(std::io::Error::other)?;
    let meta = Arc::new(MemoryMetadata::new());
    let setup = async {
        meta.create_account(AccountId(1), "embedded", Timestamp::now())
            .await?;
        let new = NewRepository {
            account: AccountId(1),
            name,
            access: Access::Public,
            quota: None,
            delete_orphan_referrers: true,
        };
        meta.create_repository(new, "embedder", Timestamp::now())
            .await
    };
    setup.await.map_err(std::io::Error::other)?;
    let registry = Registry::new(
        Arc::new(MemoryStore::new()),
        meta,
        RegistryConfig::default(),
    );
    let v2 = V2::new(Arc::new(registry));
    let principal = Arc::new(principal);
    loop {
        let (stream, _) = listener.accept().await?;
        let (v2, principal) = (v2.clone(), principal.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (v2, principal) = (v2.clone(), principal.clone());
                async move { Ok::<_, std::convert::Infallible>(v2.handle(&principal, request).await) }
            });
            // A connection that fails only ends itself.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds a loopback port the system picks.
pub async fn loopback() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
