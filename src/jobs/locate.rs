//! `verify`'s locating pass: where the devices not found on their plant sit, with one
//! `plant/sn_plant` request per serial through the engine, never asked again within the vendor's
//! 5-minute cooldown (an answer younger than that, from the verify file, is used instead).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;

use super::links::{LinkStatus, Target, VerifyEvent, VerifyReport};
use crate::account::{locate, Located};
use crate::engine::{Engine, Sink};
use crate::input::sn_key;
use crate::journal::{ResultsError, ResultsWriter, VerifyLine};

/// The vendor's cooldown for the same `sn_plant` request.
pub const COOLDOWN: Duration = Duration::from_secs(300);

/// Where earlier `--locate` runs found devices: serial key → (when, plant, user).
#[derive(Debug, Default)]
pub(super) struct Earlier {
    by_sn: HashMap<u64, (SystemTime, Option<u64>, Option<u64>)>,
}

impl Earlier {
    /// Notes one line of the verify file (older files have no `located_*` cells: nothing to note).
    pub(super) fn read(&mut self, line: &VerifyLine) {
        let Ok(at) = humantime::parse_rfc3339(line.located_at.trim()) else {
            return;
        };
        self.by_sn.insert(
            sn_key(&line.sn),
            (at, line.located_plant_id, line.located_user_id),
        );
    }

    /// An answer for `sn` young enough to stand in for a new request. One stamped in the future
    /// (a clock that was ahead, or a file from elsewhere) is not: its age is unknown.
    fn recent(&self, sn: &str) -> Option<(SystemTime, Located)> {
        let (at, plant, user) = self.by_sn.get(&sn_key(sn))?;
        let age = SystemTime::now().duration_since(*at).ok()?;
        (age < COOLDOWN).then(|| {
            let located = match plant {
                Some(plant_id) => Located::On {
                    plant_id: *plant_id,
                    user_id: *user,
                },
                None => Located::Nowhere,
            };
            (*at, located)
        })
    }
}

/// Questions in progress at once, at least: each is a task holding its row, so a bound keeps
/// memory flat at any number of rows; questions waiting out a retry or a cooldown no longer
/// count (their number is bounded by the pace times the wait).
const IN_PROGRESS: usize = 256;

/// Whether a plant cell names the plant `id`: as numbers, so `01003` is plant 1003.
pub(super) fn names_plant(cell: &str, id: u64) -> bool {
    cell.trim().parse::<u64>().is_ok_and(|cell| cell == id)
}

/// Locates every target, writes its line, and counts it in `report`: in row order, with a
/// bounded number of questions in progress, each line written as its answer comes.
pub(super) async fn pass(
    engine: &Arc<Engine>,
    mut targets: Vec<Target>,
    earlier: &Earlier,
    writer: &mut ResultsWriter,
    report: &mut VerifyReport,
    events: &Sink<VerifyEvent>,
) -> Result<(), ResultsError> {
    targets.sort_unstable_by_key(|t| t.row);
    let in_progress = Arc::new(Semaphore::new(IN_PROGRESS.max(engine.concurrency() * 16)));
    let mut tasks = tokio::task::JoinSet::new();
    for t in targets {
        if let Some((at, located)) = earlier.recent(&t.sn) {
            record(t, at, located, writer, report, events)?;
            continue;
        }
        let permit = tokio::select! {
            biased;
            _ = engine.stop.cancelled() => None,
            p = in_progress.clone().acquire_owned() => p.ok(),
        };
        let Some(permit) = permit else {
            // The run stopped: the rows not asked for stay unchecked.
            report.unchecked += 1;
            continue;
        };
        let engine = engine.clone();
        tasks.spawn(async move {
            let located = locate(&engine, t.sn.trim(), Some(permit)).await;
            (t, SystemTime::now(), located)
        });
        while let Some(joined) = tasks.try_join_next() {
            if let Ok((t, at, located)) = joined {
                record(t, at, located, writer, report, events)?;
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok((t, at, located)) = joined {
            record(t, at, located, writer, report, events)?;
        }
    }
    Ok(())
}

/// One located row: its status counted, its line written, and a notice of where it sits unless
/// that is its own plant.
fn record(
    t: Target,
    at: SystemTime,
    located: Located,
    writer: &mut ResultsWriter,
    report: &mut VerifyReport,
    events: &Sink<VerifyEvent>,
) -> Result<(), ResultsError> {
    let (status, plant, user) = match &located {
        Located::Stopped => {
            report.unchecked += 1;
            return Ok(());
        }
        Located::On { plant_id, user_id } if !names_plant(&t.plant_cell, *plant_id) => {
            (LinkStatus::Elsewhere, Some(*plant_id), *user_id)
        }
        Located::On { plant_id, user_id } => (LinkStatus::Pending, Some(*plant_id), *user_id),
        Located::Nowhere | Located::Unknown(_) => (LinkStatus::Pending, None, None),
    };
    *report.checked.entry(status.as_str()).or_default() += 1;
    let located_at = match located {
        Located::Unknown(_) => String::new(),
        _ => humantime::format_rfc3339_seconds(at).to_string(),
    };
    let line = VerifyLine {
        row: t.row,
        plant_id: t.plant_cell.clone(),
        sn: t.sn.clone(),
        link_status: status.as_str().to_string(),
        checked_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        located_plant_id: plant,
        located_user_id: user,
        located_at,
        ..VerifyLine::default()
    };
    writer.write_record(line.cells())?;
    if !matches!(located, Located::On { .. } if status == LinkStatus::Pending) {
        events.emit(VerifyEvent::Located {
            row: t.row,
            sn: t.sn,
            plant_cell: t.plant_cell,
            user_cell: t.user_cell,
            located,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plant_cells_and_ids_compare_as_numbers() {
        assert!(names_plant("01003", 1003));
        assert!(names_plant(" 0001003 ", 1003));
        assert!(names_plant("1003", 1003));
        assert!(!names_plant("10030", 1003));
        assert!(!names_plant("", 1003));
        assert!(!names_plant("abc", 1003));
    }

    #[test]
    fn an_answer_stamped_in_the_future_is_not_recent() {
        let mut earlier = Earlier::default();
        let line = |at: &str| VerifyLine {
            row: 2,
            sn: "ABC123".into(),
            located_plant_id: Some(7),
            located_at: at.into(),
            ..VerifyLine::default()
        };
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        earlier.read(&line(&now));
        assert!(earlier.recent("ABC123").is_some());
        earlier.read(&line("2099-01-01T00:00:00Z"));
        assert!(earlier.recent("ABC123").is_none());
        earlier.read(&line("2000-01-01T00:00:00Z"));
        assert!(earlier.recent("ABC123").is_none());
    }
}
