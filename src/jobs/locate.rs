//! `verify`'s locating pass: where the devices not found on their plant sit, with one
//! `plant/sn_plant` request per serial through the engine, never asked again within the vendor's
//! 5-minute cooldown (an answer younger than that, from the verify file, is used instead).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::verify::{LinkStatus, Target, VerifyEvent, VerifyReport};
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

    /// An answer for `sn` young enough to stand in for a new request.
    fn recent(&self, sn: &str) -> Option<(SystemTime, Located)> {
        let (at, plant, user) = self.by_sn.get(&sn_key(sn))?;
        let age = SystemTime::now().duration_since(*at).unwrap_or_default();
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

/// Locates every target, writes its line, and counts it in `report`.
pub(super) async fn pass(
    engine: &Arc<Engine>,
    targets: Vec<Target>,
    earlier: &Earlier,
    writer: &mut ResultsWriter,
    report: &mut VerifyReport,
    events: &Sink<VerifyEvent>,
) -> Result<(), ResultsError> {
    let mut answers = Vec::with_capacity(targets.len());
    let mut tasks = tokio::task::JoinSet::new();
    for t in targets {
        if let Some((at, located)) = earlier.recent(&t.sn) {
            answers.push((t, at, located));
            continue;
        }
        let engine = engine.clone();
        tasks.spawn(async move {
            let located = locate(&engine, t.sn.trim()).await;
            (t, SystemTime::now(), located)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok(answer) = joined {
            answers.push(answer);
        }
    }
    answers.sort_by_key(|(t, ..)| t.row);
    for (t, at, located) in answers {
        let row_plant = t.plant_cell.trim().parse::<u64>().ok();
        let (status, plant, user) = match &located {
            Located::Stopped => {
                report.unchecked += 1;
                continue;
            }
            Located::On { plant_id, user_id } if Some(*plant_id) != row_plant => {
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
        if !matches!(located, Located::On { .. } if status == LinkStatus::Pending) {
            events.emit(VerifyEvent::Located {
                row: t.row,
                sn: t.sn,
                plant_cell: t.plant_cell,
                user_cell: t.user_cell,
                located,
            });
        }
        writer.write_record(line.cells())?;
    }
    Ok(())
}
