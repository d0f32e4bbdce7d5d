//! `verify --locate`: where the devices not found on their plant sit, with one
//! `plant/sn_plant` request per serial through the engine, never asked again within the vendor's
//! 5-minute cooldown (an answer younger than that, from the verify file, is used instead).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{LinkStatus, Target, VerifyReport};
use crate::account::{locate, Located};
use crate::engine::Engine;
use crate::input::sn_key;
use crate::journal::{safe_cell, ResultsError, ResultsWriter};

/// The vendor's cooldown for the same `sn_plant` request.
pub const COOLDOWN: Duration = Duration::from_secs(300);

/// Where earlier `--locate` runs found devices: serial key → (when, plant, user).
#[derive(Debug, Default)]
pub(super) struct Earlier {
    by_sn: HashMap<u64, (SystemTime, Option<u64>, Option<u64>)>,
}

impl Earlier {
    /// Notes one line of the verify file (older files have no `located_*` cells: nothing to note).
    pub(super) fn read(&mut self, r: &csv::ByteRecord) {
        let text = |i| r.get(i).and_then(|b| std::str::from_utf8(b).ok());
        let (Some(sn), Some(at)) = (text(2), text(9)) else {
            return;
        };
        let Ok(at) = humantime::parse_rfc3339(at.trim()) else {
            return;
        };
        let id = |i| text(i).and_then(|t| t.trim().parse::<u64>().ok());
        self.by_sn.insert(sn_key(sn), (at, id(7), id(8)));
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
    quiet: bool,
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
        if !quiet {
            say(engine, &t, &located);
        }
        let show = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let located_at = match located {
            Located::Unknown(_) => String::new(),
            _ => humantime::format_rfc3339_seconds(at).to_string(),
        };
        let cells = [
            t.row.to_string(),
            safe_cell(&t.plant_cell),
            safe_cell(&t.sn),
            status.as_str().to_string(),
            String::new(),
            String::new(),
            humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            show(plant),
            show(user),
            located_at,
        ];
        writer.write_record(&cells)?;
    }
    Ok(())
}

/// One line on stderr per device found elsewhere (or not found at all).
fn say(engine: &Engine, t: &Target, located: &Located) {
    let text = match located {
        Located::On { plant_id, user_id } if t.plant_cell.trim() != plant_id.to_string() => {
            let user = user_id.map_or_else(String::new, |u| format!(" of user {u}"));
            format!(
                "row {}: {} sits on plant {plant_id}{user}, not on plant {} (user {}): move it there in ShineServer, or correct the row if plant {plant_id} is right",
                t.row, t.sn, t.plant_cell, t.user_cell
            )
        }
        Located::Nowhere => format!(
            "row {}: {} is on no plant yet (plant/sn_plant answered 10005)",
            t.row, t.sn
        ),
        Located::Unknown(why) => {
            format!("row {}: {}: cannot tell where it sits: {why}", t.row, t.sn)
        }
        _ => return,
    };
    let (plant, user) = match located {
        Located::On { plant_id, user_id } => (Some(*plant_id), *user_id),
        _ => (None, None),
    };
    engine.log.event(
        json!({
            "event": "located",
            "row": t.row,
            "sn": t.sn,
            "plant_id": t.plant_cell,
            "located_plant_id": plant,
            "located_user_id": user,
        }),
        &format!("growatt-onboard verify: {text}"),
    );
}
