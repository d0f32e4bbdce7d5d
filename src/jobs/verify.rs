//! The `verify` job: confirm that registered devices became linked to their plants.
//!
//! An answer 0 to `device/sn/add` means "accepted": the vendor links the device at once only while
//! it is online, otherwise when it next comes online. `verify` lists each plant's devices
//! (`GET /v1/device/list`, 100 a page, one request per page per plant, never per row) and marks
//! every registered row `linked` or `pending`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::error::StartError;
use super::links::{LinkStatus, Target, VerifyEvent, VerifyReport};
use super::locate;
use super::settings::RequestConfig;
use crate::account::{MAX_PAGES, PER_PAGE};
use crate::api::device_list::{Found, PlantDevices};
use crate::api::Answer;
use crate::engine::{Engine, Job, ListingVerdict, Sink, Stop, Wording};
use crate::exit::Exit;
use crate::input::sn_key;
use crate::journal::{self, ResultsWriter, RunLock, VerifyLine, COLUMNS, VERIFY_COLUMNS};
use crate::outcome::Outcome;

/// Everything `verify` needs, resolved.
#[derive(Debug, Clone)]
pub struct VerifySettings {
    /// The results file to read.
    pub results: PathBuf,
    /// The verify file to append to.
    pub out: PathBuf,
    /// How requests are sent.
    pub request: RequestConfig,
    /// Ask where devices not linked sit.
    pub locate: bool,
    /// Emit an event per request.
    pub attempt_events: bool,
    /// The words of the front, for the reason a run stopped.
    pub wording: Wording,
}

/// Runs `verify` until its rows are checked or `cancel` stops it, telling `events` what it finds.
pub async fn verify(
    cfg: VerifySettings,
    cancel: &CancellationToken,
    events: Sink<VerifyEvent>,
) -> Result<VerifyReport, StartError> {
    if !cfg.results.is_file() {
        return Err(StartError::NoResults(cfg.results.clone()));
    }
    let client = cfg.request.client()?;
    // The same lock as `run`: a verify never reads a results file a run is still writing.
    let lock = RunLock::acquire(&cfg.results, journal::VERIFY_HINT)?;

    // The latest line per serial of the results (as `run` keys them, so a sorted sheet or two
    // inputs sharing one results file lose no device), keeping the registered ones.
    let mut latest: HashMap<u64, Option<Target>> = HashMap::new();
    let opened = journal::scan_log(&cfg.results, &COLUMNS, |r| {
        let text = |i| {
            r.get(i)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let Ok(row) = text(0).parse::<u64>() else {
            return;
        };
        let Some(outcome) = Outcome::parse(&text(4)) else {
            return;
        };
        // A line about the row itself says nothing about its serial's registration.
        if outcome.is_unsent() {
            return;
        }
        let sn = text(2);
        let key = sn_key(sn.trim());
        // As in `run`, a serial once done stays done.
        if latest.get(&key).is_some_and(Option::is_some) && !outcome.is_done() {
            return;
        }
        let target = outcome.is_done().then(|| Target {
            row,
            plant_cell: text(1),
            user_cell: text(3),
            sn,
        });
        latest.insert(key, target);
    })?;
    if let Some(warning) = opened.damaged.describe(&cfg.results) {
        events.emit(VerifyEvent::Warning(warning));
    }

    // Serials an earlier verify found linked are not checked again.
    let mut linked_before: HashSet<u64> = HashSet::new();
    let mut located = locate::Earlier::default();
    let (file, _) = journal::open_log(&cfg.out, &VERIFY_COLUMNS, |r| {
        let Some(line) = VerifyLine::read(r) else {
            return;
        };
        let key = sn_key(line.sn.trim());
        if line.link_status == "linked" {
            linked_before.insert(key);
        } else {
            linked_before.remove(&key);
        }
        located.read(&line);
    })?;

    let mut report = VerifyReport::default();
    let mut by_plant: BTreeMap<u64, Vec<Target>> = BTreeMap::new();
    for target in latest.into_values().flatten() {
        report.registered_rows += 1;
        if linked_before.contains(&sn_key(target.sn.trim())) {
            report.linked_before += 1;
            continue;
        }
        match target.plant_cell.trim().parse::<u64>() {
            Ok(plant) => by_plant.entry(plant).or_default().push(target),
            Err(_) => report.unchecked += 1,
        }
    }

    let engine = Engine::new(
        client,
        cfg.request.engine(cfg.attempt_events),
        events.map(VerifyEvent::Engine),
    );
    let watchers = engine.watch(cancel);
    let mut writer = ResultsWriter::new(&cfg.out, file);

    // Plants are listed concurrently; the engine keeps the pace and the slots.
    let mut tasks = tokio::task::JoinSet::new();
    for (plant, targets) in by_plant {
        let engine = engine.clone();
        tasks.spawn(async move {
            let listing = list_plant(&engine, plant).await;
            (plant, targets, listing)
        });
    }
    let mut write_error = None;
    let mut to_locate = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((plant, mut targets, listing)) = joined else {
            continue;
        };
        targets.sort_by_key(|t| t.row);
        let listing = match listing {
            Listing::Devices(d) => {
                if let Some((count, listed)) = d.claims_more() {
                    report.short_listings.push((plant, count, listed));
                }
                Some(Ok(d))
            }
            Listing::Missing => Some(Err(())),
            Listing::Failed(why) => {
                events.emit(VerifyEvent::PlantUnchecked {
                    plant: targets
                        .first()
                        .map_or(String::new(), |t| t.plant_cell.clone()),
                    rows: targets.len(),
                    why,
                });
                None
            }
            Listing::Stopped => None,
        };
        let Some(listing) = listing else {
            report.unchecked += targets.len() as u64;
            continue;
        };
        report.plants += 1;
        let checked_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        for t in targets {
            let (status, device_status, updated) = match &listing {
                Err(()) => (LinkStatus::PlantMissing, String::new(), String::new()),
                Ok(devices) => match devices.find(&t.sn) {
                    Some(Found::Device(d)) => {
                        (LinkStatus::Linked, d.status.clone(), d.updated.clone())
                    }
                    Some(Found::Collector { devices, updated }) => {
                        report.linked_by_collector += 1;
                        events.emit(VerifyEvent::Collector(crate::account::collector_note(
                            t.row, &t.sn, plant, &devices,
                        )));
                        (LinkStatus::Linked, String::new(), updated.to_string())
                    }
                    None if cfg.locate => {
                        to_locate.push(t);
                        continue;
                    }
                    None => (LinkStatus::Pending, String::new(), String::new()),
                },
            };
            *report.checked.entry(status.as_str()).or_default() += 1;
            let line = VerifyLine {
                row: t.row,
                plant_id: t.plant_cell,
                sn: t.sn,
                link_status: status.as_str().to_string(),
                device_status,
                last_update_time: updated,
                checked_at: checked_at.clone(),
                ..VerifyLine::default()
            };
            if let Err(e) = writer.write_record(line.cells()) {
                write_error = Some(e);
                engine.halt(Stop::Unwritable(String::new()));
                break;
            }
        }
    }
    if write_error.is_none() {
        let pass = locate::pass(
            &engine,
            to_locate,
            &located,
            &mut writer,
            &mut report,
            &events,
        );
        write_error = pass.await.err();
    }
    watchers.end().await;
    let sync = writer.sync();
    report.requests = engine.counters.requests.load(Ordering::Relaxed);
    let mut stop = engine.stop_reason();
    if let Some(e) = write_error.map(Err).unwrap_or(sync).err() {
        stop = Some(Stop::Unwritable(e.to_string()));
    }
    report.stopped = stop
        .as_ref()
        .map(|s| s.describe_job(cfg.wording, Job::Verify));
    let rows_exit = if report.not_linked() > 0 {
        Exit::NeedsAttention
    } else {
        Exit::Success
    };
    report.exit = Some(match &stop {
        Some(s) => s.exit().worst(rows_exit),
        None => rows_exit,
    });
    drop(lock);
    Ok(report)
}

enum Listing {
    Devices(PlantDevices),
    Missing,
    Failed(String),
    Stopped,
}

/// Pages through one plant's devices.
async fn list_plant(engine: &Arc<Engine>, plant: u64) -> Listing {
    let mut devices = PlantDevices::default();
    let mut page = 1;
    loop {
        let label = format!("plant {plant} page {page}");
        let query = [
            ("plant_id", plant.to_string()),
            ("page", page.to_string()),
            ("perpage", PER_PAGE.to_string()),
        ];
        let call = engine
            .call(&label, || engine.client.get("v1/device/list", &query))
            .await;
        let Some((outcome, attempt)) = call.ended() else {
            return Listing::Stopped;
        };
        match engine.policy().listing(&attempt.answer, outcome) {
            ListingVerdict::Page => {}
            ListingVerdict::PlantMissing => return Listing::Missing,
            ListingVerdict::Refused { code } => {
                let msg = match &attempt.answer {
                    Answer::Envelope { msg, .. } => msg.as_str(),
                    _ => "",
                };
                return Listing::Failed(format!("the listing answered {code} {msg}"));
            }
            ListingVerdict::Failed => {
                return Listing::Failed(format!("the listing failed: {}", attempt.answer))
            }
        }
        let more = devices.take_page(&attempt.data.unwrap_or_default(), PER_PAGE);
        if !more || page >= MAX_PAGES {
            return Listing::Devices(devices);
        }
        page += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_path_and_report_text() {
        let mut r = VerifyReport {
            registered_rows: 10,
            linked_before: 3,
            ..VerifyReport::default()
        };
        r.checked.insert("linked", 4);
        r.checked.insert("pending", 2);
        r.unchecked = 1;
        assert_eq!(r.linked(), 7);
        assert_eq!(r.not_linked(), 3);
        let text = r.render();
        assert!(
            text.contains("7 of 10 registered devices linked, 2 still pending"),
            "{text}"
        );
        assert!(text.contains("1 not checked"), "{text}");
    }
}
