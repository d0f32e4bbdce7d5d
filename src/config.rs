//! The command line's flags resolved once into the jobs' typed settings (rate, retries, paths,
//! token) and the terminal's own settings ([`Ui`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::{resolve_base, ClientError, Region, Token};
use crate::cli::{ApiArgs, InputArgs, RequestArgs, RunArgs, ServerArgs, UiArgs, VerifyArgs};
use crate::engine::{RetryPolicy, Wording};
use crate::exit::Exit;
use crate::input::ReadOptions;
use crate::jobs::{RequestConfig, RunSettings, VerifySettings};
use crate::paths::Paths;
use crate::term::{Mode, Ui};
use crate::web::{Defaults, Server, TokenSource, UiSettings};

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

/// The retries and backoff the request flags ask for.
fn retry_policy(request: &RequestArgs) -> RetryPolicy {
    RetryPolicy {
        max_attempts: request.max_attempts,
        retry_codes: request.retry_codes.clone(),
        backoff_base: request.backoff,
        backoff_cap: Duration::from_secs(60).max(request.backoff),
    }
}

/// Resolves the request and server flags; the token from `token_env` (the GROWATT_TOKEN
/// value) or the token file.
pub fn request_config(
    api: &ApiArgs,
    token_env: Option<&str>,
) -> Result<RequestConfig, ConfigError> {
    let ApiArgs { request, server } = api;
    Ok(RequestConfig {
        token: resolve_token(server, token_env)?,
        base: resolve_server(server)?,
        timeout: Duration::from_secs_f64(request.timeout),
        rate: request.rate,
        concurrency: request.concurrency as usize,
        policy: retry_policy(request),
        throttle_pause: request.throttle_pause,
        max_runtime: request.max_runtime,
    })
}

/// `run`'s settings from its flags, for the front whose terminal settings are `ui`; the token
/// from `token_env` (the GROWATT_TOKEN value) or the token file. The account screen is added by
/// the command, which may have to pull the account first.
pub fn run_settings(
    args: &RunArgs,
    token_env: Option<&str>,
    ui: &Ui,
) -> Result<RunSettings, ConfigError> {
    Ok(RunSettings {
        input: args.input.input.clone(),
        paths: input_paths(&args.input),
        request: request_config(&args.send.api, token_env)?,
        restart: args.restart,
        read: read_options(&args.input)?,
        strict_serials: args.input.strict_serials,
        account: None,
        count_rows: ui.progress_mode() != Mode::Hidden,
        attempt_events: ui.verbose >= 2,
        leave_throttled: args.leave_throttled,
        wording: Wording::CommandLine,
    })
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
        header_row: input.header_row,
        ..Default::default()
    };
    options
        .map_columns(&input.columns)
        .map_err(ConfigError::Usage)?;
    Ok(options)
}

/// `verify`'s settings from its flags.
pub fn verify_settings(
    args: &VerifyArgs,
    token_env: Option<&str>,
    ui: &Ui,
) -> Result<VerifySettings, ConfigError> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Paths::of_results(&args.results).verify);
    Ok(VerifySettings {
        results: args.results.clone(),
        out,
        request: request_config(&args.send.api, token_env)?,
        locate: args.locate,
        attempt_events: ui.verbose >= 2,
        wording: Wording::CommandLine,
    })
}

/// `ui`'s settings from its flags: the token is optional (the page can take one).
pub fn ui_settings(args: &UiArgs, token_env: Option<&str>) -> Result<UiSettings, ConfigError> {
    if !args.listen.ip().is_loopback() {
        return Err(ConfigError::Usage(format!(
            "--listen: the page listens on loopback only (127.0.0.1, ::1); {} is not a loopback address",
            args.listen
        )));
    }
    let ApiArgs { request: r, server } = &args.api;
    let token = match resolve_token(server, token_env) {
        Ok(t) => Some((
            t,
            if server.token_file.is_some() {
                TokenSource::File
            } else {
                TokenSource::Environment
            },
        )),
        Err(ConfigError::NoToken) => None,
        Err(e) => return Err(e),
    };
    let dir = args.dir.clone().unwrap_or_else(|| {
        dirs::data_dir()
            .map(|d| d.join("growatt-onboard").join("fleets"))
            .unwrap_or_else(|| PathBuf::from("growatt-onboard-fleets"))
    });
    Ok(UiSettings {
        listen: args.listen,
        dir,
        server: Server {
            base: resolve_server(server)?,
            region: server
                .base_url
                .is_none()
                .then(|| Region::from(server.region)),
            token_file: token
                .as_ref()
                .and(server.token_file.as_ref())
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            token,
        },
        defaults: Defaults {
            timeout: Duration::from_secs_f64(r.timeout),
            rate: r.rate,
            concurrency: r.concurrency as usize,
            policy: retry_policy(r),
            throttle_pause: r.throttle_pause,
        },
        cache: args.cache.clone(),
    })
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
    let text = String::from_utf8(bytes).map_err(|_| bad("the file is not text"))?;
    Ok(token_value(&text).to_string())
}

/// The token in a token file's text: the text itself, or the value of a shell-style
/// `GROWATT_TOKEN=…` line (with `export` and quotes), as people copy it from their profile.
fn token_value(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .map(|l| l.strip_prefix("export ").unwrap_or(l).trim_start())
        .find_map(|l| l.strip_prefix("GROWATT_TOKEN="))
        .map(|v| v.trim().trim_matches(['"', '\'']))
        .unwrap_or(text)
}

/// A warning when the token file can be read by other users of this machine (Unix permissions).
pub fn token_file_warning(server: &ServerArgs) -> Option<String> {
    let path = server.token_file.as_ref()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "the token file {} can be read by other users of this machine (mode {:o}); make it yours alone: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RegionArg;

    /// The server flags of the default region, the token read from `token_file` if any.
    fn server(token_file: Option<PathBuf>) -> ServerArgs {
        ServerArgs {
            region: RegionArg::Eu,
            base_url: None,
            token_file,
        }
    }

    #[test]
    fn a_token_file_may_hold_the_shell_line_it_was_copied_from() {
        for (file, token) in [
            // A bare token is the whole text; `Token::new` trims it.
            ("abc\n", "abc\n"),
            ("GROWATT_TOKEN=abc\n", "abc"),
            ("# mine\nexport GROWATT_TOKEN=\"abc\"\n", "abc"),
            ("GROWATT_TOKEN='abc'", "abc"),
        ] {
            assert_eq!(token_value(file), token, "{file:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_warned_about() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, f) = crate::testing::file_with("t", "x");
        let server = server(Some(f.clone()));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = token_file_warning(&server).unwrap();
        assert!(w.contains("chmod 600") && w.contains("644"), "{w}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(token_file_warning(&server), None);
    }

    #[test]
    fn token_sources() {
        let server = server(None);
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
        let (dir, f) = crate::testing::file_with("t", "filetoken\n");
        let server = self::server(Some(f));
        assert_eq!(
            resolve_token(&server, Some("env")).unwrap().expose(),
            "filetoken"
        );
        let server = self::server(Some(dir.path().join("missing")));
        let e = resolve_token(&server, None).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
