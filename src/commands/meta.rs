//! `completions` and `manpage`: the tool describing itself.

use std::path::Path;

use crate::cli::{Cli, CompletionsArgs, ManpageArgs};
use crate::exit::Exit;
use crate::ui::log::{self, Log};

/// `completions SHELL`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> Exit {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "growatt-onboard", &mut buf);
    log::stdout(&buf);
    Exit::Success
}

/// `manpage DIR`: growatt-onboard.1 and one page per command.
pub fn manpage(args: &ManpageArgs) -> Exit {
    match write_manpages(&args.dir) {
        Ok(n) => {
            log::stdout(format!("wrote {n} man pages to {}\n", args.dir.display()).as_bytes());
            Exit::Success
        }
        Err(e) => {
            Log::new(false).error(&format!(
                "cannot write man pages to {}: {}",
                args.dir.display(),
                crate::text::io_reason(&e)
            ));
            Exit::Fatal
        }
    }
}

/// growatt-onboard.1 and growatt-onboard-COMMAND.1 for every command.
fn write_manpages(dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut n = 0;
    let mut render = |name: String, cmd: clap::Command| -> std::io::Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
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
