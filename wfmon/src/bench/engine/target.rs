//! The local HTTP target: a minimal axum server on 127.0.0.1 answering `GET /` with 200 "ok".
//!
//! It runs in this process (it shares the machine's cores with what is measured) but on a
//! tokio runtime of its own, so that the CPU time of its threads can be read apart and taken
//! out of the per-check figures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::sync::oneshot;

use super::cpu;
use crate::exit::Failure;

/// Worker threads of the target's runtime.
const THREADS: usize = 2;

/// The running target. Dropping it stops the server.
pub struct Target {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    clocks: Arc<Mutex<Vec<libc::clockid_t>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Target {
    /// Starts the server on a free port of 127.0.0.1 and waits until it listens.
    pub fn start() -> Result<Target, Failure> {
        let clocks = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, listening) = std::sync::mpsc::channel();
        let thread_clocks = clocks.clone();
        let thread = std::thread::Builder::new()
            .name("bench-target".into())
            .spawn(move || serve(thread_clocks, stopped, ready))
            .map_err(|e| Failure::new(format!("cannot start the target's thread: {e}")))?;
        let addr = listening
            .recv()
            .map_err(|_| Failure::new("the target server stopped before listening"))?
            .map_err(|e| Failure::new(format!("cannot start the target server: {e}")))?;
        Ok(Target {
            base_url: format!("http://{addr}"),
            clocks,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// CPU time used so far by the target's threads.
    pub fn cpu(&self) -> Duration {
        self.clocks
            .lock()
            .expect("target clocks")
            .iter()
            .map(|&c| cpu::thread(c))
            .sum()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    clocks: Arc<Mutex<Vec<libc::clockid_t>>>,
    stopped: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<std::io::Result<std::net::SocketAddr>>,
) {
    let worker_clocks = clocks.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(THREADS)
        .thread_name("bench-target-worker")
        .on_thread_start(move || {
            if let Some(clock) = cpu::current_thread_clock() {
                worker_clocks.lock().expect("target clocks").push(clock);
            }
        })
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    // This thread only waits for the stop; it is counted too, for completeness.
    if let Some(clock) = cpu::current_thread_clock() {
        clocks.lock().expect("target clocks").push(clock);
    }
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(listener.local_addr());
        let app = Router::new().route("/", get(|| async { "ok" }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let _ = stopped.await;
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_ok_and_counts_its_cpu() {
        let target = Target::start().unwrap();
        let body = reqwest::get(format!("{}/", target.base_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "ok");
        assert!(target.cpu() > Duration::ZERO);
    }
}
