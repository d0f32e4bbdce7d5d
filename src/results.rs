//! The results file: one line per row that reached an end, appended and flushed as it ends; read
//! back on the next run to skip what is done; guarded by an OS file lock.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::input::sn_key;
use crate::seen::Seen;

/// The results file's header, in the contract's order.
pub const COLUMNS: [&str; 11] = [
    "row",
    "plant_id",
    "sn",
    "c_user_id",
    "outcome",
    "error_code",
    "error_msg",
    "attempts",
    "http_status",
    "latency_ms",
    "finished_at",
];

/// How a row ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The API answered 0.
    Registered,
    /// The API answered 10003: the device was already associated.
    AlreadyRegistered,
    /// The API answered a code that is not retryable.
    Rejected,
    /// Retryable failures used up `--max-attempts`.
    Failed,
    /// The row failed local validation and was never sent.
    Invalid,
    /// The serial appeared on an earlier row; never sent.
    Duplicate,
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Outcome; 6] = [
        Outcome::Registered,
        Outcome::AlreadyRegistered,
        Outcome::Rejected,
        Outcome::Failed,
        Outcome::Invalid,
        Outcome::Duplicate,
    ];

    /// The word used in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Registered => "registered",
            Outcome::AlreadyRegistered => "already_registered",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Invalid => "invalid",
            Outcome::Duplicate => "duplicate",
        }
    }

    /// Parses the results file's word.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Done for good: a later run skips the row.
    pub fn is_done(self) -> bool {
        matches!(self, Outcome::Registered | Outcome::AlreadyRegistered)
    }

    /// Needs a person (or another run): makes the exit code 3.
    pub fn needs_attention(self) -> bool {
        matches!(self, Outcome::Rejected | Outcome::Failed | Outcome::Invalid)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the results file.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultLine {
    /// The spreadsheet row number (header is row 1).
    pub row: u64,
    /// The `plant_id` cell as read (trimmed).
    pub plant_id: String,
    /// The `sn` cell as read (trimmed).
    pub sn: String,
    /// The `c_user_id` cell as read (trimmed).
    pub c_user_id: String,
    /// How the row ended.
    pub outcome: Outcome,
    /// The API's code, when it answered with one.
    pub error_code: Option<i64>,
    /// The API's message or the tool's explanation.
    pub error_msg: String,
    /// Requests counted against `--max-attempts`.
    pub attempts: u32,
    /// HTTP status of the last answer.
    pub http_status: Option<u16>,
    /// Duration of the last attempt.
    pub latency_ms: Option<u64>,
    /// When the row ended.
    pub finished_at: SystemTime,
}

impl ResultLine {
    /// The CSV cells, neutralised against spreadsheet formulas and kept on one line.
    pub fn cells(&self) -> [String; 11] {
        [
            self.row.to_string(),
            safe_cell(&self.plant_id),
            safe_cell(&self.sn),
            safe_cell(&self.c_user_id),
            self.outcome.as_str().to_string(),
            self.error_code.map(|c| c.to_string()).unwrap_or_default(),
            safe_cell(&self.error_msg),
            self.attempts.to_string(),
            self.http_status.map(|c| c.to_string()).unwrap_or_default(),
            self.latency_ms.map(|c| c.to_string()).unwrap_or_default(),
            humantime::format_rfc3339_millis(self.finished_at).to_string(),
        ]
    }
}

/// Makes a text cell safe to open in a spreadsheet and to read back line by line: line breaks
/// and other control characters become spaces (so one record is always one line, and a torn
/// tail can be found by the last newline), and a cell a spreadsheet would run as a formula gets
/// a leading apostrophe.
pub fn safe_cell(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // Leading spaces do not stop every spreadsheet (some trim on import), so look past them.
    let starts_formula =
        text.starts_with(['\t', '\r']) || clean.trim_start().starts_with(['=', '+', '-', '@']);
    if starts_formula {
        format!("'{clean}")
    } else {
        clean
    }
}

/// A problem with the results file; fatal for the run.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file (or its folder) cannot be opened, read or written.
    #[error("results file {path}: {source}")]
    Io {
        /// The results file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Another run holds the lock.
    #[error("another growatt-onboard run is using {results} (lock {lock} is held); wait for it to end, or pass -o to write elsewhere")]
    Locked {
        /// The results file.
        results: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The file exists but is not a results file of this tool.
    #[error("{path} exists but is not a growatt-onboard results file (its header is '{header}'); pass -o to choose another path, or --restart to set it aside")]
    Foreign {
        /// The results file.
        path: PathBuf,
        /// Its first line.
        header: String,
    },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An exclusive OS lock on `<results>.lock`, released when dropped or when the process dies, so a
/// crashed run never blocks the next one.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    /// The lock file's path, for messages.
    pub path: PathBuf,
}

impl RunLock {
    /// Takes the lock beside `results` or fails at once when another process has it.
    pub fn acquire(results: &Path) -> Result<RunLock, ResultsError> {
        let path = lock_path(results);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(ResultsError::Locked {
                results: results.to_path_buf(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
        }
    }
}

/// `<results>.lock`.
pub fn lock_path(results: &Path) -> PathBuf {
    let mut name = results.as_os_str().to_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// What an earlier run left: the serials already done, and how many lines were read.
#[derive(Debug, Default)]
pub struct Previous {
    /// Serials ([`sn_key`]) with a registered or already_registered line, marked done.
    pub done: Seen,
    /// Whole lines read.
    pub lines: u64,
    /// Bytes cut off a torn last line.
    pub repaired_bytes: u64,
}

/// Sets an existing results file aside for `--restart`: renamed with a timestamp, never deleted.
/// Returns the new name, or `None` when there was nothing to set aside.
pub fn set_aside(results: &Path) -> Result<Option<PathBuf>, ResultsError> {
    if !results.exists() {
        return Ok(None);
    }
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace(':', "");
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = results
        .extension()
        .map(|s| format!(".{}", s.to_string_lossy()))
        .unwrap_or_default();
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let aside = results.with_file_name(format!("{stem}.{stamp}{suffix}{ext}"));
        if !aside.exists() {
            std::fs::rename(results, &aside).map_err(io_err(results))?;
            return Ok(Some(aside));
        }
        n += 1;
    }
}

/// Opens the results file for appending: repairs a torn last line, reads what is done, and
/// writes the header when the file is new or empty.
pub fn open_for_append(path: &Path) -> Result<(File, Previous), ResultsError> {
    let mut done = Seen::default();
    let (file, opened) = open_log(path, &COLUMNS, |record| {
        if let Some(sn) = done_serial(record) {
            done.mark_done(sn_key(sn));
        }
    })?;
    Ok((
        file,
        Previous {
            done,
            lines: opened.lines,
            repaired_bytes: opened.repaired_bytes,
        },
    ))
}

/// The serial of a results record whose outcome is done.
fn done_serial(record: &csv::ByteRecord) -> Option<&str> {
    let outcome = Outcome::parse(std::str::from_utf8(record.get(4)?).ok()?)?;
    if outcome.is_done() {
        std::str::from_utf8(record.get(2)?).ok()
    } else {
        None
    }
}

/// What opening an append-only log found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Opened {
    /// Whole lines read (header excluded).
    pub lines: u64,
    /// Bytes cut off a torn last line.
    pub repaired_bytes: u64,
}

/// Opens an append-only CSV log with the header `columns` (the results file, the verify file):
/// cuts a torn last line, refuses a file with another header, hands every whole record to `each`
/// in file order, and writes the header when the file is new or empty.
pub fn open_log(
    path: &Path,
    columns: &[&str],
    mut each: impl FnMut(&csv::ByteRecord),
) -> Result<(File, Opened), ResultsError> {
    let err = io_err(path);
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(&err)?;
    let mut opened = Opened::default();
    let len = file.metadata().map_err(&err)?.len();
    if len > 0 {
        let whole = whole_length(&mut file, len).map_err(&err)?;
        if whole < len {
            file.set_len(whole).map_err(&err)?;
            opened.repaired_bytes = len - whole;
        }
        file.seek(SeekFrom::Start(0)).map_err(&err)?;
        opened.lines = read_log(path, &mut file, columns, &mut each)?;
        file.seek(SeekFrom::End(0)).map_err(&err)?;
    }
    if file.metadata().map_err(&err)?.len() == 0 {
        let mut header = columns.join(",");
        header.push('\n');
        file.write_all(header.as_bytes()).map_err(&err)?;
        file.flush().map_err(&err)?;
    }
    Ok((file, opened))
}

/// Length of the file up to and including its last newline.
fn whole_length(file: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// Reads what an earlier run left without changing the file (for `check`): a torn last line is
/// ignored, as `run` would cut it. A missing file reads as nothing done.
pub fn read_done(path: &Path) -> Result<Previous, ResultsError> {
    let mut done = Seen::default();
    let opened = scan_log(path, &COLUMNS, |record| {
        if let Some(sn) = done_serial(record) {
            done.mark_done(sn_key(sn));
        }
    })?;
    Ok(Previous {
        done,
        lines: opened.lines,
        repaired_bytes: opened.repaired_bytes,
    })
}

/// Reads a log without changing it: checks the header, hands every whole record to `each`, and
/// ignores a torn last line. A missing file reads as empty.
pub fn scan_log(
    path: &Path,
    columns: &[&str],
    mut each: impl FnMut(&csv::ByteRecord),
) -> Result<Opened, ResultsError> {
    let err = io_err(path);
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::default()),
        Err(e) => return Err(err(e)),
    };
    let len = file.metadata().map_err(&err)?.len();
    let whole = whole_length(&mut file, len).map_err(&err)?;
    file.seek(SeekFrom::Start(0)).map_err(&err)?;
    let mut opened = Opened {
        lines: 0,
        repaired_bytes: len - whole,
    };
    if whole > 0 {
        opened.lines = read_log(path, file.take(whole), columns, &mut each)?;
    }
    Ok(opened)
}

/// Reads a log's records after checking its header; returns how many there were.
fn read_log(
    path: &Path,
    file: impl Read,
    columns: &[&str],
    each: &mut dyn FnMut(&csv::ByteRecord),
) -> Result<u64, ResultsError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let header = reader
        .byte_headers()
        .map_err(|e| io_err(path)(std::io::Error::other(e.to_string())))?
        .clone();
    let names: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    if header.is_empty() || names.iter().map(String::as_str).ne(columns.iter().copied()) {
        return Err(ResultsError::Foreign {
            path: path.to_path_buf(),
            header: crate::input::quote(&names.join(",")),
        });
    }
    let mut record = csv::ByteRecord::new();
    let mut lines = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(lines),
            Err(e) => return Err(io_err(path)(std::io::Error::other(e.to_string()))),
        }
        lines += 1;
        each(&record);
    }
}

/// Writes result lines one at a time, each flushed to the OS as it is written.
pub struct ResultsWriter {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl ResultsWriter {
    /// Wraps a file from [`open_for_append`].
    pub fn new(path: &Path, file: File) -> ResultsWriter {
        ResultsWriter {
            path: path.to_path_buf(),
            writer: csv::WriterBuilder::new()
                .has_headers(false)
                // Larger than any line can be (cells are capped), so each line goes out in one write.
                .buffer_capacity(16 * 1024)
                .from_writer(file),
        }
    }

    /// Appends one whole results line and hands it to the OS, so a killed process loses nothing
    /// written.
    pub fn write(&mut self, line: &ResultLine) -> Result<(), ResultsError> {
        self.write_record(line.cells())
    }

    /// Appends one whole record (cells already made safe) and hands it to the OS.
    pub fn write_record<I, T>(&mut self, cells: I) -> Result<(), ResultsError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.writer
            .write_record(cells)
            .map_err(|e| io_err(&self.path)(std::io::Error::other(e.to_string())))?;
        self.writer.flush().map_err(io_err(&self.path))?;
        Ok(())
    }

    /// Forces written lines to the disk (power loss, not just a crash). A run also syncs a second
    /// handle on the file every second, off the async threads.
    pub fn sync(&mut self) -> Result<(), ResultsError> {
        self.writer.flush().map_err(io_err(&self.path))?;
        self.writer
            .get_ref()
            .sync_data()
            .map_err(io_err(&self.path))?;
        Ok(())
    }
}

/// The default results path: INPUT with `.results.csv` in place of its extension.
pub fn default_results_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fleet".into());
    input.with_file_name(format!("{stem}.results.csv"))
}

/// `<results stem>.summary.json` beside the results file.
pub fn summary_path(results: &Path) -> PathBuf {
    let stem = results
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    results.with_file_name(format!("{stem}.summary.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(row: u64, sn: &str, outcome: Outcome) -> ResultLine {
        ResultLine {
            row,
            plant_id: "1".into(),
            sn: sn.into(),
            c_user_id: "2".into(),
            outcome,
            error_code: Some(0),
            error_msg: String::new(),
            attempts: 1,
            http_status: Some(200),
            latency_ms: Some(12),
            finished_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn cells_are_neutralised_and_single_line() {
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("+1"), "'+1");
        assert_eq!(safe_cell("-1"), "'-1");
        assert_eq!(safe_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_cell("\tx"), "' x");
        assert_eq!(safe_cell("two\nlines\r"), "two lines ");
        assert_eq!(safe_cell("plain"), "plain");
        assert_eq!(safe_cell("\n=1+1"), "' =1+1");
        assert_eq!(safe_cell("  @x"), "'  @x");
        let mut l = line(2, "A1", Outcome::Rejected);
        l.error_code = Some(-1);
        l.error_msg = "=cmd".into();
        let cells = l.cells();
        assert_eq!(cells[5], "-1");
        assert_eq!(cells[6], "'=cmd");
        assert_eq!(cells[10], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn append_resume_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let (file, prev) = open_for_append(&path).unwrap();
        assert_eq!(prev.lines, 0);
        let mut w = ResultsWriter::new(&path, file);
        w.write(&line(2, "aa1", Outcome::Registered)).unwrap();
        w.write(&line(3, "B2", Outcome::Failed)).unwrap();
        w.write(&line(4, "C3", Outcome::AlreadyRegistered)).unwrap();
        w.sync().unwrap();
        drop(w);
        // A torn last line, as a kill -9 mid-write leaves.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"5,1,D4,2,registered,0,,1,200,3,2026-")
            .unwrap();
        drop(f);
        let (_file, prev) = open_for_append(&path).unwrap();
        assert_eq!(prev.lines, 3);
        assert_eq!(prev.repaired_bytes, 36);
        assert!(prev.done.is_done(sn_key("AA1")));
        assert!(prev.done.is_done(sn_key("c3")));
        assert!(!prev.done.is_done(sn_key("B2")));
        assert!(!prev.done.is_done(sn_key("D4")));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 4);
    }

    #[test]
    fn foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, "plant_id,sn,c_user_id\n1,A,2\n").unwrap();
        assert!(matches!(
            open_for_append(&path),
            Err(ResultsError::Foreign { .. })
        ));
    }

    #[test]
    fn lock_is_exclusive_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let first = RunLock::acquire(&path).unwrap();
        let second = RunLock::acquire(&path).unwrap_err();
        assert!(second.to_string().contains("r.csv.lock"), "{second}");
        drop(first);
        assert!(RunLock::acquire(&path).is_ok());
    }

    #[test]
    fn paths() {
        assert_eq!(
            default_results_path(Path::new("/x/fleet.csv")),
            PathBuf::from("/x/fleet.results.csv")
        );
        assert_eq!(
            default_results_path(Path::new("fleet")),
            PathBuf::from("fleet.results.csv")
        );
        assert_eq!(
            summary_path(Path::new("/x/fleet.results.csv")),
            PathBuf::from("/x/fleet.results.summary.json")
        );
    }

    #[test]
    fn set_aside_renames_never_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        assert_eq!(set_aside(&path).unwrap(), None);
        std::fs::write(&path, "x").unwrap();
        let aside = set_aside(&path).unwrap().unwrap();
        assert!(!path.exists());
        assert_eq!(std::fs::read_to_string(aside).unwrap(), "x");
    }
}
