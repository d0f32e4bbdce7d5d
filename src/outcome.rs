//! How a row ends, and what each Growatt code means: one table for the policy, the summaries,
//! the reports and their advice.

use serde::{Deserialize, Serialize};

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The API answered 0.
    Registered,
    /// The API answered 10003: the device was already associated.
    AlreadyRegistered,
    /// The API answered a code that is not retryable.
    Rejected,
    /// Retryable failures used up `--max-attempts`.
    Failed,
    /// The row failed local validation and was never sent.
    Invalid,
    /// The serial appeared on an earlier row; never sent.
    Duplicate,
    /// Skipped on purpose (marked in the skip column, or holding only a note); never sent, and
    /// needs no one.
    Skipped,
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Outcome; 7] = [
        Outcome::Registered,
        Outcome::AlreadyRegistered,
        Outcome::Rejected,
        Outcome::Failed,
        Outcome::Invalid,
        Outcome::Duplicate,
        Outcome::Skipped,
    ];

    /// The word used in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Registered => "registered",
            Outcome::AlreadyRegistered => "already_registered",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Invalid => "invalid",
            Outcome::Duplicate => "duplicate",
            Outcome::Skipped => "skipped",
        }
    }

    /// Parses the results file's word.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Done for good: a later run skips the row.
    pub fn is_done(self) -> bool {
        matches!(self, Outcome::Registered | Outcome::AlreadyRegistered)
    }

    /// Needs a person (or another run): makes the exit code 3.
    pub fn needs_attention(self) -> bool {
        matches!(self, Outcome::Rejected | Outcome::Failed | Outcome::Invalid)
    }

    /// Ended without a request, for what the row says rather than what the API answered: its
    /// line is about the row number, and is written again only when it changes.
    pub fn is_unsent(self) -> bool {
        matches!(
            self,
            Outcome::Invalid | Outcome::Duplicate | Outcome::Skipped
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Growatt's "frequency limit" code.
pub const CODE_THROTTLED: i64 = 10012;
/// Growatt's "use the new domain" code: a legacy host name (server.growatt.com), not a wrong
/// region.
pub const CODE_LEGACY_DOMAIN: i64 = -1;
/// Growatt's "permission denied" code.
pub const CODE_PERMISSION_DENIED: i64 = 10011;
/// The device is already associated (on `device/sn/add`); the plant does not exist (on
/// `device/list`).
pub const CODE_ALREADY: i64 = 10003;
/// The system error the API documents as transient.
pub const CODE_SYSTEM_ERROR: i64 = 10001;

/// One documented API code: what it means and, for a rejected row, what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The `error_code`.
    pub code: i64,
    /// What the API means by it, in a few words.
    pub meaning: &'static str,
    /// What to do about a row rejected with it; `None` where the generic advice applies.
    pub advice: Option<&'static str>,
}

/// The codes `device/sn/add` and the listing calls answer, from the vendor's documentation.
pub const CODES: &[Code] = &[
    Code {
        code: 0,
        meaning: "accepted",
        advice: None,
    },
    Code {
        code: CODE_SYSTEM_ERROR,
        meaning: "system error (transient)",
        advice: None,
    },
    Code {
        code: 10002,
        meaning: "plant id empty or serial wrong",
        advice: Some("check the serial on the device label"),
    },
    Code {
        code: CODE_ALREADY,
        meaning: "device already associated",
        advice: None,
    },
    Code {
        code: 10004,
        meaning: "plant does not exist",
        advice: Some("check the plant id in ShineServer"),
    },
    Code {
        code: 10005,
        meaning: "user does not exist",
        advice: Some("check the end-user id (c_user_id) in ShineServer"),
    },
    Code {
        code: 10006,
        meaning: "user id empty",
        advice: Some("fill in the end-user id (c_user_id)"),
    },
    Code {
        code: 10007,
        meaning: "collector serial does not exist",
        advice: Some("the API does not know this serial: check it on the label"),
    },
    Code {
        code: 10010,
        meaning: "failed to add the device",
        advice: Some("the API could not add it: run again; if it persists, ask Growatt support"),
    },
    Code {
        code: CODE_PERMISSION_DENIED,
        meaning: "permission denied",
        advice: Some("the token may not act on this plant or user: check the account"),
    },
    Code {
        code: CODE_THROTTLED,
        meaning: "frequency limit",
        advice: None,
    },
    Code {
        code: CODE_LEGACY_DOMAIN,
        meaning: "legacy host name: use the new domain",
        advice: None,
    },
];

/// The table's entry for `code`, if it is documented.
pub fn code(code: i64) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

/// The API's meaning of a code, for code tables.
pub fn code_meaning(c: i64) -> &'static str {
    code(c).map_or("not documented", |c| c.meaning)
}

/// What to do about a row, by outcome and code.
pub fn advice(outcome: Outcome, code_: Option<i64>) -> &'static str {
    match outcome {
        Outcome::Registered => "nothing: accepted; the link appears once the device is online",
        Outcome::AlreadyRegistered => "nothing: the device was already associated",
        Outcome::Duplicate => "nothing: the same serial is on an earlier row, sent from there",
        Outcome::Invalid => "fix the cell named in the message, then run again",
        Outcome::Skipped => {
            "nothing: skipped on purpose; to send it, clear its skip cell or fill in its row"
        }
        Outcome::Failed => "run again: transient trouble outlasted the retries",
        Outcome::Rejected => code_
            .and_then(code)
            .and_then(|c| c.advice)
            .unwrap_or("see the message; run again once the cause is fixed"),
    }
}

impl Outcome {
    /// The colour reports draw the outcome in.
    pub fn colour(self) -> &'static str {
        match self {
            Outcome::Registered => "#2e7d32",
            Outcome::AlreadyRegistered => "#66bb6a",
            Outcome::Rejected => "#c62828",
            Outcome::Failed => "#ef6c00",
            Outcome::Invalid => "#6a1b9a",
            Outcome::Duplicate => "#78909c",
            Outcome::Skipped => "#b0bec5",
        }
    }
}

/// The colour reports draw rows of a code in: the outcome it gives.
pub fn code_colour(code: i64) -> &'static str {
    match code {
        0 => Outcome::Registered.colour(),
        CODE_ALREADY => Outcome::AlreadyRegistered.colour(),
        _ => Outcome::Rejected.colour(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_per_code() {
        assert!(advice(Outcome::Rejected, Some(10005)).contains("end-user"));
        assert!(advice(Outcome::Rejected, Some(10004)).contains("plant id"));
        assert!(advice(Outcome::Rejected, Some(99999)).contains("see the message"));
        assert!(advice(Outcome::Failed, None).contains("run again"));
        assert!(advice(Outcome::Skipped, None).starts_with("nothing"));
        assert!(!Outcome::Skipped.needs_attention() && !Outcome::Skipped.is_done());
        assert_eq!(code_meaning(10012), "frequency limit");
        assert_eq!(code_meaning(-1), "legacy host name: use the new domain");
        assert_eq!(code_meaning(42), "not documented");
    }

    #[test]
    fn outcome_words_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("linked"), None);
    }
}
