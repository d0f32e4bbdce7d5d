//! Command-line definitions only; `config` turns them into resolved settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::api::Region;
use crate::units::{parse_duration, parse_probability, parse_row, parse_secs, Rate};

/// Register a fleet of Growatt devices with their plants and end-user accounts, from a CSV, .xlsx,
/// .xls or .ods file, through the ShineServer OpenAPI: paced, concurrent, retrying and resumable.
#[derive(Debug, Parser)]
#[command(
    name = "growatt-onboard",
    version = crate::version::LONG,
    propagate_version = true,
    args_override_self = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register every row of INPUT with POST /v1/device/sn/add.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Validate INPUT exactly as `run` would; send nothing.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Serve the built-in Growatt API simulator on loopback (for rehearsals, tests and benchmarks).
    #[command(after_help = SIM_EXAMPLES)]
    Sim(SimArgs),
    /// Confirm that registered devices are linked to their plants, via GET /v1/device/list.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Serve a local web page that does what the command line does: upload a fleet, map its
    /// columns, check it, run, stop, verify, download the results and reports.
    #[command(after_help = UI_EXAMPLES)]
    Ui(UiArgs),
    /// Start the simulator in-process and run the bundled sample fleet against it, end to end.
    Demo(DemoArgs),
    /// The account's plants and end users, cached locally for `check --account` and `run --account`.
    #[command(after_help = ACCOUNT_EXAMPLES)]
    Account(AccountArgs),
    /// Write a fill-in fleet workbook (.xlsx, ids and serials as text) or a CSV header to start from.
    #[command(after_help = TEMPLATE_EXAMPLES)]
    Template(TemplateArgs),
    /// Summarise a results file: counts, codes, rows needing attention, run history.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(
        after_help = "Examples:\n  growatt-onboard completions bash > /etc/bash_completion.d/growatt-onboard\n  growatt-onboard completions zsh > \"${fpath[1]}/_growatt-onboard\"\n  growatt-onboard completions fish \\\n    > ~/.config/fish/completions/growatt-onboard.fish"
    )]
    Completions(CompletionsArgs),
    /// Write the man pages (growatt-onboard.1 and one per command) into a folder.
    #[command(
        after_help = "Example:\n  growatt-onboard manpage /usr/local/share/man/man1 && man growatt-onboard"
    )]
    Manpage(ManpageArgs),
}

const RUN_EXAMPLES: &str = "Examples:
  export GROWATT_TOKEN=...            # your 32-character OpenAPI token
  growatt-onboard run fleet.csv   # writes fleet.results.csv; again to go on
  growatt-onboard run fleet.xlsx --sheet Fleet --column sn=\"Serial number\"
  growatt-onboard run fleet.csv --region us --rate 30/min \\
    -o /var/lib/onboard/results.csv
  growatt-onboard run fleet.csv --base-url http://127.0.0.1:8080 \\
    --token-file token.txt";

const UI_EXAMPLES: &str = "Examples:
  growatt-onboard ui                      # opens the page in the default browser
  growatt-onboard ui --no-open --listen 127.0.0.1:8844 --dir ~/fleets
  growatt-onboard demo --ui               # the page against the simulator, the sample fleet loaded

The first line on stdout is the page's address with this launch's key; the page and its API
answer only to it, on loopback. Each uploaded fleet gets a folder under --dir holding its copy,
results, summary and history, which `run`, `report` and `verify` work on from a terminal too.";

const VERIFY_EXAMPLES: &str = "Examples:
  growatt-onboard verify fleet.results.csv    # writes fleet.results.verify.csv
  # again later: only the rows not yet linked are checked
  growatt-onboard verify fleet.results.csv --region us --rate 1/min";

const CHECK_EXAMPLES: &str = "Examples:
  growatt-onboard check fleet.csv    # problems per row, what `run` would send
  growatt-onboard check fleet.csv -o results.csv  # also count rows done
  growatt-onboard check fleet.csv --account  # plants, users the account lacks";

const ACCOUNT_EXAMPLES: &str = "Examples:
  growatt-onboard account pull  # plants and users (10 listing calls a day)
  growatt-onboard account show   # counts, age, partial or complete
  growatt-onboard check fleet.csv --account";

const SIM_EXAMPLES: &str = "Examples:
  growatt-onboard sim --listen 127.0.0.1:8080
  growatt-onboard sim --latency-ms 200 --fail-rate 0.1 --throttle 5/s --seed 7
  export GROWATT_TOKEN=0123456789abcdef0123456789abcdef   # the simulator's
  growatt-onboard run samples/fleet.csv --base-url http://127.0.0.1:8080";

/// Reading the input, shared by `run` and `check`.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// The fleet file: CSV, .xlsx, .xls or .ods, with the columns plant_id, sn, c_user_id (any
    /// order, other columns ignored).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// The results file [default: INPUT with .results.csv in place of its extension].
    #[arg(short = 'o', long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Map a required column (or the optional skip column) to the header your sheet uses, e.g. --column plant_id="Plant ID" (repeatable).
    #[arg(long = "column", value_name = "KEY=HEADER")]
    pub columns: Vec<String>,
    /// The sheet to read from a spreadsheet file (.xlsx, .xls, .ods) [default: the first].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// The header's row number, as the spreadsheet shows it; the rows above it are skipped
    /// [default: the first of the top 20 rows that holds plant_id, sn and c_user_id].
    #[arg(long, value_name = "N", value_parser = parse_row)]
    pub header_row: Option<u64>,
    /// Saved settings (column mapping, sheet, server, token file, pace) [default: growatt-onboard.toml beside INPUT, when there is one].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Make a row invalid, not just warned about, when its serial was stored as a number in the
    /// sheet or is a short all-digit outlier (a spreadsheet may have dropped leading zeros or an E).
    #[arg(long)]
    pub strict_serials: bool,
}

/// Options of `run`.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub input: InputArgs,
    /// Set an existing results file aside (renamed, never deleted) and start over.
    #[arg(long)]
    pub restart: bool,
    /// Validate and report like `check`; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// End the run (exit 4) once only rows refused by the API's rate limit (10012) are left,
    /// instead of waiting out their cooldown; the next run (cron) sends them.
    #[arg(long)]
    pub leave_throttled: bool,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub account: AccountUse,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub send: SendArgs,
}

/// Calling the API: how (pace, retries, limits) and where (server, token), shared by every
/// command that sends.
#[derive(Debug, Args, Clone)]
pub struct ApiArgs {
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub request: RequestArgs,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub server: ServerArgs,
}

/// Calling the API from a terminal that shows the progress: `run`, `verify`, `account pull`.
#[derive(Debug, Args, Clone)]
pub struct SendArgs {
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub api: ApiArgs,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub output: OutputArgs,
}

/// Pacing, retries and limits, shared by every command that calls the API.
#[derive(Debug, Args, Clone)]
pub struct RequestArgs {
    /// Most requests started per unit of time, retries included: N/s, N/min, N/h or N (per second).
    #[arg(long, default_value = "2/s", value_name = "RATE")]
    pub rate: Rate,
    /// Most requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Attempts per row, the first included, for retryable failures.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// API codes treated as transient (comma-separated).
    #[arg(
        long,
        default_value = "10001",
        value_name = "LIST",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub retry_codes: Vec<i64>,
    /// Per-request time limit: seconds (fractional allowed) or a duration such as 30s, 2m, 500ms.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_secs)]
    pub timeout: f64,
    /// Delay before the first retry; it doubles with each further retry, up to 60s (with jitter).
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration)]
    pub backoff: std::time::Duration,
    /// The cooldown: a row answered 10012 (frequency limit) is sent again this long after; retries wait it too once the API refused a repeated request. Other rows keep flowing.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub throttle_pause: std::time::Duration,
    /// Stop starting new rows after this long (90s, 10m, 2h); rows not reached stay for the next run.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_runtime: Option<std::time::Duration>,
}

/// Format of stderr lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where to send, and with which token.
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// The regional server.
    #[arg(long, value_enum, default_value_t = RegionArg::Eu)]
    pub region: RegionArg,
    /// Override the server's base URL (https://, or http:// to a loopback host only).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Read the token from this file instead of the GROWATT_TOKEN environment variable.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

/// Output control.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// No progress bar (and, without a terminal, no progress lines).
    #[arg(long)]
    pub no_progress: bool,
    /// Without a terminal (cron), print a progress line this often.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub progress_interval: std::time::Duration,
    /// Format of what goes to stderr: text, or one JSON object per line for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Only errors and the final summary line.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: -v per row, -vv per request (the token is never shown).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The regional servers, as the flag names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RegionArg {
    /// Europe and the rest of the world (the default server).
    Eu,
    /// North America.
    Us,
    /// China.
    Cn,
    /// Australia.
    Au,
    /// The vendor's test server.
    Test,
}

impl From<RegionArg> for Region {
    fn from(r: RegionArg) -> Region {
        match r {
            RegionArg::Eu => Region::Eu,
            RegionArg::Us => Region::Us,
            RegionArg::Cn => Region::Cn,
            RegionArg::Au => Region::Au,
            RegionArg::Test => Region::Test,
        }
    }
}

/// Options of `verify`.
#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    /// A results file written by `run`.
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// For rows still not linked, ask where the device sits (POST /v1/plant/sn_plant, one
    /// request per serial, never again within 5 minutes) and mark those on another plant `elsewhere`.
    #[arg(long)]
    pub locate: bool,
    /// The verify file [default: RESULTS with .verify.csv in place of its extension].
    #[arg(short = 'o', long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub send: SendArgs,
}

const REPORT_EXAMPLES: &str = "Examples:
  growatt-onboard report fleet.results.csv                     # text on stdout
  growatt-onboard report fleet.results.csv --html report.html  # a web page
  growatt-onboard report fleet.results.csv --xlsx report.xlsx  # for Excel
  growatt-onboard report fleet.results.csv --fleet new/fleet.csv  # it moved";

/// Options of `report`.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// A results file written by `run`.
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// Write a self-contained HTML page here instead of the text summary.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Write the latest outcome per row as an Excel workbook (.xlsx) here, instead of the text
    /// summary: it opens as columns in any locale, ids and serials stay text.
    #[arg(long, value_name = "PATH")]
    pub xlsx: Option<PathBuf>,
    /// The fleet whose rows are counted, each with its latest result [default: the fleet file the last run read].
    #[arg(long, value_name = "PATH")]
    pub fleet: Option<PathBuf>,
    /// Map a required column of the fleet to its header, as for run (repeatable) [default: as the last run read it].
    #[arg(long = "column", value_name = "KEY=HEADER")]
    pub columns: Vec<String>,
    /// The sheet of the fleet to read (.xlsx, .xls, .ods) [default: as the last run read it].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// The fleet's header row, as for run [default: as the last run read it].
    #[arg(long, value_name = "N", value_parser = parse_row)]
    pub header_row: Option<u64>,
    /// Saved settings to read the fleet's column mapping and sheet from [default: growatt-onboard.toml beside the fleet given with --fleet, when there is one].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

const TEMPLATE_EXAMPLES: &str = "Examples:
  growatt-onboard template fleet.xlsx   # fill in the sheet Fleet, then:
  growatt-onboard check fleet.xlsx
  growatt-onboard template fleet.csv    # just the header line";

/// Options of `template`.
#[derive(Debug, Args, Clone)]
pub struct TemplateArgs {
    /// Where to write it: a name ending in .xlsx (the workbook) or .csv (the header alone).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Replace PATH if it exists (without it, an existing file is never touched).
    #[arg(long)]
    pub force: bool,
}

/// Options of `completions`.
#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `manpage`.
#[derive(Debug, Args, Clone)]
pub struct ManpageArgs {
    /// The folder to write into.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Options of `check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub input: InputArgs,
    /// Only the counts, not every problem row.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub account: AccountUse,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub api: ApiArgs,
}

/// Using the account cache in `check` and `run`.
#[derive(Debug, Args, Clone, Default)]
pub struct AccountUse {
    /// Flag rows whose plant or user the account lacks, before any add (pulls the account
    /// cache first when there is none).
    #[arg(long)]
    pub account: bool,
    /// The folder of the account caches [default: the platform's cache folder].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

/// Options of `ui`.
#[derive(Debug, Args, Clone)]
pub struct UiArgs {
    /// Where the page listens: a loopback address only; the port is free by default.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Do not open the page in the default browser; only print its address.
    #[arg(long)]
    pub no_open: bool,
    /// The folder that holds one folder per fleet [default: the platform's data folder].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The folder of the account caches [default: the platform's cache folder].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub api: ApiArgs,
}

/// Options of `account`.
#[derive(Debug, Args, Clone)]
pub struct AccountArgs {
    /// What to do with the cache.
    #[command(subcommand)]
    pub command: AccountCommand,
}

/// The `account` commands.
#[derive(Debug, Subcommand, Clone)]
pub enum AccountCommand {
    /// List the account's plants and end users (100 a page) into the cache; goes on from where
    /// an earlier pull stopped.
    Pull(AccountPullArgs),
    /// Print what the cache holds: counts, age, partial or complete.
    Show(AccountShowArgs),
}

/// Options of `account pull`.
#[derive(Debug, Args, Clone)]
pub struct AccountPullArgs {
    /// The folder of the account caches [default: the platform's cache folder].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Call past the vendor's documented cap of 10 listing calls a day per endpoint.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub send: SendArgs,
}

/// Options of `account show`.
#[derive(Debug, Args, Clone)]
pub struct AccountShowArgs {
    /// The folder of the account caches [default: the platform's cache folder].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub server: ServerArgs,
}

/// Options of `sim`.
#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Address to listen on (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The token the simulator accepts; anything else gets 10011.
    #[arg(long, default_value = growatt_sim::DEFAULT_TOKEN, value_name = "TOKEN", hide_default_value = false)]
    pub token: String,
    /// World state (plants, users, devices, associations) as JSON [default: the one matching samples/].
    #[arg(long, value_name = "PATH")]
    pub fixture: Option<PathBuf>,
    /// Added delay per request, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,
    /// Uniform jitter around the latency, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub jitter_ms: u64,
    /// Share of requests answered 10001 (system error), 0 to 1.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability)]
    pub fail_rate: f64,
    /// Share of requests left unanswered for --hang-ms (to provoke client timeouts), 0 to 1.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability)]
    pub hang_rate: f64,
    /// How long a hanging request waits before it answers, in milliseconds.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub hang_ms: u64,
    /// Answer 10012 (frequency limit) above this rate: N/s, N/min, N/h or N.
    #[arg(long, value_name = "RATE")]
    pub throttle: Option<Rate>,
    /// Which per-request limit also answers 10012: bucket (only --throttle), cooldown (the
    /// identical request within --cooldown), spacing (one call per endpoint per --spacing).
    #[arg(long, default_value = "bucket", value_name = "MODEL")]
    pub throttle_model: growatt_sim::ThrottleModel,
    /// How long the identical request is refused, with --throttle-model cooldown.
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub cooldown: std::time::Duration,
    /// Least time between two calls of one endpoint, with --throttle-model spacing.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration)]
    pub spacing: std::time::Duration,
    /// Calls a day allowed on each listing endpoint (plant/list, user/c_user_list).
    #[arg(long, value_name = "N")]
    pub daily_cap: Option<u32>,
    /// Share of distinct requests whose first arrival is answered 10001 (repeats are not), 0 to 1.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability)]
    pub fail_first_rate: f64,
    /// What the server is: api, legacy-domain (answers -1), wrong-region (answers 10011),
    /// login-page (an HTML login page instead of JSON).
    #[arg(long, default_value = "api", value_name = "MODE")]
    pub mode: growatt_sim::ServerMode,
    /// Seed for the random draws, so runs repeat exactly.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// An offline device's association links (shows on its plant) this long after the add
    /// [default: only when marked online with POST /__sim/online?sn=SN].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub link_delay: Option<std::time::Duration>,
    /// Open world, for fleets of any size without a fixture: every numeric plant exists, every
    /// numeric user belongs to it, every serial of letters and digits exists (online).
    #[arg(long)]
    pub open_world: bool,
    /// Answer plant/list Brotli-compressed (Content-Encoding: br) to a client that accepts br,
    /// as the live server was seen doing.
    #[arg(long)]
    pub brotli_plant_list: bool,
}

/// Options of `demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Folder for the demo's fleet, results and summary [default: a new folder under the system's temp dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The pace of the demo run.
    #[arg(long, default_value = "25/s", value_name = "RATE")]
    pub rate: Rate,
    /// Open the web page instead, against the simulator, with the sample fleet loaded: the
    /// rehearsal for a first-time user. Ctrl-C ends it.
    #[arg(long)]
    pub ui: bool,
    /// With --ui: only print the page's address, do not open a browser.
    #[arg(long, requires = "ui")]
    pub no_open: bool,
    #[command(flatten)]
    #[allow(missing_docs)] // clap flattens the group's own docs
    pub output: OutputArgs,
}
