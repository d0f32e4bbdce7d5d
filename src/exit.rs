//! Exit codes, as the contract lists them.

/// How the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Exit {
    /// Every row is registered, already registered, a duplicate or skipped on purpose.
    Success,
    /// Fatal: input unreadable, results unwritable or locked, no token, or an account-level error.
    Fatal,
    /// Bad flags.
    Usage,
    /// The run finished, but some rows are invalid, rejected or failed.
    NeedsAttention,
    /// Stopped by --max-runtime or throttling before every row was tried.
    Incomplete,
    /// Interrupted by Ctrl-C or SIGTERM.
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Fatal => 1,
            Exit::Usage => 2,
            Exit::NeedsAttention => 3,
            Exit::Incomplete => 4,
            Exit::Interrupted => 130,
        }
    }

    /// Where several apply, the first in the order 1, 130, 4, 3 wins (then 0).
    pub fn precedence(self) -> u8 {
        match self {
            Exit::Fatal | Exit::Usage => 0,
            Exit::Interrupted => 1,
            Exit::Incomplete => 2,
            Exit::NeedsAttention => 3,
            Exit::Success => 4,
        }
    }

    /// The more important of two.
    pub fn worst(self, other: Exit) -> Exit {
        if other.precedence() < self.precedence() {
            other
        } else {
            self
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_the_contract() {
        assert_eq!(
            Exit::NeedsAttention.worst(Exit::Incomplete),
            Exit::Incomplete
        );
        assert_eq!(Exit::Incomplete.worst(Exit::Interrupted), Exit::Interrupted);
        assert_eq!(Exit::Interrupted.worst(Exit::Fatal), Exit::Fatal);
        assert_eq!(
            Exit::Success.worst(Exit::NeedsAttention),
            Exit::NeedsAttention
        );
        assert_eq!(Exit::Fatal.worst(Exit::Success), Exit::Fatal);
        assert_eq!(Exit::Interrupted.code(), 130);
    }
}
