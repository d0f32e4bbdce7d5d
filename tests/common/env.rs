//! [`TestEnv`]: one test's world.

use std::ffi::OsStr;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::{
    read_results, start_sim, summary_of, write, Bin, Line, Running, SimConfig, SimServer,
    DEFAULT_TOKEN,
};

/// One test's world: a temporary folder (removed with the value), the fleet file in it and the
/// results path the tool derives from it, and the server the runs go to (the simulator unless
/// the test points them elsewhere).
pub struct TestEnv {
    dir: tempfile::TempDir,
    sim: Option<SimServer>,
    token: String,
    in_dir: bool,
    /// The fleet file, `f.csv` unless [`TestEnv::named`] says otherwise.
    pub fleet: PathBuf,
    /// The results file the tool writes for [`TestEnv::fleet`] by default.
    pub results: PathBuf,
}

impl TestEnv {
    /// A world without a server.
    pub fn offline() -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        let fleet = dir.path().join("f.csv");
        let results = dir.path().join("f.results.csv");
        TestEnv {
            dir,
            sim: None,
            token: DEFAULT_TOKEN.to_string(),
            in_dir: false,
            fleet,
            results,
        }
    }

    /// A world with a simulator configured as `cfg`.
    pub async fn start(cfg: SimConfig) -> TestEnv {
        let mut env = TestEnv::offline();
        env.sim = Some(start_sim(cfg).await);
        env
    }

    /// A world with the default simulator.
    pub async fn start_default() -> TestEnv {
        TestEnv::start(SimConfig::default()).await
    }

    /// A world with the default simulator holding `fixture`.
    pub async fn start_fixture(fixture: growatt_sim::Fixture) -> TestEnv {
        TestEnv::start(super::with_fixture(fixture)).await
    }

    /// A world whose simulator, configured as `cfg` otherwise, holds `n` fresh devices
    /// ([`super::big_world`]), with the fleet of them written.
    pub async fn big_world(n: usize, cfg: SimConfig) -> TestEnv {
        let (fixture, fleet) = super::big_world(n);
        let env = TestEnv::start(SimConfig { fixture, ..cfg }).await;
        env.with_fleet(fleet)
    }

    /// The fleet file is `name` (and the results `<stem>.results.csv`).
    pub fn named(mut self, name: &str) -> TestEnv {
        let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
        self.results = self.dir.path().join(format!("{stem}.results.csv"));
        self.fleet = self.dir.path().join(name);
        self
    }

    /// Runs use this token rather than the simulator's.
    pub fn with_token(mut self, token: &str) -> TestEnv {
        self.token = token.to_string();
        self
    }

    /// Runs start in the temporary folder rather than the package's, so anything a run leaves
    /// in its working folder shows there.
    pub fn run_in_dir(mut self) -> TestEnv {
        self.in_dir = true;
        self
    }

    /// Writes the fleet file.
    pub fn with_fleet(self, text: impl AsRef<[u8]>) -> TestEnv {
        self.set_fleet(text);
        self
    }

    /// Writes (or rewrites) the fleet file.
    pub fn set_fleet(&self, text: impl AsRef<[u8]>) {
        std::fs::write(&self.fleet, text).unwrap();
    }

    /// The temporary folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the folder.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        write(self.dir.path(), name, content)
    }

    /// The simulator.
    pub fn sim(&self) -> &SimServer {
        self.sim.as_ref().expect("this world has a simulator")
    }

    /// Stops the simulator, as a server that goes away.
    pub async fn stop_sim(&mut self) {
        self.sim
            .take()
            .expect("a simulator to stop")
            .shutdown()
            .await;
    }

    /// The simulator's base URL.
    pub fn base(&self) -> String {
        self.sim().base_url()
    }

    /// The binary with `args`, this world's token and working folder.
    pub fn bin<S: AsRef<OsStr>>(&self, args: &[S]) -> Bin {
        let bin = Bin::new(args).token(Some(&self.token));
        match self.in_dir {
            true => bin.cwd(self.dir()),
            false => bin,
        }
    }

    /// `run FLEET --base-url BASE` and `extra`, as a command to adjust before it runs.
    pub fn run_cmd_at(&self, base: &str, extra: &[&str]) -> Bin {
        let mut args = vec!["run", super::arg(&self.fleet), "--base-url", base];
        args.extend_from_slice(extra);
        self.bin(&args)
    }

    /// `run FLEET --base-url BASE` and `extra`. (The commands here are built before they are
    /// awaited, so their arguments may be temporaries.)
    pub fn run_at(&self, base: &str, extra: &[&str]) -> impl Future<Output = Output> {
        self.run_cmd_at(base, extra).output()
    }

    /// `run FLEET --base-url <the simulator>` and `extra`.
    pub fn run(&self, extra: &[&str]) -> impl Future<Output = Output> {
        self.run_at(&self.base(), extra)
    }

    /// [`TestEnv::run`] started in the background.
    pub fn spawn_run(&self, extra: &[&str]) -> Running {
        self.run_cmd_at(&self.base(), extra).spawn()
    }

    /// `check FLEET` and `extra`, as a command to adjust before it runs.
    pub fn check_cmd(&self, extra: &[&str]) -> Bin {
        let mut args = vec!["check", super::arg(&self.fleet)];
        args.extend_from_slice(extra);
        self.bin(&args)
    }

    /// [`TestEnv::check_cmd`], run to its end.
    pub fn check(&self, extra: &[&str]) -> impl Future<Output = Output> {
        self.check_cmd(extra).output()
    }

    /// `verify RESULTS --base-url <the simulator>` and `extra`.
    pub fn verify(&self, extra: &[&str]) -> impl Future<Output = Output> {
        let base = self.base();
        let mut args = vec!["verify", super::arg(&self.results), "--base-url", &base];
        args.extend_from_slice(extra);
        self.bin(&args).output()
    }

    /// The account cache folder runs of this world use: `cache` in the folder.
    pub fn cache_dir(&self) -> PathBuf {
        self.path("cache")
    }

    /// `account CMD --cache <the world's cache folder> --base-url BASE` and `extra`, as a
    /// command to adjust before it runs.
    pub fn account_at(&self, cmd: &str, base: &str, extra: &[&str]) -> Bin {
        let cache = self.cache_dir();
        let mut args = vec![
            "account",
            cmd,
            "--cache",
            super::arg(&cache),
            "--base-url",
            base,
        ];
        args.extend_from_slice(extra);
        self.bin(&args)
    }

    /// [`TestEnv::account_at`] the simulator, run to its end.
    pub fn account(&self, cmd: &str, extra: &[&str]) -> impl Future<Output = Output> {
        self.account_at(cmd, &self.base(), extra).output()
    }

    /// `report RESULTS` and `extra`.
    pub fn report(&self, extra: &[&str]) -> impl Future<Output = Output> {
        let mut args = vec!["report", super::arg(&self.results)];
        args.extend_from_slice(extra);
        self.bin(&args).output()
    }

    /// The results file's lines.
    pub fn lines(&self) -> Vec<Line> {
        read_results(&self.results)
    }

    /// The latest results line per row number.
    pub fn latest(&self) -> std::collections::HashMap<u64, Line> {
        super::latest_by_row(&self.lines())
    }

    /// The summary beside the results.
    pub fn summary(&self) -> serde_json::Value {
        summary_of(&self.results)
    }
}
