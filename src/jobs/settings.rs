//! The settings every job that calls the API shares, resolved: no flags, no terminal.

use std::time::Duration;

use crate::api::{Client, ClientError, Token};
use crate::engine::{EngineConfig, RetryPolicy};
use crate::units::Rate;

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
    /// The HTTP client these settings describe.
    pub fn client(&self) -> Result<Client, ClientError> {
        Client::new(
            self.base.clone(),
            self.token.clone(),
            self.timeout,
            self.concurrency,
        )
    }

    /// The request machinery's settings; `attempt_events` asks for an event per request.
    pub fn engine(&self, attempt_events: bool) -> EngineConfig {
        EngineConfig {
            concurrency: self.concurrency,
            policy: self.policy.clone(),
            rate: self.rate,
            throttle_pause: self.throttle_pause,
            max_runtime: self.max_runtime,
            attempt_events,
        }
    }
}
