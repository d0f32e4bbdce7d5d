//! Resolved settings: every choice about rate, retries, paths, token and terminal made once,
//! from the command line (or, for `demo`, from the command line it would type).

use crate::account::Screen;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::{resolve_base, Client, ClientError, Region, Token};
use crate::cli::{InputArgs, LogFormat, OutputArgs, RequestArgs, RunArgs, ServerArgs, VerifyArgs};
use crate::engine::{EngineConfig, RetryPolicy};
use crate::exit::Exit;
use crate::input::{InputError, ReadOptions};
use crate::journal::ResultsError;
use crate::paths::Paths;
use crate::ui::{Log, Mode};
use crate::units::Rate;

/// A setting that makes the run impossible before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No token in the environment and no --token-file.
    #[error("GROWATT_TOKEN is not set; export it or pass --token-file")]
    NoToken,
    /// The token file cannot be read.
    #[error("cannot read the token file {path}: {}", crate::text::io_reason(.source))]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The token's text cannot be used.
    #[error("{origin}: {why}")]
    BadToken {
        /// Where the token came from.
        origin: String,
        /// What is wrong (never the token itself).
        why: &'static str,
    },
    /// The server settings are wrong.
    #[error(transparent)]
    Server(#[from] ClientError),
    /// A flag's value cannot be used.
    #[error("{0}")]
    Usage(String),
}

impl ConfigError {
    /// A bad flag value is a usage error (2); anything else (no token, an unreadable token
    /// file) is fatal (1).
    pub fn exit(&self) -> Exit {
        match self {
            ConfigError::Usage(_) | ConfigError::Server(ClientError::BaseUrl(_)) => Exit::Usage,
            _ => Exit::Fatal,
        }
    }
}

/// How the run talks to the person or the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ui {
    /// Show progress at all (not quiet, not --no-progress).
    pub progress: bool,
    /// Stderr is a terminal: a bar; otherwise plain lines every `progress_interval`.
    pub terminal: bool,
    /// How often the plain progress line prints when stderr is not a terminal.
    pub progress_interval: Duration,
    /// Only errors and the final summary line.
    pub quiet: bool,
    /// 0 normal, 1 per row, 2 per request.
    pub verbose: u8,
    /// One JSON object per line on stderr.
    pub log_json: bool,
}

impl Ui {
    /// Decides once from the flags and whether stderr is a terminal.
    pub fn from_args(o: &OutputArgs) -> Ui {
        Ui {
            progress: !o.no_progress && !o.quiet,
            terminal: std::io::stderr().is_terminal(),
            progress_interval: o.progress_interval,
            quiet: o.quiet,
            verbose: o.verbose,
            log_json: o.log_format == LogFormat::Json,
        }
    }

    /// The emitter of stderr lines these settings call for: text lines carry the time when
    /// stderr is not a terminal (a log file collects many runs).
    pub fn log(&self) -> Log {
        Log::with_timestamps(self.log_json, !self.terminal)
    }

    /// The progress display this calls for.
    pub fn progress_mode(&self) -> Mode {
        match (self.progress, self.terminal && !self.log_json) {
            (false, _) => Mode::Hidden,
            (true, true) => Mode::Bar,
            (true, false) => Mode::Lines(self.progress_interval),
        }
    }
}

/// How every command that calls the API sends: where, with which token, at what pace, with
/// which retries and limits.
#[derive(Debug, Clone)]
pub struct RequestConfig {
    /// The server's base URL.
    pub base: reqwest::Url,
    /// The API key.
    pub token: Token,
    /// Per-request limit.
    pub timeout: Duration,
    /// The allowed pace, retries included.
    pub rate: Rate,
    /// Most requests in flight.
    pub concurrency: usize,
    /// What each answer means, and the backoff.
    pub policy: RetryPolicy,
    /// The cooldown after a 10012 answer: the refused row is sent again this long after.
    pub throttle_pause: Duration,
    /// Stop starting requests after this long.
    pub max_runtime: Option<Duration>,
}

impl RequestConfig {
    /// Resolves the request and server flags; the token from `token_env` (the GROWATT_TOKEN
    /// value) or the token file.
    pub fn from_args(
        request: &RequestArgs,
        server: &ServerArgs,
        token_env: Option<&str>,
    ) -> Result<RequestConfig, ConfigError> {
        Ok(RequestConfig {
            token: resolve_token(server, token_env)?,
            base: resolve_server(server)?,
            timeout: Duration::from_secs_f64(request.timeout),
            rate: request.rate,
            concurrency: request.concurrency as usize,
            policy: RetryPolicy {
                max_attempts: request.max_attempts,
                retry_codes: request.retry_codes.clone(),
                backoff_base: request.backoff,
                backoff_cap: Duration::from_secs(60).max(request.backoff),
            },
            throttle_pause: request.throttle_pause,
            max_runtime: request.max_runtime,
        })
    }

    /// The HTTP client these settings describe.
    pub fn client(&self) -> Result<Client, ClientError> {
        Client::new(
            self.base.clone(),
            self.token.clone(),
            self.timeout,
            self.concurrency,
        )
    }

    /// The request machinery's settings; `ui` decides what it announces.
    pub fn engine(&self, ui: &Ui) -> EngineConfig {
        EngineConfig {
            concurrency: self.concurrency,
            policy: self.policy.clone(),
            rate: self.rate,
            throttle_pause: self.throttle_pause,
            max_runtime: self.max_runtime,
            announce: !ui.quiet,
            explain: !ui.quiet && ui.verbose >= 1,
            trace_requests: ui.verbose >= 2,
        }
    }
}

/// Everything `run` needs, resolved.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The fleet file.
    pub input: PathBuf,
    /// The results file and its sidecars.
    pub paths: Paths,
    /// How requests are sent.
    pub request: RequestConfig,
    /// Set the old results aside first.
    pub restart: bool,
    /// Column names and sheet.
    pub read: ReadOptions,
    /// Output control.
    pub ui: Ui,
    /// With `--account`: the account screen rows pass before any add.
    pub account: Option<Screen>,
}

impl RunConfig {
    /// Resolves `run`'s arguments; the token from `token_env` (the GROWATT_TOKEN value) or the
    /// token file.
    pub fn from_args(args: &RunArgs, token_env: Option<&str>) -> Result<RunConfig, ConfigError> {
        let request = RequestConfig::from_args(&args.request, &args.server, token_env)?;
        Ok(RunConfig {
            input: args.input.input.clone(),
            paths: input_paths(&args.input),
            request,
            restart: args.restart,
            read: read_options(&args.input)?,
            ui: Ui::from_args(&args.output),
            account: None,
        })
    }
}

/// The results file and sidecars of a run or check on `input`.
pub fn input_paths(input: &InputArgs) -> Paths {
    Paths::of_input(&input.input, input.out.as_deref())
}

/// The read options the input flags describe.
pub fn read_options(input: &InputArgs) -> Result<ReadOptions, ConfigError> {
    if input.sheet.is_some() {
        // A file that cannot be opened is left for the reader, which says why.
        if let Ok(crate::input::Kind::Text) = crate::input::Kind::of(&input.input) {
            return Err(ConfigError::Usage(format!(
                "--sheet picks a sheet of a workbook (.xlsx, .xls, .ods), but {} is a CSV file, which has none; leave --sheet out",
                input.input.display()
            )));
        }
    }
    let mut options = ReadOptions {
        sheet: input.sheet.clone(),
        ..Default::default()
    };
    options
        .map_columns(&input.columns)
        .map_err(ConfigError::Usage)?;
    Ok(options)
}

/// Everything `verify` needs, resolved.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// The results file to read.
    pub results: PathBuf,
    /// The verify file to append to.
    pub out: PathBuf,
    /// How requests are sent.
    pub request: RequestConfig,
    /// Output control.
    pub ui: Ui,
    /// Ask where devices not linked sit (`--locate`).
    pub locate: bool,
}

impl VerifyConfig {
    /// Resolves `verify`'s arguments.
    pub fn from_args(args: &VerifyArgs, token_env: Option<&str>) -> Result<Self, ConfigError> {
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| Paths::of_results(&args.results).verify);
        Ok(VerifyConfig {
            results: args.results.clone(),
            out,
            request: RequestConfig::from_args(&args.request, &args.server, token_env)?,
            ui: Ui::from_args(&args.output),
            locate: args.locate,
        })
    }
}

/// The base URL from --base-url or --region.
pub fn resolve_server(server: &ServerArgs) -> Result<reqwest::Url, ConfigError> {
    let raw = server
        .base_url
        .as_deref()
        .unwrap_or(Region::from(server.region).base_url());
    Ok(resolve_base(raw)?)
}

/// The token from --token-file, else from the environment value given.
pub fn resolve_token(server: &ServerArgs, env: Option<&str>) -> Result<Token, ConfigError> {
    if let Some(path) = &server.token_file {
        let text = read_token_file(path)?;
        return Token::new(&text).map_err(|why| ConfigError::BadToken {
            origin: format!("token file {}", path.display()),
            why,
        });
    }
    match env {
        Some(v) if !v.trim().is_empty() => Token::new(v).map_err(|why| ConfigError::BadToken {
            origin: "GROWATT_TOKEN".into(),
            why,
        }),
        _ => Err(ConfigError::NoToken),
    }
}

/// Most bytes a token file may hold; a token is a few dozen characters.
const TOKEN_FILE_MAX: u64 = 4096;
/// How long a token file may take to give its text (a pipe from a password manager); a FIFO
/// nobody writes to would otherwise hang the command.
const TOKEN_FILE_WAIT: Duration = Duration::from_secs(5);

/// Reads at most [`TOKEN_FILE_MAX`] + 1 bytes, whatever the file is (`/dev/zero`, a pipe, a
/// device), and gives up after [`TOKEN_FILE_WAIT`].
fn read_token_file(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let bad = |why| ConfigError::BadToken {
        origin: format!("token file {}", path.display()),
        why,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = path.to_path_buf();
    // On a thread of its own: opening a FIFO blocks until a writer comes, and nothing can cut
    // that short; a thread left waiting ends with the process.
    std::thread::spawn(move || {
        let read = std::fs::File::open(&owned).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(TOKEN_FILE_MAX + 1).read_to_end(&mut bytes)?;
            Ok(bytes)
        });
        let _ = tx.send(read);
    });
    let bytes = match rx.recv_timeout(TOKEN_FILE_WAIT) {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(source)) => {
            return Err(ConfigError::TokenFile {
                path: path.to_path_buf(),
                source,
            })
        }
        Err(_) => {
            return Err(bad(
                "nothing came from it within 5 seconds (a pipe nobody writes to?)",
            ))
        }
    };
    if bytes.len() as u64 > TOKEN_FILE_MAX {
        return Err(bad("the file is larger than a token could be"));
    }
    String::from_utf8(bytes).map_err(|_| bad("the file is not text"))
}

/// A problem that ends the run before any row is sent.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The input cannot be used.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The results file cannot be used.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A flag's value cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The account cache cannot be read, written or filled.
    #[error("{0}")]
    Account(String),
}

impl RunError {
    /// Every such problem is fatal (1), but a bad flag value (2).
    pub fn exit(&self) -> Exit {
        match self {
            RunError::Config(e) => e.exit(),
            _ => Exit::Fatal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RegionArg;

    #[test]
    fn token_sources() {
        let server = ServerArgs {
            region: RegionArg::Eu,
            base_url: None,
            token_file: None,
        };
        assert!(matches!(
            resolve_token(&server, None),
            Err(ConfigError::NoToken)
        ));
        assert!(matches!(
            resolve_token(&server, Some("  ")),
            Err(ConfigError::NoToken)
        ));
        assert_eq!(
            resolve_token(&server, Some("abc\n")).unwrap().expose(),
            "abc"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        std::fs::write(&f, "filetoken\n").unwrap();
        let server = ServerArgs {
            token_file: Some(f),
            ..server
        };
        assert_eq!(
            resolve_token(&server, Some("env")).unwrap().expose(),
            "filetoken"
        );
        let server = ServerArgs {
            token_file: Some(dir.path().join("missing")),
            ..server
        };
        let e = resolve_token(&server, None).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
