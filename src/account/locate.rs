//! Where a device sits: `POST /v1/plant/sn_plant`, one request per serial through the engine
//! (paced and throttle-aware like every other call).

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use crate::api::Answer;
use crate::engine::{Engine, LocateVerdict};

/// What `plant/sn_plant` said about a serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// The device sits on this plant, owned by this user (when the answer named one).
    On {
        /// The plant.
        plant_id: u64,
        /// Its user.
        user_id: Option<u64>,
    },
    /// The server knows no such device on any plant (10005).
    Nowhere,
    /// The question could not be answered now (a refusal, a failure); in words.
    Unknown(String),
    /// The run stopped first.
    Stopped,
}

/// A JSON number or numeric string as an id.
fn id(v: Option<&serde_json::Value>) -> Option<u64> {
    match v? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Asks where `sn` sits, letting go of `hold` once the question first waits for a retry or a
/// cooldown (see [`Engine::call_releasing`]): the caller's bound on questions in progress then
/// limits new ones only.
pub async fn locate(engine: &Arc<Engine>, sn: &str, hold: Option<OwnedSemaphorePermit>) -> Located {
    let form = [("device_sn", sn.to_string())];
    let label = format!("sn_plant {sn}");
    let call = engine
        .call_releasing(
            &label,
            || engine.client.post("v1/plant/sn_plant", &form),
            hold,
        )
        .await;
    let Some((outcome, attempt)) = call.ended() else {
        return Located::Stopped;
    };
    match engine.policy().locating(&attempt.answer, outcome) {
        LocateVerdict::Found => {
            let plant = attempt.data.as_ref().and_then(|d| d.get("plant"));
            match plant.and_then(|p| id(p.get("plant_id"))) {
                Some(plant_id) => Located::On {
                    plant_id,
                    user_id: plant.and_then(|p| id(p.get("user_id"))),
                },
                None => Located::Unknown("the answer named no plant".into()),
            }
        }
        LocateVerdict::NoSuchDevice => Located::Nowhere,
        LocateVerdict::Refused { .. } => {
            let (code, msg) = match &attempt.answer {
                Answer::Envelope { code, msg, .. } => (*code, msg.clone()),
                _ => (0, String::new()),
            };
            Located::Unknown(format!("plant/sn_plant answered {code} {msg}"))
        }
        LocateVerdict::Failed => {
            Located::Unknown(format!("plant/sn_plant failed: {}", attempt.answer))
        }
    }
}
