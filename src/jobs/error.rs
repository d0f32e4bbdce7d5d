//! What ends a job before its work: the one error type of the jobs that read a fleet or a
//! results file and send, and the trait every error a command may stop on carries, so the
//! command line prints each the same way and takes its exit code from the error itself.

use std::path::PathBuf;

use crate::account::CacheError;
use crate::api::ClientError;
use crate::exit::Exit;
use crate::input::InputError;
use crate::journal::ResultsError;
use crate::report::xlsx::XlsxExportError;
use crate::report::ReportError;

/// An error that stops a job (or a report) as a whole: printed as it reads, ending the
/// process with [`JobError::exit`].
pub trait JobError: std::error::Error + Send + Sync + 'static {
    /// The exit code: 1 unless the error knows better (an interrupted pull, 130).
    fn exit(&self) -> Exit {
        Exit::Fatal
    }
}

/// A problem that ends `run`, `check` or `verify` before any row is sent: what the job opens
/// first (the fleet, the results or verify file, the HTTP client) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The input cannot be used.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The results or verify file cannot be used.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The HTTP client cannot be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The results file `verify` is to read does not exist.
    #[error("{0} does not exist; pass the results file a `run` wrote")]
    NoResults(PathBuf),
}

impl JobError for StartError {}
impl JobError for ResultsError {}
impl JobError for CacheError {}
impl JobError for ReportError {}
impl JobError for XlsxExportError {}
