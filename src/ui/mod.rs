//! What the tool shows while and after it works: the log emitter, progress and the run summary.

pub mod log;
pub mod progress;
pub mod summary;

pub use log::Log;
pub use progress::{Mode, Progress};
pub use summary::{Summary, Tally};
