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
use crate::jobs::JobError;

/// What ends a command before it could do its work, with its source kept.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A flag's value, the token or the server cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A job or a report could not start or go on: its fleet, results file, client or cache,
    /// or the pull it needed, in its own words and with its own exit code.
    #[error("{0}")]
    Job(Box<dyn JobError>),
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

/// Every job's error stops its command the same way: `?` in a command wraps it.
impl<E: JobError> From<E> for CommandError {
    fn from(e: E) -> CommandError {
        CommandError::Job(Box::new(e))
    }
}

impl CommandError {
    /// The exit code: 2 for what the command line got wrong, the job's own for a job's error,
    /// else 1.
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Config(e) => e.exit(),
            CommandError::Job(e) => e.exit(),
            CommandError::Usage(_) => Exit::Usage,
            _ => Exit::Fatal,
        }
    }
}

/// How a command ends: its exit code, or the error that stopped it.
pub type Outcome = Result<Exit, CommandError>;
