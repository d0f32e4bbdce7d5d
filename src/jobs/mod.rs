//! The jobs every front drives: `run`, `verify`, `check` and the account's pull and screen.
//! Each takes typed settings (no flags, no terminal), a cancellation token where it sends
//! requests, and an event sink, and returns a typed report; none prints anything. The terminal
//! (`term`) and the web page are consumers of their events.

pub mod account;
pub mod check;
mod error;
mod line;
pub mod links;
mod locate;
pub mod run;
mod serials;
pub mod settings;
pub mod summary;
pub mod verify;

pub use account::{AccountError, AccountEvent, Pulled, REFRESH};
pub use check::{CheckReport, CheckSettings, Finding};
pub use error::{JobError, StartError};
pub use links::{LinkStatus, VerifyEvent, VerifyReport};
pub use locate::COOLDOWN;
pub use run::{RunCounts, RunEvent, RunReport, RunSettings};
pub use settings::RequestConfig;
pub use summary::{Summary, Tally};
pub use verify::VerifySettings;
