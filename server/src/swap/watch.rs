//! Watching the models directory: a component dropped in as `<dir>/<name>/<version>.wasm`,
//! or an ONNX model as `<version>.onnx` (packaged on the embedded runner, with
//! `<version>.card.json` if present), with its conformance set beside it as
//! `<version>.conformance.json` if any, goes
//! through the same pipeline as an upload, and is activated once it passes the gate — the
//! directory is then the operator's control plane, as a Triton model repository is. The
//! directory is polled (no inotify dependency); a file is taken once its size and
//! modification time held still for one interval, so a half-copied file is not compiled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use thiserror::Error;

use super::rollout::{self, Rollouts};
use super::{ModelLoader, TooManyPendingSets, Upload};
use crate::intake::{IntakeError, name_and_version};
use crate::registry::{RegistryError, model_files};
use crate::serving::Serving;

/// Why a file in the models directory was not taken.
#[derive(Debug, Error)]
pub enum TakeError {
    /// The path is not `<dir>/<name>/<version>.wasm` (or `.onnx`).
    #[error("not <name>/<version>.wasm or .onnx")]
    NotAComponentPath,
    /// The file could not be read or packaged.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// Its conformance set is not one.
    #[error("{path}: not a conformance set: {reason}")]
    BadConformanceSet {
        /// The set's file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Too many sets wait already.
    #[error(transparent)]
    PendingSets(#[from] TooManyPendingSets),
    /// The registry refused the version (e.g. it exists and is not failed or retired).
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What a file looked like at a scan.
type Stamp = (u64, Option<SystemTime>);

/// Polls the models directory of `rollouts` every `interval` until the task is dropped.
/// Files present at the first scan are taken as already loaded (the host loaded them at
/// start). After each scan the models' rollout files are reconciled by `rollouts`
/// ([`super::rollout`]).
pub async fn watch(
    serving: Serving,
    loader: Arc<ModelLoader>,
    mut rollouts: Rollouts,
    interval: Duration,
) {
    let dir = rollouts.dir().to_owned();
    let mut taken: HashMap<PathBuf, Stamp> = scan(&dir).into_iter().collect();
    let mut settling: HashMap<PathBuf, Stamp> = HashMap::new();
    loop {
        tokio::time::sleep(interval).await;
        for (path, stamp) in scan(&dir) {
            if taken.get(&path) == Some(&stamp) {
                continue;
            }
            // Taken only when unchanged since the last scan: the copy is complete.
            if settling.insert(path.clone(), stamp) != Some(stamp) {
                continue;
            }
            settling.remove(&path);
            taken.insert(path.clone(), stamp);
            if let Err(error) = take(&serving, &loader, &path).await {
                tracing::warn!(path = %path.display(), %error, "a component in the models directory was not taken");
            }
        }
        rollouts.reconcile(&serving);
    }
}

/// Every `<name>/<version>.wasm` under `dir`, with its size and modification time.
fn scan(dir: &Path) -> Vec<(PathBuf, Stamp)> {
    model_files(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|path| name_and_version(dir, path).is_some())
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            Some((path, (meta.len(), meta.modified().ok())))
        })
        .collect()
}

/// The models directory a `<dir>/<name>/<version>` file is in.
fn dir_of(path: &Path) -> PathBuf {
    path.parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new(""))
        .to_owned()
}

async fn take(serving: &Serving, loader: &Arc<ModelLoader>, path: &Path) -> Result<(), TakeError> {
    let dir = dir_of(path);
    let (name, version) = name_and_version(&dir, path).ok_or(TakeError::NotAComponentPath)?;
    // A rollout file, if any, decides instead (reconciled after each scan).
    let activate_when_ready = !rollout::declared(&dir, &name);
    let file = path.to_owned();
    // Reading and hashing 18 MB (or packaging an ONNX model) takes tens of milliseconds:
    // not on a runtime thread.
    let intake = loader.intake();
    let wasm = tokio::task::spawn_blocking(move || intake.read_model_file(Some(&dir), &file))
        .await
        .expect("reading a model file does not panic")?;
    let set_path = path.with_file_name(format!("{version}.conformance.json"));
    if let Ok(text) = tokio::fs::read_to_string(&set_path).await {
        let set = wasml_predictor::ConformanceSet::from_json(&text).map_err(|e| {
            TakeError::BadConformanceSet {
                path: set_path.clone(),
                reason: e.to_string(),
            }
        })?;
        loader.add_conformance_set(&name, &version, set)?;
    }
    tracing::info!(path = %path.display(), model = name, version, "new component in the models directory");
    let upload = Upload {
        name,
        version,
        wasm,
        force: false,
        activate_when_ready,
    };
    Ok(super::start(serving, Arc::clone(loader), upload)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_name_slash_version_files_are_components() {
        let dir = Path::new("/models");
        assert_eq!(
            name_and_version(dir, Path::new("/models/bank/2.0.0.wasm")),
            Some(("bank".into(), "2.0.0".into()))
        );
        assert_eq!(name_and_version(dir, Path::new("/models/loose.wasm")), None);
    }
}
