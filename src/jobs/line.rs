//! A row's results line from how its call ended: the code, and the message in words (with the
//! attempts spent when transient trouble outlasted the retries).

use crate::api::{Answer, Attempt};
use crate::input::InputRow;
use crate::journal::ResultLine;
use crate::outcome::{Outcome, CODE_ALREADY};
use crate::text::{count, shorten};

/// Longest API message kept in a results line.
const MSG_LIMIT: usize = 500;

/// The line of `row`, ended as `outcome` after `attempts`, the last one `attempt`; `uncertain`
/// when an earlier attempt may have reached the server.
pub(super) fn line_for(
    row: &InputRow,
    outcome: Outcome,
    attempt: &Attempt,
    attempts: u32,
    uncertain: bool,
) -> ResultLine {
    let (code, msg) = match &attempt.answer {
        Answer::Envelope { code, msg, .. } => {
            let mut msg = shorten(msg, MSG_LIMIT);
            if *code == CODE_ALREADY && uncertain {
                msg =
                    format!(
                    "{}confirmed after a timed-out attempt: the earlier request reached the server",
                    if msg.is_empty() { String::new() } else { format!("{msg}; ") }
                );
            }
            if outcome == Outcome::Failed {
                msg = format!(
                    "gave up after {}; last answer {code}{}; run again to retry",
                    count(u64::from(attempts), "attempt", "attempts"),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(" {msg}")
                    }
                );
            }
            (Some(*code), msg)
        }
        Answer::NotEnvelope { why, .. } => (
            None,
            format!(
                "gave up after {}; last: {}",
                count(u64::from(attempts), "attempt", "attempts"),
                shorten(why, MSG_LIMIT)
            ),
        ),
        Answer::Timeout => (
            None,
            format!(
                "gave up after {}; last: no answer within the time limit",
                count(u64::from(attempts), "attempt", "attempts")
            ),
        ),
        Answer::Connection(e) => (
            None,
            format!(
                "gave up after {}; last: {}",
                count(u64::from(attempts), "attempt", "attempts"),
                shorten(e, MSG_LIMIT)
            ),
        ),
    };
    ResultLine {
        error_code: code,
        attempts,
        http_status: attempt.answer.http_status(),
        latency_ms: Some(attempt.latency.as_millis() as u64),
        ..ResultLine::unsent(row, outcome, msg)
    }
}
