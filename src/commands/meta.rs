//! `completions` and `manpage`: the tool describing itself.

use std::path::Path;

use super::{CommandError, Outcome};
use crate::cli::{Cli, CompletionsArgs, ManpageArgs};
use crate::exit::Exit;
use crate::term::log;

/// `completions SHELL`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> Outcome {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "growatt-onboard", &mut buf);
    log::stdout(&buf);
    Ok(Exit::Success)
}

/// `manpage DIR`: growatt-onboard.1 and one page per command.
pub fn manpage(args: &ManpageArgs) -> Outcome {
    let n = write_manpages(&args.dir).map_err(|e| {
        CommandError::Fatal(format!(
            "cannot write man pages to {}: {}",
            args.dir.display(),
            crate::text::io_reason(&e)
        ))
    })?;
    log::stdout(format!("wrote {n} man pages to {}\n", args.dir.display()).as_bytes());
    Ok(Exit::Success)
}

/// growatt-onboard.1 and growatt-onboard-COMMAND.1 for every command.
fn write_manpages(dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    // `help` is a word on the command line, not a page of its own.
    let cmd = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    let mut n = 0;
    let mut render = |name: String, cmd: clap::Command| -> std::io::Result<()> {
        let mut buf = Vec::new();
        render_page(cmd, &mut buf)?;
        crate::files::write_whole(&dir.join(format!("{name}.1")), &buf)?;
        n += 1;
        Ok(())
    };
    for sub in cmd.get_subcommands() {
        let name = format!("growatt-onboard-{}", sub.get_name());
        render(name.clone(), sub.clone().name(name))?;
    }
    render("growatt-onboard".into(), cmd)?;
    Ok(n)
}

/// One man page: clap's sections (a DESCRIPTION only where it says more than NAME), then FILES,
/// EXIT STATUS and ENVIRONMENT, then the version.
fn render_page(cmd: clap::Command, w: &mut Vec<u8>) -> std::io::Result<()> {
    let main = !cmd.get_name().starts_with("growatt-onboard-");
    let says_more = cmd
        .get_long_about()
        .is_some_and(|l| Some(l.to_string()) != cmd.get_about().map(|a| a.to_string()));
    let has_options = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_commands = cmd.has_subcommands();
    let has_extra = cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some();
    let has_version = cmd.get_version().is_some();
    let man = clap_mangen::Man::new(cmd);
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    if main {
        w.extend_from_slice(DESCRIPTION.as_bytes());
    } else if says_more {
        man.render_description_section(w)?;
    }
    if has_options {
        man.render_options_section(w)?;
    }
    if has_commands {
        man.render_subcommands_section(w)?;
    }
    if has_extra {
        man.render_extra_section(w)?;
    }
    w.extend_from_slice(FILES.as_bytes());
    w.extend_from_slice(EXIT_AND_ENVIRONMENT.as_bytes());
    if has_version {
        man.render_version_section(w)?;
    }
    Ok(())
}

/// The main page's DESCRIPTION, in roff: what NAME says, told at length.
const DESCRIPTION: &str = r#".SH DESCRIPTION
\fBgrowatt\-onboard\fR reads a fleet spreadsheet of (plant_id, sn, c_user_id) rows and calls the
ShineServer OpenAPI \fBPOST /v1/device/sn/add\fR once per device, at a pace the account allows, with
retries for transient failures and a per\-row wait when the API throttles. Every row ends in a
results CSV beside the fleet; running the same command again continues where it stopped. \fBcheck\fR
validates a fleet without sending, \fBverify\fR confirms the links, \fBreport\fR summarises the
results, and \fBui\fR serves the same work as a local web page.
"#;

/// The FILES section every page shares, in roff.
const FILES: &str = r#".SH FILES
.TP
\fIFLEET\fB.results.csv\fR
The results: one line per row as it ends (the latest line of a row counts). \fB\-o\fR names another.
.TP
\fIFLEET\fB.results.summary.json\fR, \fIFLEET\fB.results.history.jsonl\fR
The last run's summary, and every run's, one JSON line each.
.TP
\fIFLEET\fB.results.verify.csv\fR
What \fBverify\fR found, one line per row it checked.
.TP
\fIFLEET\fB.results.csv.lock\fR
Held while a run or verify writes the results; a second one is refused.
.TP
\fBgrowatt\-onboard.toml\fR
Saved settings beside the fleet (or \fB\-\-config\fR \fIPATH\fR): the long flags' names and a
\fB[columns]\fR table.
.TP
The platform's cache folder (\fB~/.cache/growatt\-onboard\fR on Linux)
The account caches of \fBaccount pull\fR, per server and token.
.TP
The platform's data folder (\fB~/.local/share/growatt\-onboard/fleets\fR on Linux)
The fleets uploaded to the page of \fBui\fR, one folder each.
"#;

/// The EXIT STATUS and ENVIRONMENT sections every page shares, in roff.
const EXIT_AND_ENVIRONMENT: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Every row is registered, already_registered, duplicate or skipped (report: no row needs attention).
.TP
\fB1\fR
Fatal: the input is unreadable or lacks a column, the results file is unwritable or locked, there is
no token, or an account\-level error (wrong token, wrong region) stopped the run.
.TP
\fB2\fR
Usage error: a flag or a flag's value cannot be used.
.TP
\fB3\fR
The run finished, but some rows are invalid, rejected or failed.
.TP
\fB4\fR
Incomplete: stopped by \fB\-\-max\-runtime\fR or by throttling before every row was tried; run again
to continue.
.TP
\fB130\fR
Interrupted by Ctrl\-C or SIGTERM.
.PP
Where two apply, the first in the order 1, 130, 4, 3 wins.
.SH ENVIRONMENT
.TP
\fBGROWATT_TOKEN\fR
The ShineServer OpenAPI token (32 characters), used unless \fB\-\-token\-file\fR is given. It is
sent only as the token header and never printed, logged or written to a file.
.TP
\fBGROWATT_ONBOARD_LOG\fR
How much the simulator (\fBsim\fR) logs on standard error: warn (the default), info or debug.
.TP
\fBHTTPS_PROXY\fR, \fBHTTP_PROXY\fR, \fBALL_PROXY\fR, \fBNO_PROXY\fR
A proxy for the API's requests, and the hosts reached without one (their lower\-case forms work
too). Only an https:// base URL goes through a proxy, in an encrypted tunnel; a loopback or
http:// base URL never does.
"#;
