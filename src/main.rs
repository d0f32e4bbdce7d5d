use clap::Parser;
use growatt_onboard::{cli::Cli, exit::Exit};

fn main() -> std::process::ExitCode {
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
