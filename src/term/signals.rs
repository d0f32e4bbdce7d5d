//! Stopping on the operating system's word, the command line's front of cancellation: the first
//! Ctrl-C (SIGINT), SIGTERM or SIGHUP on Unix (Ctrl-C, Ctrl-Break, closing the console or shutting
//! down on Windows) cancels the job, which lets the requests in flight end and their lines be
//! written; a second one quits at once. The jobs and the engine only ever see the cancellation.

use futures::future::BoxFuture;
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
    ONCE.call_once(|| std::mem::forget(Signals::new()));
}

/// One kind of signal, listened for: its next event, `None` once it can give no more.
trait Listener: Send {
    fn recv(&mut self) -> BoxFuture<'_, Option<()>>;
}

/// Each listener type of the platform, a [`Listener`] through its own `recv`.
macro_rules! listeners {
    ($($ty:ty),+) => {$(
        impl Listener for $ty {
            fn recv(&mut self) -> BoxFuture<'_, Option<()>> {
                Box::pin(<$ty>::recv(self))
            }
        }
    )+};
}

#[cfg(unix)]
listeners!(tokio::signal::unix::Signal);
#[cfg(windows)]
listeners!(
    tokio::signal::windows::CtrlC,
    tokio::signal::windows::CtrlBreak,
    tokio::signal::windows::CtrlClose,
    tokio::signal::windows::CtrlShutdown,
    tokio::signal::windows::CtrlLogoff
);

/// The signal listeners, made once: a fresh one per wait would miss a second Ctrl-C that
/// arrives before it is first polled. One that could not be made is left out.
struct Signals(Vec<Box<dyn Listener>>);

impl Signals {
    #[cfg(unix)]
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let kinds = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
        ];
        let made = kinds.into_iter().map(|kind| signal(kind).map(boxed));
        Signals(made.filter_map(Result::ok).collect())
    }

    #[cfg(windows)]
    fn new() -> Signals {
        use tokio::signal::windows as w;
        let made = [
            w::ctrl_c().map(boxed),
            w::ctrl_break().map(boxed),
            w::ctrl_close().map(boxed),
            w::ctrl_shutdown().map(boxed),
            w::ctrl_logoff().map(boxed),
        ];
        Signals(made.into_iter().filter_map(Result::ok).collect())
    }

    /// The next event of any listener; never, when there is none.
    async fn next(&mut self) {
        if self.0.is_empty() {
            return std::future::pending().await;
        }
        futures::future::select_all(self.0.iter_mut().map(|l| l.recv())).await;
    }
}

fn boxed(listener: impl Listener + 'static) -> Box<dyn Listener> {
    Box::new(listener)
}
