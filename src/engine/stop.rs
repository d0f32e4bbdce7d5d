//! Why a run stops before it ends by itself, what to tell the person, and the exit code.

use crate::exit::Exit;

/// What stops a run before it ends by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `--max-runtime` elapsed.
    MaxRuntime,
    /// A row's cooldown after a 10012 would outlast `--max-runtime`.
    Throttled,
    /// Only rows waiting out the API's cooldown were left, and the run was told to leave them
    /// for the next run (`--leave-throttled`).
    LeftThrottled,
    /// The API answered -1: the base URL is a legacy host name; the new one is named.
    LegacyDomain {
        /// The base URL to use instead.
        new_base: String,
    },
    /// The server could not be reached at all on the first requests.
    Unreachable {
        /// The base URL tried.
        base: String,
    },
    /// The first answers were not the API's JSON (a login page or other HTML, or a redirect).
    NotApi {
        /// The base URL tried.
        base: String,
        /// Where the answers redirected to, when they were redirects that said.
        redirect: Option<String>,
    },
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The token was refused from the start (10011, HTTP 401/403).
    Denied,
    /// The results file could not be written.
    Unwritable(String),
    /// The input could not be read part-way.
    Unreadable(String),
    /// A part of the tool failed (a bug); what ended is written, the rest stays for next run.
    Internal(String),
}

impl Stop {
    /// The exit code this stop calls for.
    pub fn exit(&self) -> Exit {
        match self {
            Stop::MaxRuntime | Stop::Throttled | Stop::LeftThrottled => Exit::Incomplete,
            Stop::Interrupted => Exit::Interrupted,
            Stop::LegacyDomain { .. }
            | Stop::Unreachable { .. }
            | Stop::NotApi { .. }
            | Stop::Denied
            | Stop::Unwritable(_)
            | Stop::Unreadable(_)
            | Stop::Internal(_) => Exit::Fatal,
        }
    }

    /// What to tell the person, in the words of the front they use: a command line names its
    /// flags, a page its buttons and fields ([`Stop`]'s `Display`).
    pub fn describe_for(&self, wording: Wording) -> String {
        if wording == Wording::Page {
            return self.to_string();
        }
        match self {
            Stop::MaxRuntime => "--max-runtime reached; run the same command again to continue".into(),
            Stop::Throttled => "rows refused by the API's rate limit (10012) could not be sent again within --max-runtime; run again later to send them".into(),
            Stop::LeftThrottled => "only rows refused by the API's rate limit (10012) were left, and --leave-throttled leaves them for the next run; run the same command again after the cooldown (about 5 minutes) to send them".into(),
            Stop::LegacyDomain { new_base } => format!("the API answered -1: this is a legacy host name that no longer serves the OpenAPI; use the new domain {new_base} (pick it with --region, or --base-url)"),
            Stop::Denied => "the API refused the token (10011, permission denied) on every first answer of the run; likely causes, most likely first: the wrong --region (a token works on its own regional server only); this machine's IP is not on the token's whitelist; an end-user (ShinePhone) token instead of the installer's OSS API token; the public test token on a production server. Check the token (GROWATT_TOKEN or --token-file) and --region".into(),
            Stop::Unreachable { base } => format!("cannot reach {base}: check the network, a proxy, or --region"),
            Stop::NotApi { base, redirect } => format!("{} instead of the OpenAPI's JSON: the base URL is not the OpenAPI; check --base-url or --region", not_api(base, redirect.as_deref())),
            _ => self.to_string(),
        }
    }

    /// [`Stop::describe_for`] a job other than `run`: what an interrupted job kept, and which
    /// file it could not write, are the job's own (`verify` keeps the verify file, a pull the
    /// account cache; neither writes the results file).
    pub fn describe_job(&self, wording: Wording, job: Job) -> String {
        let page = wording == Wording::Page;
        match (self, job) {
            (Stop::Interrupted, Job::Verify) => if page {
                "interrupted; every row checked so far is in the verify file; verify again to check the rest"
            } else {
                "interrupted; every row checked so far is in the verify file; run the same verify again to check the rest"
            }
            .into(),
            (Stop::Interrupted, Job::AccountPull) => if page {
                "interrupted; the pages listed so far are in the account cache, with every listing call counted; pull the account again to go on"
            } else {
                "interrupted; the pages listed so far are in the account cache, with every listing call counted; run `growatt-onboard account pull` again to go on"
            }
            .into(),
            (Stop::Unwritable(e), Job::Verify) => format!("cannot write the verify file: {e}"),
            _ => self.describe_for(wording),
        }
    }

    /// What to tell a person at a terminal: [`Stop::describe_for`] the command line.
    pub fn describe(&self) -> String {
        self.describe_for(Wording::CommandLine)
    }
}

/// The job a stop ends, for words about what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Job {
    /// `run`: the results file.
    #[default]
    Run,
    /// `verify`: the verify file.
    Verify,
    /// `account pull`: the account cache.
    AccountPull,
}

/// Which front a person uses, for words that name its controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wording {
    /// Flags and commands.
    #[default]
    CommandLine,
    /// The local web page: its fields and buttons.
    Page,
}

/// The stop in words that assume no particular front.
impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::MaxRuntime => f.write_str("the run's time limit was reached; start it again to continue"),
            Stop::Throttled => f.write_str("rows refused by the API's rate limit (10012) could not be sent again within the run's time limit; run again later to send them"),
            Stop::LeftThrottled => f.write_str("only rows refused by the API's rate limit (10012) were left, and they were left for the next run; start it again after the cooldown (about 5 minutes) to send them"),
            Stop::Interrupted => f.write_str("interrupted; every row that ended is in the results file, run again to continue"),
            Stop::LegacyDomain { new_base } => write!(f, "the API answered -1: this is a legacy host name that no longer serves the OpenAPI; use the new domain {new_base} (pick the region or the server address)"),
            Stop::Denied => f.write_str("the API refused the token (10011, permission denied) on every first answer of the run; likely causes, most likely first: the wrong region (a token works on its own regional server only); this machine's IP is not on the token's whitelist; an end-user (ShinePhone) token instead of the installer's OSS API token; the public test token on a production server. Check the token and the region"),
            Stop::Unreachable { base } => write!(f, "cannot reach {base}: check the network, a proxy, or the region"),
            Stop::NotApi { base, redirect } => write!(f, "{} instead of the OpenAPI's JSON: the server address is not the OpenAPI; check it or the region", not_api(base, redirect.as_deref())),
            Stop::Unwritable(e) => write!(f, "cannot write the results file: {e}"),
            Stop::Unreadable(e) => write!(f, "cannot read the input any further: {e}"),
            Stop::Internal(e) => f.write_str(e),
        }
    }
}

/// What answered instead of the OpenAPI: a web page, or a redirect (named when it said where).
fn not_api(base: &str, redirect: Option<&str>) -> String {
    match redirect {
        Some(to) => format!(
            "{base} answered with a redirect to {} (a login page or another site, not followed)",
            crate::text::escape_controls(to, false)
        ),
        None => format!("{base} answered with a web page (a login page or other HTML)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_exit_codes() {
        assert_eq!(Stop::MaxRuntime.exit(), Exit::Incomplete);
        let legacy = Stop::LegacyDomain {
            new_base: "https://openapi.growatt.com".into(),
        };
        assert_eq!(legacy.exit(), Exit::Fatal);
        assert_eq!(Stop::Interrupted.exit(), Exit::Interrupted);
        assert!(legacy.describe().contains("https://openapi.growatt.com"));
        let denied = Stop::Denied.describe();
        let order =
            ["--region", "whitelist", "ShinePhone", "test token"].map(|w| denied.find(w).unwrap());
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{denied}");
        let base = "https://openapi.growatt.com".to_string();
        assert_eq!(
            Stop::Unreachable { base: base.clone() }.describe(),
            "cannot reach https://openapi.growatt.com: check the network, a proxy, or --region"
        );
        assert!(Stop::NotApi {
            base: base.clone(),
            redirect: None
        }
        .describe()
        .contains("not the OpenAPI"));
        let login = Stop::NotApi {
            base: base.clone(),
            redirect: Some("https://sso.example.com/login".into()),
        };
        let text = login.describe();
        assert!(
            text.contains("redirect to https://sso.example.com/login"),
            "{text}"
        );
        assert!(text.contains("not the OpenAPI"), "{text}");
        // The page's words name no flag.
        for stop in [
            Stop::MaxRuntime,
            Stop::Throttled,
            Stop::Denied,
            Stop::Unreachable { base },
        ] {
            let text = stop.describe_for(Wording::Page);
            assert!(!text.contains("--"), "{text}");
        }
    }
}
