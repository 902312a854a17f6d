//! A version's lifecycle once it is compiled and gated: failing, activate, canary, stop
//! the canary, shadow and stop shadowing, roll back, retire, and the canary analysis's
//! promotion or rejection. Each step changes the registry (atomically, `crate::registry`),
//! counts in `ml_model_swaps_total`, and records every version whose state changed as a
//! log line and an event. The upload pipeline, the admin API, the models-directory watcher
//! and the canary analysis all go through these.

use crate::event_sink::{Event, SERVICE};
use crate::registry::{GateCheck, RegistryError, Shadow};
use crate::serving::Serving;

/// Makes a ready version (or the canary) active; returns the version it replaced, which
/// is ready again.
pub fn activate(
    serving: &Serving,
    name: &str,
    version: &str,
) -> Result<Option<String>, RegistryError> {
    activate_as(serving, name, version, "activated")
}

/// The canary analysis found the canary `version` as good as the active version: it is
/// activated, counted as `auto_promoted`.
pub fn promote_canary(
    serving: &Serving,
    name: &str,
    version: &str,
) -> Result<Option<String>, RegistryError> {
    activate_as(serving, name, version, "auto_promoted")
}

fn activate_as(
    serving: &Serving,
    name: &str,
    version: &str,
    result: &str,
) -> Result<Option<String>, RegistryError> {
    let previous = serving.models.activate(name, version)?;
    swapped(serving, name, version, result);
    if let Some(previous) = &previous {
        record(serving, name, previous, "ready", None);
    }
    Ok(previous)
}

/// Sends `percent` of `name`'s requests to a ready `version`; returns the canary it
/// replaced, which is ready again.
pub fn set_canary(
    serving: &Serving,
    name: &str,
    version: &str,
    percent: u32,
) -> Result<Option<String>, RegistryError> {
    let replaced = serving.models.set_canary(name, version, percent)?;
    swapped(serving, name, version, "canary");
    if let Some(replaced) = &replaced {
        record(serving, name, replaced, "ready", None);
    }
    Ok(replaced)
}

/// Stops `name`'s canary, if any; returns its version, which is ready again.
pub fn stop_canary(serving: &Serving, name: &str) -> Result<Option<String>, RegistryError> {
    let cleared = serving.models.clear_canary(name)?;
    if let Some(version) = &cleared {
        record(serving, name, version, "ready", None);
    }
    Ok(cleared)
}

/// The canary analysis found `name`'s canary worse than the active version, for `reason`:
/// it is stopped (ready again), counted as `auto_rolled_back`, the reason in its event.
pub fn reject_canary(
    serving: &Serving,
    name: &str,
    reason: String,
) -> Result<Option<String>, RegistryError> {
    let cleared = serving.models.clear_canary(name)?;
    if let Some(version) = &cleared {
        serving.metrics.version_swapped(name, "auto_rolled_back");
        record(serving, name, version, "ready", Some(reason));
    }
    Ok(cleared)
}

/// Makes a ready version shadow the active one; returns the shadow it replaced.
pub fn set_shadow(
    serving: &Serving,
    name: &str,
    shadow: Shadow,
) -> Result<Option<String>, RegistryError> {
    let version = shadow.version.clone();
    let replaced = serving.models.set_shadow(name, shadow)?;
    record(serving, name, &version, "shadowing", None);
    if let Some(replaced) = &replaced {
        record(serving, name, replaced, "ready", None);
    }
    Ok(replaced)
}

/// Stops `name`'s shadow, if any; returns its version.
pub fn stop_shadow(serving: &Serving, name: &str) -> Result<Option<String>, RegistryError> {
    let cleared = serving.models.clear_shadow(name)?;
    if let Some(version) = &cleared {
        record(serving, name, version, "ready", None);
    }
    Ok(cleared)
}

/// Re-activates the version active before the current one; returns `(from, to)`.
pub fn rollback(serving: &Serving, name: &str) -> Result<(String, String), RegistryError> {
    let (from, to) = serving.models.rollback(name)?;
    swapped(serving, name, &to, "rolled_back");
    record(serving, name, &from, "ready", None);
    Ok((from, to))
}

/// Retires a version that is not active: it serves no more, and its gauges go.
pub fn retire(serving: &Serving, name: &str, version: &str) -> Result<(), RegistryError> {
    serving.models.retire(name, version)?;
    serving.metrics.version_retired(name, version);
    swapped(serving, name, version, "retired");
    Ok(())
}

/// A new version did not make it (compile, start or gate): failed with `reason` and the
/// gate's `checks` (none if it did not get that far), its component dropped; counted and
/// recorded.
pub fn failed(
    serving: &Serving,
    name: &str,
    version: &str,
    checks: Vec<GateCheck>,
    reason: String,
) {
    serving
        .models
        .gated(name, version, checks, Some(reason.clone()));
    serving.metrics.version_swapped(name, "failed");
    record(serving, name, version, "failed", Some(reason));
}

/// Counts a successful step and records the version's new state.
fn swapped(serving: &Serving, name: &str, version: &str, result: &str) {
    serving.metrics.version_swapped(name, result);
    let new_state = serving
        .models
        .state(name, version)
        .map_or("unknown", |s| s.name());
    record(serving, name, version, new_state, None);
}

/// Logs a state change of `name`/`version` and sends it as an event.
pub fn record(
    serving: &Serving,
    name: &str,
    version: &str,
    new_state: &str,
    reason: Option<String>,
) {
    match &reason {
        Some(reason) => tracing::warn!(
            model = name,
            version,
            state = new_state,
            reason,
            "model version state"
        ),
        None => tracing::info!(
            model = name,
            version,
            state = new_state,
            "model version state"
        ),
    }
    let level = if reason.is_some() { "warn" } else { "info" };
    let mut event = Event::now(level, SERVICE, format!("model version {new_state}"));
    event.model = Some(name.to_owned());
    event.model_version = Some(version.to_owned());
    event.error = reason;
    event.fields.insert("state".into(), new_state.to_owned());
    serving.events.send(event);
}
