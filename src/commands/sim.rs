//! `sim`: the simulator served on loopback until Ctrl-C.

use super::{CommandError, Outcome};
use crate::cli::SimArgs;
use crate::exit::Exit;
use growatt_sim as sim;

/// `sim`: serves until a signal; a non-loopback address is a usage error.
pub async fn execute(args: &SimArgs) -> Outcome {
    // The simulator reports through `tracing`: warnings by default, more with
    // GROWATT_ONBOARD_LOG=debug.
    init_logging();
    let cfg = config(args).map_err(|e| CommandError::Usage(e.to_string()))?;
    sim::serve_until_signal(args.listen, cfg)
        .await
        .map_err(|e| CommandError::Fatal(e.to_string()))?;
    Ok(Exit::Success)
}

/// Logging for the simulator, on stderr.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GROWATT_ONBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn config(args: &SimArgs) -> anyhow::Result<sim::SimConfig> {
    if !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "the simulator listens on loopback only; {} is not a loopback address",
            args.listen
        );
    }
    let fixture = match &args.fixture {
        Some(p) => sim::Fixture::from_path(p)?,
        None => sim::Fixture::builtin(),
    };
    Ok(sim::SimConfig {
        token: args.token.clone(),
        fixture,
        latency: std::time::Duration::from_millis(args.latency_ms),
        jitter: std::time::Duration::from_millis(args.jitter_ms),
        fail_rate: args.fail_rate,
        hang_rate: args.hang_rate,
        hang: std::time::Duration::from_millis(args.hang_ms),
        throttle_per_sec: args.throttle.map(|r| r.per_second()),
        throttle_model: args.throttle_model,
        cooldown: args.cooldown,
        spacing: args.spacing,
        daily_cap: args.daily_cap,
        fail_first_rate: args.fail_first_rate,
        mode: args.mode,
        seed: args.seed,
        link_delay: args.link_delay,
        open_world: args.open_world,
        brotli_plant_list: args.brotli_plant_list,
    })
}
