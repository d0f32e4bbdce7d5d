//! How the simulator behaves: the token it accepts, its world, and the faults it injects.

use std::time::Duration;

use crate::{Fixture, ServerMode, ThrottleModel};

/// The API token the simulator accepts unless configured otherwise (32 characters, like a real key).
pub const DEFAULT_TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// How the simulator behaves: which token it accepts, its world, and the faults it injects.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The only `token` header value accepted; anything else answers `10011`.
    pub token: String,
    /// The starting world.
    pub fixture: Fixture,
    /// Mean delay added before each answer.
    pub latency: Duration,
    /// The delay varies uniformly by up to this much either side of `latency` (never below 0).
    pub jitter: Duration,
    /// Probability (0..=1) of answering `10001` (system error) to an otherwise admitted request.
    pub fail_rate: f64,
    /// Probability (0..=1) of holding an admitted request for `hang` before answering, to
    /// provoke client timeouts. The answer (and any association) is still decided on arrival.
    pub hang_rate: f64,
    /// How long a hung request is held.
    pub hang: Duration,
    /// Requests per second allowed before answering `10012`, as a token bucket holding
    /// `max(1, ceil(rate))` requests. Fractional rates work; `0` (or less) throttles every
    /// request; `None` never throttles.
    pub throttle_per_sec: Option<f64>,
    /// Which per-request limit answers `10012` besides the bucket (see [`ThrottleModel`]).
    pub throttle_model: ThrottleModel,
    /// How long the identical request is refused under [`ThrottleModel::Cooldown`].
    pub cooldown: Duration,
    /// Least time between two calls of one endpoint under [`ThrottleModel::Spacing`].
    pub spacing: Duration,
    /// Calls a day allowed on each listing endpoint (`plant/list`, `user/c_user_list`), `None`:
    /// no cap.
    pub daily_cap: Option<u32>,
    /// Probability (0..=1) that the first arrival of each distinct request is answered `10001`;
    /// its repeats are answered normally.
    pub fail_first_rate: f64,
    /// What the server is: the API, or a legacy host, another region, a login page.
    pub mode: ServerMode,
    /// Seed for every random draw, so a run against the simulator can be reproduced.
    pub seed: u64,
    /// How long after its add an offline device comes online and becomes linked (listed on its
    /// plant). `None`: offline devices link only when marked online via `POST /__sim/online`.
    /// Online devices link at once, as the vendor documents.
    pub link_delay: Option<Duration>,
    /// An open world, for fleets too large for a fixture: besides the fixture's, every numeric
    /// plant id exists, every numeric user id belongs to every plant, and every serial of letters
    /// and digits exists and is online. Second adds (`10003`), faults and stats are unchanged.
    pub open_world: bool,
    /// Answer `plant/list` Brotli-compressed (`Content-Encoding: br`) when the request's
    /// `Accept-Encoding` names `br`, as the live server was seen doing.
    pub brotli_plant_list: bool,
}

impl Default for SimConfig {
    /// [`DEFAULT_TOKEN`], the built-in fixture, no delay, no faults, no throttle, seed 1.
    fn default() -> Self {
        SimConfig {
            token: DEFAULT_TOKEN.to_string(),
            fixture: Fixture::builtin(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            fail_rate: 0.0,
            hang_rate: 0.0,
            hang: Duration::from_secs(60),
            throttle_per_sec: None,
            throttle_model: ThrottleModel::Bucket,
            cooldown: Duration::from_secs(300),
            spacing: Duration::from_secs(1),
            daily_cap: None,
            fail_first_rate: 0.0,
            mode: ServerMode::Api,
            seed: 1,
            link_delay: None,
            open_world: false,
            brotli_plant_list: false,
        }
    }
}
