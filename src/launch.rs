//! How the program was started, for the one case a command line does not fit: a double-click on
//! `growatt-onboard.exe` in Windows Explorer.
//!
//! Explorer gives a console program a console window of its own, which closes the moment the
//! program ends; without arguments the program would print its usage and vanish before anyone
//! could read it. Started that way, the program opens its page (`ui`) in the browser instead, in a
//! window that stays open while the page is used, and says how to use the command line. Should
//! the page end with an error, the window waits for Enter so the message can be read.

use std::ffi::OsString;
use std::io::{BufRead, Write};

use crate::exit::Exit;

/// What a double-click shows while the page opens: what it is, and the command line for later.
pub const DOUBLE_CLICK_HELP: &str = "\
growatt-onboard registers a fleet of Growatt devices, listed in a spreadsheet, with their plants
and end users through the ShineServer OpenAPI.

Its page is opening in your browser. Keep this window open while you use the page; close it
(or press Ctrl-C) to stop.

The same from PowerShell: open PowerShell in this folder (in Explorer, click the address bar,
type powershell and press Enter), then for example:
    .\\growatt-onboard.exe demo                    a rehearsal: nothing is sent to Growatt
    .\\growatt-onboard.exe template fleet.xlsx     the fill-in sheet for your fleet
    .\\growatt-onboard.exe --help                  every command and option
README.txt beside this program walks through a whole onboarding.
";

/// Whether this start is a double-click in Explorer: no arguments, and a console window of the
/// program's own.
pub fn started_by_double_click() -> bool {
    std::env::args_os().len() <= 1 && owns_console_alone()
}

/// The command line a double-click runs (the page, opened in the browser), after
/// [`DOUBLE_CLICK_HELP`] on stdout.
pub fn double_click_args() -> Vec<OsString> {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{DOUBLE_CLICK_HELP}").and_then(|()| out.flush());
    ["growatt-onboard", "ui"].map(OsString::from).to_vec()
}

/// After a double-click start has ended: unless it ended well, keeps the window open until Enter
/// (or the end of `input`), so the message above can be read; returns `exit` unchanged.
pub fn hold_window(exit: Exit, input: &mut impl BufRead, out: &mut impl Write) -> Exit {
    if exit == Exit::Success {
        return exit;
    }
    // A console that cannot be written to has nobody reading it: nothing to wait for.
    if write!(out, "\nPress Enter to close this window.")
        .and_then(|()| out.flush())
        .is_err()
    {
        return exit;
    }
    let mut line = String::new();
    let _ = input.read_line(&mut line);
    exit
}

/// Whether this process is the only one attached to its console: true when Explorer started it
/// (a new console), false when it runs in PowerShell or cmd (which share theirs) or has no
/// console at all.
#[cfg(windows)]
pub fn owns_console_alone() -> bool {
    use windows_sys::Win32::System::Console::GetConsoleProcessList;
    let mut ids = [0u32; 2];
    // SAFETY: the buffer is valid for `ids.len()` process ids; the call writes at most that many
    // and returns how many processes share the console (0 on failure, e.g. no console).
    let n = unsafe { GetConsoleProcessList(ids.as_mut_ptr(), ids.len() as u32) };
    n == 1
}

/// Whether this process is the only one attached to its console: never, outside Windows (a
/// terminal's shell stays open when a program ends).
#[cfg(not(windows))]
pub fn owns_console_alone() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_double_click_says_what_opens_and_how_to_use_the_command_line() {
        assert!(DOUBLE_CLICK_HELP.contains("opening in your browser"));
        assert!(DOUBLE_CLICK_HELP.contains("PowerShell"));
        assert!(DOUBLE_CLICK_HELP.contains(".\\growatt-onboard.exe demo"));
        assert!(DOUBLE_CLICK_HELP.contains(".\\growatt-onboard.exe template fleet.xlsx"));
    }

    #[test]
    fn an_error_keeps_the_window_open_until_enter() {
        let mut input: &[u8] = b"\nmore\n";
        let mut out = Vec::new();
        assert_eq!(hold_window(Exit::Fatal, &mut input, &mut out), Exit::Fatal);
        assert_eq!(out, b"\nPress Enter to close this window.");
        // One line was read (the Enter), not the rest of the input.
        assert_eq!(input, b"more\n");

        let mut input: &[u8] = b"";
        assert_eq!(
            hold_window(Exit::Fatal, &mut input, &mut Vec::new()),
            Exit::Fatal
        );
    }

    #[test]
    fn a_page_that_ended_well_closes_at_once() {
        let mut input: &[u8] = b"\n";
        let mut out = Vec::new();
        assert_eq!(
            hold_window(Exit::Success, &mut input, &mut out),
            Exit::Success
        );
        assert!(out.is_empty());
        assert_eq!(input, b"\n", "nothing was read");
    }

    #[cfg(not(windows))]
    #[test]
    fn outside_windows_a_terminal_never_counts_as_a_double_click() {
        assert!(!owns_console_alone());
        assert!(!started_by_double_click());
    }
}
