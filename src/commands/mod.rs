//! The command line's front: one adapter per command. Each resolves its flags into a job's
//! settings, drives the job with the terminal's consumers of its events, prints what it found,
//! and returns the exit code, or an error that [`crate::execute`] prints in one place. No
//! command imports another.

pub mod account;
pub mod check;
pub mod demo;
pub mod meta;
pub mod report;
pub mod run;
pub mod sim;
pub mod template;
pub mod ui;
pub mod verify;

use crate::config::ConfigError;
use crate::exit::Exit;
use crate::jobs::{AccountError, RunError, VerifyError};

/// What ends a command before it could do its work, with its source kept.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A flag's value, the token or the server cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The run could not start.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Verify could not start.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The account cache or its pull failed.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The results could not be read, or a report written.
    #[error(transparent)]
    Report(#[from] crate::journal::ResultsError),
    /// The workbook could not be written.
    #[error(transparent)]
    Workbook(#[from] crate::report::xlsx::XlsxExportError),
    /// A problem stated in words (the file or cache it concerns named).
    #[error("{0}")]
    Fatal(String),
    /// A command line that cannot be used (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The demo failed, with every cause.
    #[error("{0:#}")]
    Demo(anyhow::Error),
}

impl CommandError {
    /// The exit code: 2 for what the command line got wrong, else 1.
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Config(e) => e.exit(),
            CommandError::Run(e) => e.exit(),
            CommandError::Verify(e) => e.exit(),
            CommandError::Account(e) => e.exit(),
            CommandError::Usage(_) => Exit::Usage,
            _ => Exit::Fatal,
        }
    }
}

/// How a command ends: its exit code, or the error that stopped it.
pub type Outcome = Result<Exit, CommandError>;
