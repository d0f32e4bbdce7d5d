//! What `--version` says: the version, the commit it was built from and the target triple, so a
//! report from the field names the exact build (`growatt-onboard 0.1.0 (commit 1a2b3c4,
//! x86_64-pc-windows-gnu)`). `build.rs` supplies the commit and the triple.

/// The version line's text after the program's name.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GROWATT_ONBOARD_COMMIT"),
    ", ",
    env!("GROWATT_ONBOARD_TARGET"),
    ")"
);

/// The commit the binary was built from (`unknown` when built without git).
pub const COMMIT: &str = env!("GROWATT_ONBOARD_COMMIT");

/// The target triple the binary was built for.
pub const TARGET: &str = env!("GROWATT_ONBOARD_TARGET");
