use growatt_onboard::exit::Exit;

fn main() -> std::process::ExitCode {
    // A double-click in Windows Explorer opens the page, in a window that stays open.
    let double_click = growatt_onboard::launch::started_by_double_click();
    let args = if double_click {
        growatt_onboard::launch::double_click_args()
    } else {
        std::env::args_os().collect()
    };
    // The command line, with the fleet's saved settings (growatt-onboard.toml) in front.
    let (cli, saved) = match growatt_onboard::saved::parse_args(args) {
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
    let exit = runtime.block_on(growatt_onboard::execute_with(cli, saved.as_deref()));
    if double_click {
        let stdin = std::io::stdin();
        growatt_onboard::launch::hold_window(exit, &mut stdin.lock(), &mut std::io::stdout());
    }
    exit.into()
}
