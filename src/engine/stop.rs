//! Why a run stops before it ends by itself, what to tell the person, and the exit code.

use crate::exit::Exit;

/// What stops a run before it ends by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `--max-runtime` elapsed.
    MaxRuntime,
    /// A throttle pause would outlast `--max-runtime`.
    Throttled,
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The account lives on another region (-1).
    WrongRegion,
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
            Stop::MaxRuntime | Stop::Throttled => Exit::Incomplete,
            Stop::Interrupted => Exit::Interrupted,
            Stop::WrongRegion
            | Stop::Denied
            | Stop::Unwritable(_)
            | Stop::Unreadable(_)
            | Stop::Internal(_) => Exit::Fatal,
        }
    }

    /// What to tell the person.
    pub fn describe(&self) -> String {
        match self {
            Stop::MaxRuntime => "--max-runtime reached; run the same command again to continue".into(),
            Stop::Throttled => "the API's rate limit pause would outlast --max-runtime; run again later to continue".into(),
            Stop::Interrupted => "interrupted; every row that ended is in the results file, run again to continue".into(),
            Stop::WrongRegion => "the API answered -1: this account lives on another regional server; pick it with --region (eu, us, cn, au) or --base-url".into(),
            Stop::Denied => "the API refused the token (permission denied) on the first answers of the run; check GROWATT_TOKEN or --token-file, and --region".into(),
            Stop::Unwritable(e) => format!("cannot write the results file: {e}"),
            Stop::Unreadable(e) => format!("cannot read the input any further: {e}"),
            Stop::Internal(e) => e.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_exit_codes() {
        assert_eq!(Stop::MaxRuntime.exit(), Exit::Incomplete);
        assert_eq!(Stop::WrongRegion.exit(), Exit::Fatal);
        assert_eq!(Stop::Interrupted.exit(), Exit::Interrupted);
        assert!(Stop::WrongRegion.describe().contains("--region"));
    }
}
