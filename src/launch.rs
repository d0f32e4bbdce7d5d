//! How the program was started, for the one case a command line does not fit: a double-click on
//! `growatt-onboard.exe` in Windows Explorer.
//!
//! Explorer gives a console program a console window of its own, which closes the moment the
//! program ends; without arguments the program would print its usage and vanish before anyone
//! could read it. Started that way, the program instead says what to do and waits for Enter.
//! This is also where a double-click will open the local web page once there is one.

use std::io::{BufRead, Write};

use crate::exit::Exit;

/// What a double-click shows: how to run the program from PowerShell, and the first commands.
pub const DOUBLE_CLICK_HELP: &str = "\
growatt-onboard registers a fleet of Growatt devices, listed in a spreadsheet, with their plants
and end users through the ShineServer OpenAPI.

It is a command-line program: run it from PowerShell rather than by double-clicking.

1. Open PowerShell in this folder: in Explorer, click the address bar, type powershell and
   press Enter.
2. Try it, with no token and nothing sent to Growatt (a built-in simulator answers):
       .\\growatt-onboard.exe demo
3. Make the fill-in sheet for your fleet, then follow its sheet \"How to fill\":
       .\\growatt-onboard.exe template fleet.xlsx
4. Every command and option:
       .\\growatt-onboard.exe --help

README.txt beside this program walks through a whole onboarding.
";

/// With no arguments and a console window of its own (a double-click in Explorer), shows
/// [`DOUBLE_CLICK_HELP`], waits for Enter and returns how to exit; otherwise `None`, and the
/// command line is parsed as usual.
pub fn double_click() -> Option<Exit> {
    if std::env::args_os().len() > 1 || !owns_console_alone() {
        return None;
    }
    Some(greet(&mut std::io::stdin().lock(), &mut std::io::stdout()))
}

/// Writes [`DOUBLE_CLICK_HELP`] and waits for one line (Enter) or the end of `input`, so the
/// window stays open until the person has read it.
pub fn greet(input: &mut impl BufRead, out: &mut impl Write) -> Exit {
    // A console that cannot be written to has nobody reading it: nothing to wait for.
    if write!(
        out,
        "{DOUBLE_CLICK_HELP}\nPress Enter to close this window."
    )
    .and_then(|()| out.flush())
    .is_err()
    {
        return Exit::Success;
    }
    let mut line = String::new();
    let _ = input.read_line(&mut line);
    Exit::Success
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
    fn a_double_click_shows_what_to_do_and_waits_for_enter() {
        let mut input: &[u8] = b"\nmore\n";
        let mut out = Vec::new();
        assert_eq!(greet(&mut input, &mut out), Exit::Success);
        let said = String::from_utf8(out).expect("text");
        assert!(said.contains("PowerShell"), "{said}");
        assert!(said.contains(".\\growatt-onboard.exe demo"), "{said}");
        assert!(
            said.contains(".\\growatt-onboard.exe template fleet.xlsx"),
            "{said}"
        );
        assert!(
            said.ends_with("Press Enter to close this window."),
            "{said}"
        );
        // One line was read (the Enter), not the rest of the input.
        assert_eq!(input, b"more\n");
    }

    #[test]
    fn the_end_of_input_also_closes_the_window() {
        let mut input: &[u8] = b"";
        let mut out = Vec::new();
        assert_eq!(greet(&mut input, &mut out), Exit::Success);
    }

    #[cfg(not(windows))]
    #[test]
    fn outside_windows_a_terminal_never_counts_as_a_double_click() {
        assert!(!owns_console_alone());
    }
}
