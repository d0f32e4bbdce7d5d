use growatt_onboard::exit::Exit;

fn main() -> std::process::ExitCode {
    // A double-click in Windows Explorer: say what to do instead of a window that closes at once.
    if let Some(exit) = growatt_onboard::launch::double_click() {
        return exit.into();
    }
    // The command line, with the fleet's saved settings (growatt-onboard.toml) in front.
    let (cli, saved) = match growatt_onboard::saved::parse_args(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(e) => e.exit(),
    };
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
    runtime
        .block_on(growatt_onboard::execute_with(cli, saved.as_deref()))
        .into()
}
