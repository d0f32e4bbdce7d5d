//! The settings file itself, below the command line that reads it: the keys it may hold, the
//! flags its text stands for, what it holds in the page's words, and its new text when the page
//! saves one. Saving changes only the keys the page sets (through `toml_edit`), so a file edited
//! by hand keeps its comments, its other keys and their order.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::input::REQUIRED;
use crate::units::Rate;

/// The name looked for beside the fleet file.
pub const FILE_NAME: &str = "growatt-onboard.toml";

/// Most bytes a settings file may hold.
const MAX_BYTES: u64 = 64 * 1024;

/// The keys a settings file may hold (the long flags' names), besides `[columns]`.
const KEYS: [&str; 15] = [
    "sheet",
    "header-row",
    "region",
    "base-url",
    "token-file",
    "rate",
    "concurrency",
    "timeout",
    "max-attempts",
    "retry-codes",
    "backoff",
    "throttle-pause",
    "cache",
    "out",
    "strict-serials",
];

/// The keys that are switches (`true` gives the flag, `false` leaves it out).
const SWITCH_KEYS: [&str; 1] = ["strict-serials"];

/// The keys of a file that a path value is resolved against its folder.
const PATH_KEYS: [&str; 3] = ["token-file", "cache", "out"];

/// The text of a settings file, read as `run` reads it: a regular file of UTF-8 text, at most
/// 64 KiB.
pub fn read_text(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(|e| crate::text::io_reason(&e))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err("it is not a regular file".into());
    }
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|_| "it is not text (UTF-8)".to_string())?;
    if text.len() as u64 > MAX_BYTES {
        return Err(format!("it is larger than {} KiB", MAX_BYTES / 1024));
    }
    Ok(text)
}

/// The flags a settings file stands for.
pub fn read(path: &Path) -> Result<Vec<OsString>, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    to_args(&read_text(path)?, dir)
}

/// The flags of a settings file's text; paths relative to `dir`.
fn to_args(text: &str, dir: &Path) -> Result<Vec<OsString>, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))?;
    let mut args = Vec::new();
    for (key, value) in &table {
        if key == "columns" {
            let Some(columns) = value.as_table() else {
                return Err("[columns] must be a table such as: sn = \"Serial No.\"".into());
            };
            for (column, header) in columns {
                let Some(header) = header.as_str() else {
                    return Err(format!(
                        "[columns] {column} must be a header name in quotes"
                    ));
                };
                args.push(OsString::from("--column"));
                args.push(OsString::from(format!("{column}={header}")));
            }
            continue;
        }
        if !KEYS.contains(&key.as_str()) {
            return Err(format!(
                "'{}' is not a setting it can hold; the settings are {} and a [columns] table",
                crate::text::quote(key),
                KEYS.join(", ")
            ));
        }
        if SWITCH_KEYS.contains(&key.as_str()) {
            match value {
                toml::Value::Boolean(true) => args.push(OsString::from(format!("--{key}"))),
                toml::Value::Boolean(false) => {}
                _ => return Err(format!("{key} must be true or false")),
            }
            continue;
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            _ => return Err(format!("{key} must be text or a number")),
        };
        args.push(OsString::from(format!("--{key}")));
        if PATH_KEYS.contains(&key.as_str()) && Path::new(&text).is_relative() {
            args.push(dir.join(text).into_os_string());
        } else {
            args.push(OsString::from(text));
        }
    }
    Ok(args)
}

/// What a settings file holds, in the page's words: each setting as the file writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    /// `rate`.
    pub rate: Option<String>,
    /// `concurrency`.
    pub concurrency: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `base-url`.
    pub base_url: Option<String>,
    /// `sheet`.
    pub sheet: Option<String>,
    /// `token-file`, as written (relative to the file's folder unless absolute).
    pub token_file: Option<String>,
    /// The `[columns]` table: the header each of plant_id, sn and c_user_id is read from.
    pub columns: BTreeMap<String, String>,
    /// The other keys it holds (`timeout`, `max-attempts`, …), which saving leaves as they are.
    pub other: Vec<String>,
}

/// What the text of a settings file holds; refused in the words `run` and `check` refuse it in.
pub fn held(text: &str) -> Result<Held, String> {
    to_args(text, Path::new("."))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))?;
    let mut held = Held::default();
    for (key, value) in &table {
        let shown = match value {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Integer(n) => Some(n.to_string()),
            toml::Value::Float(f) => Some(f.to_string()),
            _ => None,
        };
        match key.as_str() {
            "rate" => held.rate = shown,
            "concurrency" => held.concurrency = shown,
            "region" => held.region = shown,
            "base-url" => held.base_url = shown,
            "sheet" => held.sheet = shown,
            "token-file" => held.token_file = shown,
            "columns" => {
                for (column, header) in value.as_table().into_iter().flatten() {
                    if let Some(header) = header.as_str() {
                        held.columns.insert(column.clone(), header.to_string());
                    }
                }
            }
            other => held.other.push(other.to_string()),
        }
    }
    Ok(held)
}

/// The server a saved file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A regional server by its `--region` name (`eu`, `us`, …).
    Region(String),
    /// A base URL (a rehearsal on the simulator, say).
    BaseUrl(String),
}

/// What the page saves in a settings file: the settings its run of the fleet uses.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The headers plant_id, sn and c_user_id are read from.
    pub columns: [String; 3],
    /// The sheet of a workbook; `None` removes the key, so the first sheet is read.
    pub sheet: Option<String>,
    /// The server.
    pub server: Place,
    /// The token's file, when the token came from one; `None` leaves the key as it is. The token
    /// itself is never among the settings.
    pub token_file: Option<PathBuf>,
    /// The pace.
    pub rate: Rate,
    /// Requests in flight.
    pub concurrency: u32,
}

/// What opens a settings file the page writes afresh.
const TITLE: &str = "# growatt-onboard's saved settings: `run` and `check` read them for the fleet beside this\n# file. Written from the page; edit freely: saving again keeps comments and other keys.\n";

/// The new text of a settings file: `old` (one edited by hand, say) with the chosen settings set
/// and everything else kept, or a new file when there is none. Refused when `old` is not TOML or
/// holds what `run` would refuse, for then saving could not keep it as it is.
pub fn merged(old: Option<&str>, chosen: &Chosen) -> Result<String, String> {
    let mut doc: DocumentMut = match old {
        Some(text) => text
            .parse()
            .map_err(|e: toml_edit::TomlError| format!("it is not valid TOML: {}", e.message()))?,
        None => DocumentMut::new(),
    };
    if let Some(text) = old {
        to_args(text, Path::new("."))?;
    }
    let root = doc.as_table_mut();
    match &chosen.server {
        Place::Region(r) => {
            put(root, "region", r.as_str().into());
            root.remove("base-url");
        }
        Place::BaseUrl(u) => {
            put(root, "base-url", u.as_str().into());
            root.remove("region");
        }
    }
    if let Some(path) = chosen.token_file.as_deref().and_then(Path::to_str) {
        put(root, "token-file", path.into());
    }
    match &chosen.sheet {
        Some(sheet) => put(root, "sheet", sheet.as_str().into()),
        None => {
            root.remove("sheet");
        }
    }
    put(root, "rate", chosen.rate.to_string().into());
    put(root, "concurrency", i64::from(chosen.concurrency).into());
    if !root.get("columns").is_some_and(Item::is_table_like) {
        root.insert("columns", Item::Table(Table::new()));
    }
    if let Some(columns) = root.get_mut("columns").and_then(Item::as_table_like_mut) {
        for (key, header) in REQUIRED.iter().zip(&chosen.columns) {
            put(columns, key, header.as_str().into());
        }
    }
    if old.is_none() {
        let first = root.iter().next().map(|(k, _)| k.to_string());
        if let Some(mut key) = first.and_then(|k| root.key_mut(&k)) {
            key.leaf_decor_mut().set_prefix(TITLE);
        }
    }
    Ok(doc.to_string())
}

/// Sets `key` to `value`, keeping what surrounds an old value (the spaces, a comment after it).
fn put(table: &mut dyn TableLike, key: &str, mut value: Value) {
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            *value.decor_mut() = old.decor().clone();
            *old = value;
        }
        _ => {
            table.insert(key, Item::Value(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_stands_for_the_flags_it_names() {
        let args = to_args(
            "rate = \"2/s\"\nconcurrency = 3\ntoken-file = \"t.txt\"\n[columns]\nsn = \"Serial No.\"\n",
            Path::new("/fleets"),
        )
        .unwrap();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for pair in [
            ["--rate", "2/s"],
            ["--concurrency", "3"],
            ["--column", "sn=Serial No."],
        ] {
            assert!(args.windows(2).any(|w| w == pair), "{args:?}");
        }
        assert!(args.windows(2).any(|w| w[0] == "--token-file"
            && w[1].ends_with("t.txt")
            && w[1].starts_with("/fleets")));
        let strict = to_args("strict-serials = true", Path::new(".")).unwrap();
        assert_eq!(strict, [OsString::from("--strict-serials")]);
        assert!(to_args("strict-serials = false", Path::new("."))
            .unwrap()
            .is_empty());
        assert!(to_args("strict-serials = \"yes\"", Path::new("."))
            .unwrap_err()
            .contains("true or false"));
        let e = to_args("colums = 1", Path::new(".")).unwrap_err();
        assert!(e.contains("'colums' is not a setting"), "{e}");
        assert!(to_args("rate = [", Path::new("."))
            .unwrap_err()
            .contains("not valid TOML"));
    }

    fn chosen() -> Chosen {
        Chosen {
            columns: ["Plant ID", "Serial No.", "Customer ID"].map(String::from),
            sheet: Some("Fleet".into()),
            server: Place::Region("us".into()),
            token_file: None,
            rate: "5/s".parse().unwrap(),
            concurrency: 3,
        }
    }

    #[test]
    fn a_new_file_holds_what_the_page_chose_and_reads_back_as_the_flags() {
        let text = merged(None, &chosen()).unwrap();
        assert!(
            text.starts_with("# growatt-onboard's saved settings"),
            "{text}"
        );
        let held = held(&text).unwrap();
        assert_eq!(held.rate.as_deref(), Some("5/s"));
        assert_eq!(held.concurrency.as_deref(), Some("3"));
        assert_eq!(held.region.as_deref(), Some("us"));
        assert_eq!(held.sheet.as_deref(), Some("Fleet"));
        assert_eq!(held.columns["sn"], "Serial No.");
        assert!(held.other.is_empty());
        let args: Vec<String> = to_args(&text, Path::new("."))
            .unwrap()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for pair in [
            ["--column", "plant_id=Plant ID"],
            ["--column", "c_user_id=Customer ID"],
            ["--rate", "5/s"],
            ["--region", "us"],
        ] {
            assert!(args.windows(2).any(|w| w == pair), "{args:?}");
        }
    }

    #[test]
    fn saving_over_a_hand_edited_file_keeps_its_comments_and_other_keys() {
        let old = "# night shift\nrate = \"1/s\"   # slow at night\ntimeout = \"10s\"\nbase-url = \"http://127.0.0.1:9\"\n\n[columns] # the office's words\nsn = \"Serial\"\n";
        let text = merged(Some(old), &chosen()).unwrap();
        for kept in [
            "# night shift\n",
            "rate = \"5/s\"   # slow at night\n",
            "timeout = \"10s\"\n",
            "[columns] # the office's words\n",
            "sn = \"Serial No.\"\n",
        ] {
            assert!(text.contains(kept), "{kept:?} in:\n{text}");
        }
        assert!(
            !text.contains("base-url"),
            "a region replaces the base URL:\n{text}"
        );
        assert!(!text.contains("# growatt-onboard's saved"), "{text}");
        assert_eq!(held(&text).unwrap().other, ["timeout"]);
        // Columns written inline stay inline.
        let inline = merged(Some("columns = { sn = \"S\" }\n"), &chosen()).unwrap();
        assert!(
            inline.contains("columns = { sn = \"Serial No.\""),
            "{inline}"
        );
        // A token file is a path, never a token.
        let mut with_file = chosen();
        with_file.token_file = Some(PathBuf::from("/keys/token.txt"));
        with_file.server = Place::BaseUrl("http://127.0.0.1:8080/".into());
        let text = merged(Some("region = \"eu\"\n"), &with_file).unwrap();
        assert!(text.contains("token-file = \"/keys/token.txt\""), "{text}");
        assert!(!text.contains("region"), "{text}");
    }

    #[test]
    fn a_file_that_cannot_be_kept_is_refused_in_words() {
        let e = merged(Some("rate = ["), &chosen()).unwrap_err();
        assert!(e.starts_with("it is not valid TOML"), "{e}");
        let e = merged(Some("colums = 1"), &chosen()).unwrap_err();
        assert!(e.contains("'colums' is not a setting"), "{e}");
    }
}
