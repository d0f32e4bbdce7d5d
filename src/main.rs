use clap::Parser;
use growatt_onboard::{cli::Cli, exit::Exit};

fn main() -> std::process::ExitCode {
    // A double-click in Windows Explorer: say what to do instead of a window that closes at once.
    if let Some(exit) = growatt_onboard::launch::double_click() {
        return exit.into();
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("growatt-onboard: error: cannot start the async runtime: {e}");
            return Exit::Fatal.into();
        }
    };
    runtime.block_on(growatt_onboard::execute(cli)).into()
}
