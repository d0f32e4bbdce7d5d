//! `ui` on the command line: the page served until Ctrl-C.

use super::{CommandError, Outcome};
use crate::cli::UiArgs;
use crate::config::ui_settings;
use crate::exit::Exit;
use crate::term::Log;

/// `ui`: serves the page on loopback and opens it, unless `--no-open`.
pub async fn execute(args: UiArgs, token_env: Option<&str>) -> Outcome {
    let settings = ui_settings(&args, token_env)?;
    crate::web::serve(settings, !args.no_open, &Log::new(false))
        .await
        .map_err(CommandError::Fatal)?;
    Ok(Exit::Success)
}
