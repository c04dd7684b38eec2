//! SIGTERM and SIGINT, handled in one place for every command that runs long (`scan`,
//! `daemon`): the first signal turns the shutdown flag true; what runs then stops starting new
//! work and finishes within its grace period.

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

/// The shutdown flag, turned true by the first SIGTERM or SIGINT, and the task that listens.
pub fn on_signal() -> (watch::Receiver<bool>, JoinHandle<()>) {
    let (stop, shutdown) = watch::channel(false);
    let listener = tokio::spawn(async move {
        signal().await;
        let _ = stop.send(true);
    });
    (shutdown, listener)
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "Cannot listen for SIGTERM; only SIGINT will stop orgwatch");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
