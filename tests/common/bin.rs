//! The real binary, run to its end or started in the background.

use std::ffi::OsStr;
use std::future::Future;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::DEFAULT_TOKEN;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_growatt-onboard");

/// Longest one run of the binary may take before the test calls it hung (and kills it).
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Proxy variables of the test's own environment, which no run inherits.
const PROXY_VARS: [&str; 4] = ["http_proxy", "https_proxy", "all_proxy", "no_proxy"];

/// One invocation of the binary: the simulator's token in GROWATT_TOKEN, no terminal, none of the
/// test's own proxy or log settings; killed when the test drops it.
pub struct Bin(Command);

impl Bin {
    /// The binary with these arguments.
    pub fn new<I, S>(args: I) -> Bin
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("GROWATT_TOKEN", DEFAULT_TOKEN)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for var in PROXY_VARS {
            cmd.env_remove(var).env_remove(var.to_uppercase());
        }
        Bin(cmd)
    }

    /// More arguments.
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Bin {
        self.0.args(args);
        self
    }

    /// Another token, or none at all.
    pub fn token(mut self, token: Option<&str>) -> Bin {
        match token {
            Some(t) => self.0.env("GROWATT_TOKEN", t),
            None => self.0.env_remove("GROWATT_TOKEN"),
        };
        self
    }

    /// One more environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Bin {
        self.0.env(key, value);
        self
    }

    /// One environment variable fewer.
    pub fn env_remove(mut self, key: &str) -> Bin {
        self.0.env_remove(key);
        self
    }

    /// Runs in `dir` rather than the package's folder.
    pub fn cwd(mut self, dir: &Path) -> Bin {
        self.0.current_dir(dir);
        self
    }

    /// Starts with stdout and stderr piped, for [`finish`].
    pub fn start(mut self) -> Child {
        self.0
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts")
    }

    /// Runs to the end and collects stdout and stderr; fails the test after [`RUN_LIMIT`].
    pub async fn output(self) -> Output {
        finish(self.start()).await
    }

    /// Runs to the end like [`Bin::output`] and times it; with `measure`, samples its peak
    /// memory while it runs.
    pub async fn timed(self, measure: bool) -> Ran {
        let started = Instant::now();
        let child = self.start();
        let pid = child.id().expect("a running child has a pid");
        let done = CancellationToken::new();
        let poller = measure.then(|| tokio::spawn(peak_memory(pid, done.clone())));
        let out = finish(child).await;
        let elapsed = started.elapsed();
        done.cancel();
        let peak_rss_kib = match poller {
            Some(p) => p.await.unwrap(),
            None => None,
        };
        Ran {
            out,
            elapsed,
            peak_rss_kib,
        }
    }

    /// Starts in the background; stderr is collected as it arrives, so the test can wait for a
    /// message.
    pub fn spawn(mut self) -> Running {
        let mut child = self
            .0
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let err = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = err.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                sink.lock().unwrap().push_str(&text);
            }
        });
        Running { child, err }
    }
}

/// Waits for a [`Bin::start`]ed run to end and collects its output; fails the test after
/// [`RUN_LIMIT`].
pub async fn finish(child: Child) -> Output {
    tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .expect("the binary ended by itself")
        .expect("the binary runs")
}

/// A run of the binary that [`Bin::timed`] watched.
pub struct Ran {
    /// What it printed, and how it ended.
    pub out: Output,
    /// How long it took.
    pub elapsed: Duration,
    /// Peak resident memory of the process (VmHWM), in KiB, when it was sampled at all.
    pub peak_rss_kib: Option<u64>,
}

/// Samples the peak memory of process `pid` (Linux's /proc) every few milliseconds until `done`.
async fn peak_memory(pid: u32, done: CancellationToken) -> Option<u64> {
    let mut peak: Option<u64> = None;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if hwm.is_some() {
                peak = peak.max(hwm);
            }
        }
        tokio::select! {
            _ = done.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(3)) => {}
        }
    }
    peak
}

/// Runs the binary with `args` and the simulator's token.
pub fn run_bin<S: AsRef<OsStr>>(args: &[S]) -> impl Future<Output = Output> {
    Bin::new(args).output()
}

/// Runs the binary with `args` and no token in the environment.
pub fn run_no_token<S: AsRef<OsStr>>(args: &[S]) -> impl Future<Output = Output> {
    Bin::new(args).token(None).output()
}

/// Runs the binary with `args`, no token, and these environment changes (`None` removes a
/// variable).
pub fn run_bin_env(args: &[&str], env: &[(&str, Option<&str>)]) -> impl Future<Output = Output> {
    let mut bin = Bin::new(args).token(None);
    for (key, value) in env {
        bin = match value {
            Some(v) => bin.env(key, v),
            None => bin.env_remove(key),
        };
    }
    bin.output()
}

/// A run in the background, killed when the test drops it.
pub struct Running {
    child: Child,
    err: Arc<Mutex<String>>,
}

impl Running {
    /// What the run wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Sends a signal (`-INT`, `-TERM`, ...) with the system's `kill` command.
    #[cfg(unix)]
    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("the child is still running");
        let pid = pid.to_string();
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {sig} {pid}");
    }

    /// Sends `sig` and waits for the end, which must be exit 130 (interrupted); returns what the
    /// run wrote to stderr.
    #[cfg(unix)]
    pub async fn interrupt(&mut self, sig: &str) -> String {
        self.signal(sig);
        let status = self.wait().await;
        let err = self.stderr();
        assert_eq!(status.code(), Some(130), "{sig}: {err}");
        err
    }

    /// The exit status once the run has ended; `None` while it runs.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for the end; fails the test with `what` when it takes longer than `limit`.
    pub async fn wait_within(&mut self, limit: Duration, what: &str) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{what}: still running after {limit:?}"))
            .unwrap()
    }

    /// Waits for the end, at most [`RUN_LIMIT`].
    pub async fn wait(&mut self) -> ExitStatus {
        self.wait_within(RUN_LIMIT, "the run").await
    }

    /// Kills the run with SIGKILL and waits until it is gone.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }
}
