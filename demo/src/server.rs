//! Starting and stopping the shop: it serves on its own task until shut down.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::DemoOptions;
use crate::faults::Faults;
use crate::state::Shop;

/// The shop's usual address, the one the example configuration points at.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8081));

/// How long a shutdown waits for requests in flight before it cuts them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A shop serving on its own task. Dropping it stops the shop too, without waiting.
#[derive(Debug)]
pub struct RunningShop {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

/// Starts a freshly seeded shop on `addr`; port 0 picks a free port ([`RunningShop::local_addr`]
/// tells which). The shop has no real security (its passwords are public): give it a loopback
/// address such as `127.0.0.1`. Fails when the address cannot be bound.
pub async fn start(addr: SocketAddr, options: DemoOptions) -> io::Result<RunningShop> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let shop = Shop::new(Faults::new(&options));
    crate::seed::seed(&shop);
    let router = crate::api::router(Arc::new(shop));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                // A send and a dropped sender both mean: stop.
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningShop {
        local_addr,
        stop: Some(stop),
        task,
    })
}

impl RunningShop {
    /// The address the shop listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDRESS:PORT`, without a trailing slash: the `base_url` for workflows.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting connections, lets requests in flight finish (for at most a few
    /// seconds), and returns once the shop has stopped.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await {
            Ok(Ok(served)) => served,
            Ok(Err(join)) => Err(io::Error::other(join)),
            Err(_) => {
                self.task.abort();
                Ok(())
            }
        }
    }
}
