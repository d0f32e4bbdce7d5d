//! Resolved settings: every choice about rate, retries, paths, token and terminal made once.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::api::{self, Token};
use crate::cli::{OutputArgs, RequestArgs, RunArgs, ServerArgs};
use crate::policy::RetryPolicy;
use crate::results;

/// A pace: so many requests per unit of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests allowed per unit.
    pub count: f64,
    /// The unit.
    pub per: Duration,
}

impl Rate {
    /// Requests per second.
    pub fn per_second(self) -> f64 {
        self.count / self.per.as_secs_f64()
    }

    /// The time between two requests at this pace.
    pub fn period(self) -> Duration {
        self.per.div_f64(self.count)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl FromStr for Rate {
    type Err = String;

    /// `N/s`, `N/min`, `N/h` or `N` (per second); N may be fractional.
    fn from_str(s: &str) -> Result<Rate, String> {
        let s = s.trim();
        let (number, unit) = match s.split_once('/') {
            Some((n, u)) => (n.trim(), u.trim()),
            None => (s, "s"),
        };
        let per = match unit.to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => {
                return Err(format!(
                    "'{s}': the unit must be s, min or h (for example 2/s, 30/min, 500/h)"
                ))
            }
        };
        let count: f64 = number.parse().map_err(|_| {
            format!("'{s}': '{number}' is not a number (for example 2/s, 0.5/s, 30/min)")
        })?;
        if !count.is_finite() || count <= 0.0 {
            return Err(format!("'{s}': the rate must be above zero"));
        }
        let rate = Rate { count, per };
        if rate.period() < Duration::from_micros(10) {
            return Err(format!("'{s}': at most 100000 requests per second"));
        }
        if rate.period() > Duration::from_secs(24 * 3600) {
            return Err(format!("'{s}': at least one request per day"));
        }
        Ok(rate)
    }
}

/// Parses `90s`, `10m`, `2h`, `1h30m`, `500ms` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs).map_err(|e| format!("'{s}': {e}"));
    }
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("'{s}' is not a duration ({e}); for example 90s, 10m, 2h"))?;
    secs_to_duration(d.as_secs_f64()).map_err(|e| format!("'{s}': {e}"))
}

/// Parses a number of seconds, fractional allowed, above zero.
pub fn parse_secs(s: &str) -> Result<f64, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    secs_to_duration(secs)?;
    if secs == 0.0 {
        return Err("the time limit must be above zero".into());
    }
    Ok(secs)
}

fn secs_to_duration(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err("must be a number of seconds from 0 to 1e9".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a probability from 0 to 1.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("'{s}' must be from 0 to 1"));
    }
    Ok(p)
}

impl clap::builder::ValueParserFactory for Rate {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Rate>())
    }
}

/// A setting that makes the run impossible before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No token in the environment and no --token-file.
    #[error("GROWATT_TOKEN is not set; export it or pass --token-file")]
    NoToken,
    /// The token file cannot be read.
    #[error("cannot read the token file {path}: {source}")]
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
    Server(#[from] api::ClientError),
    /// A flag's value cannot be used.
    #[error("{0}")]
    Usage(String),
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
            log_json: o.log_format == crate::cli::LogFormat::Json,
        }
    }

    /// The progress display this calls for.
    pub fn progress_mode(&self) -> crate::progress::Mode {
        use crate::progress::Mode;
        match (self.progress, self.terminal && !self.log_json) {
            (false, _) => Mode::Hidden,
            (true, true) => Mode::Bar,
            (true, false) => Mode::Lines(self.progress_interval),
        }
    }
}

/// Everything `run` needs, resolved.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The fleet file.
    pub input: PathBuf,
    /// The results file.
    pub results: PathBuf,
    /// The summary JSON beside it.
    pub summary: PathBuf,
    /// The allowed pace, retries included.
    pub rate: Rate,
    /// Most requests in flight.
    pub concurrency: usize,
    /// What to do with each answer.
    pub policy: RetryPolicy,
    /// Per-request limit.
    pub timeout: Duration,
    /// The server's base URL.
    pub base: reqwest::Url,
    /// The API key.
    pub token: Token,
    /// Pause after a 10012 answer.
    pub throttle_pause: Duration,
    /// Stop starting rows after this long.
    pub max_runtime: Option<Duration>,
    /// Set the old results aside first.
    pub restart: bool,
    /// Column names and sheet.
    pub read: crate::input::ReadOptions,
    /// Output control.
    pub ui: Ui,
}

impl RunConfig {
    /// Resolves `run`'s arguments; reads the token from `token_env` (the GROWATT_TOKEN value) or
    /// the token file.
    pub fn from_args(args: &RunArgs, token_env: Option<String>) -> Result<RunConfig, ConfigError> {
        let token = resolve_token(&args.server, token_env)?;
        let base = resolve_server(&args.server)?;
        let results = args
            .input
            .out
            .clone()
            .unwrap_or_else(|| results::default_results_path(&args.input.input));
        Ok(RunConfig {
            input: args.input.input.clone(),
            summary: results::summary_path(&results),
            results,
            rate: args.request.rate,
            concurrency: args.request.concurrency as usize,
            policy: args.request.policy(),
            timeout: args.request.timeout(),
            base,
            token,
            throttle_pause: args.request.throttle_pause,
            max_runtime: args.request.max_runtime,
            restart: args.restart,
            read: args.input.read_options().map_err(ConfigError::Usage)?,
            ui: Ui::from_args(&args.output),
        })
    }
}

impl RequestArgs {
    /// The retry policy these flags describe.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            retry_codes: self.retry_codes.clone(),
            backoff_base: self.backoff,
            backoff_cap: Duration::from_secs(60).max(self.backoff),
        }
    }

    /// The per-request time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout)
    }
}

/// The base URL from --base-url or --region.
pub fn resolve_server(server: &ServerArgs) -> Result<reqwest::Url, ConfigError> {
    let raw = server
        .base_url
        .as_deref()
        .unwrap_or(server.region.base_url());
    Ok(api::resolve_base(raw)?)
}

/// The token from --token-file, else from the environment value given.
pub fn resolve_token(server: &ServerArgs, env: Option<String>) -> Result<Token, ConfigError> {
    if let Some(path) = &server.token_file {
        let text = read_token_file(path)?;
        return Token::new(&text).map_err(|why| ConfigError::BadToken {
            origin: format!("token file {}", path.display()),
            why,
        });
    }
    match env {
        Some(v) if !v.trim().is_empty() => Token::new(&v).map_err(|why| ConfigError::BadToken {
            origin: "GROWATT_TOKEN".into(),
            why,
        }),
        _ => Err(ConfigError::NoToken),
    }
}

fn read_token_file(path: &Path) -> Result<String, ConfigError> {
    let err = |source| ConfigError::TokenFile {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.len() > 4096 {
        return Err(ConfigError::BadToken {
            origin: format!("token file {}", path.display()),
            why: "the file is larger than a token could be",
        });
    }
    let bytes = std::fs::read(path).map_err(err)?;
    String::from_utf8(bytes).map_err(|_| ConfigError::BadToken {
        origin: format!("token file {}", path.display()),
        why: "the file is not text",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        let r: Rate = "2/s".parse().unwrap();
        assert_eq!(r.period(), Duration::from_millis(500));
        let r: Rate = "30/min".parse().unwrap();
        assert_eq!(r.period(), Duration::from_secs(2));
        let r: Rate = "0.5/s".parse().unwrap();
        assert_eq!(r.period(), Duration::from_secs(2));
        let r: Rate = "50".parse().unwrap();
        assert!((r.per_second() - 50.0).abs() < 1e-9);
        let r: Rate = "3600/h".parse().unwrap();
        assert!((r.per_second() - 1.0).abs() < 1e-9);
        for bad in [
            "0",
            "-1/s",
            "abc",
            "2/day",
            "",
            "NaN/s",
            "inf",
            "1e9/s",
            "0.00001/h",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("500000000000y").is_err());
        assert!(parse_duration("1e12").is_err());
        assert!(parse_duration("-3").is_err());
        assert!(parse_secs("0").is_err());
        assert_eq!(parse_secs("2.5"), Ok(2.5));
        assert!(parse_probability("1.5").is_err());
    }

    #[test]
    fn token_sources() {
        let server = ServerArgs {
            region: api::Region::Eu,
            base_url: None,
            token_file: None,
        };
        assert!(matches!(
            resolve_token(&server, None),
            Err(ConfigError::NoToken)
        ));
        assert!(matches!(
            resolve_token(&server, Some("  ".into())),
            Err(ConfigError::NoToken)
        ));
        assert_eq!(
            resolve_token(&server, Some("abc\n".into()))
                .unwrap()
                .expose(),
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
            resolve_token(&server, Some("env".into())).unwrap().expose(),
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
