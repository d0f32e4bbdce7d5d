//! Stopping on the operating system's word, the command line's front of cancellation: the first
//! Ctrl-C (SIGINT), SIGTERM or SIGHUP on Unix (Ctrl-C, Ctrl-Break, closing the console or shutting
//! down on Windows) cancels the job, which lets the requests in flight end and their lines be
//! written; a second one quits at once. The jobs and the engine only ever see the cancellation.

use tokio_util::sync::CancellationToken;

use super::Log;
use crate::exit::Exit;

/// Watches the signals while a job runs; dropping it stops watching.
pub struct SignalWatch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Installs the signal handlers at once (not when a task first runs), so a signal that comes
/// before the first request is sent is already the job's to handle; the first cancels `cancel`
/// and says so through `log`, the second ends the process with exit code 130.
pub fn watch(cancel: &CancellationToken, log: &Log) -> SignalWatch {
    #[cfg(windows)]
    keep_claimed();
    let mut signals = Signals::new();
    let (cancel, log) = (cancel.clone(), log.clone());
    let task = tokio::spawn(async move {
        signals.next().await;
        cancel.cancel();
        log.notice(
            "growatt-onboard: stopping: no new requests; waiting for those in flight (Ctrl-C again to quit at once)",
        );
        signals.next().await;
        // Every line written so far went out whole in one write; nothing half-written remains.
        // This is the one exit outside `main`: a second Ctrl-C must not wait for anything.
        std::process::exit(i32::from(Exit::Interrupted.code()));
    });
    SignalWatch { task }
}

/// On Windows a console event that finds no listener goes to the system's default handler,
/// which ends the process at once (under Wine with exit code 0). A second Ctrl-C can come just
/// after the run's own watcher has ended, while the results are synced and the summary written
/// (a `timeout` or a terminal sends the signal to the process and to its group): one listener per
/// event stays for the life of the process, so such a late event is the tool's and is let pass.
/// On Unix the handlers tokio installs stay for the life of the process already.
#[cfg(windows)]
fn keep_claimed() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use tokio::signal::windows as w;
        if let Ok(s) = w::ctrl_c() {
            std::mem::forget(s);
        }
        if let Ok(s) = w::ctrl_break() {
            std::mem::forget(s);
        }
        if let Ok(s) = w::ctrl_close() {
            std::mem::forget(s);
        }
        if let Ok(s) = w::ctrl_shutdown() {
            std::mem::forget(s);
        }
        if let Ok(s) = w::ctrl_logoff() {
            std::mem::forget(s);
        }
    });
}

/// The signal streams, created once: a fresh stream per wait would miss a second Ctrl-C that
/// arrives before it is first polled.
#[cfg(unix)]
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
            hangup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = when(self.interrupt.as_mut().map(|s| s.recv())) => {}
            _ = when(self.terminate.as_mut().map(|s| s.recv())) => {}
            _ = when(self.hangup.as_mut().map(|s| s.recv())) => {}
        }
    }
}

#[cfg(windows)]
struct Signals {
    ctrl_c: Option<tokio::signal::windows::CtrlC>,
    ctrl_break: Option<tokio::signal::windows::CtrlBreak>,
    close: Option<tokio::signal::windows::CtrlClose>,
    shutdown: Option<tokio::signal::windows::CtrlShutdown>,
    logoff: Option<tokio::signal::windows::CtrlLogoff>,
}

#[cfg(windows)]
impl Signals {
    fn new() -> Signals {
        use tokio::signal::windows as w;
        Signals {
            ctrl_c: w::ctrl_c().ok(),
            ctrl_break: w::ctrl_break().ok(),
            close: w::ctrl_close().ok(),
            shutdown: w::ctrl_shutdown().ok(),
            logoff: w::ctrl_logoff().ok(),
        }
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = when(self.ctrl_c.as_mut().map(|s| s.recv())) => {}
            _ = when(self.ctrl_break.as_mut().map(|s| s.recv())) => {}
            _ = when(self.close.as_mut().map(|s| s.recv())) => {}
            _ = when(self.shutdown.as_mut().map(|s| s.recv())) => {}
            _ = when(self.logoff.as_mut().map(|s| s.recv())) => {}
        }
    }
}

/// One signal stream's next event; never, when the stream could not be made.
async fn when(next: Option<impl std::future::Future<Output = Option<()>>>) {
    match next {
        Some(next) => {
            next.await;
        }
        None => std::future::pending().await,
    }
}
