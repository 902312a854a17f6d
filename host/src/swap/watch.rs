//! Watching the models directory: a component dropped in as `<dir>/<name>/<version>.wasm`
//! (with its conformance set beside it as `<version>.conformance.json`, if any) goes
//! through the same pipeline as an upload, and is activated once it passes the gate — the
//! directory is then the operator's control plane, as a Triton model repository is. The
//! directory is polled (no inotify dependency); a file is taken once its size and
//! modification time held still for one interval, so a half-copied file is not compiled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{ModelLoader, Upload};
use crate::api::AppState;
use crate::digest::DigestedWasm;
use crate::registry::component_files;

/// What a file looked like at a scan.
type Stamp = (u64, Option<SystemTime>);

/// Polls `dir` every `interval` until the task is dropped. Files present at the first
/// scan are taken as already loaded (the host loaded them at start).
pub async fn watch(state: AppState, loader: Arc<ModelLoader>, dir: PathBuf, interval: Duration) {
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
            if let Err(reason) = take(&state, &loader, &path).await {
                tracing::warn!(path = %path.display(), reason, "a component in the models directory was not taken");
            }
        }
    }
}

/// Every `<name>/<version>.wasm` under `dir`, with its size and modification time.
fn scan(dir: &Path) -> Vec<(PathBuf, Stamp)> {
    component_files(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|path| name_and_version(dir, path).is_some())
        .filter_map(|path| {
            let meta = std::fs::metadata(&path).ok()?;
            Some((path, (meta.len(), meta.modified().ok())))
        })
        .collect()
}

/// `(name, version)` of `<dir>/<name>/<version>.wasm`.
fn name_and_version(dir: &Path, path: &Path) -> Option<(String, String)> {
    let relative = path.strip_prefix(dir).ok()?;
    let mut parts = relative.components();
    let name = parts.next()?.as_os_str().to_str()?.to_owned();
    let version = Path::new(parts.next()?.as_os_str())
        .file_stem()?
        .to_str()?
        .to_owned();
    parts.next().is_none().then_some((name, version))
}

async fn take(state: &AppState, loader: &Arc<ModelLoader>, path: &Path) -> Result<(), String> {
    let dir = path
        .parent()
        .and_then(Path::parent)
        .ok_or("no models directory")?;
    let (name, version) = name_and_version(dir, path).ok_or("not <name>/<version>.wasm")?;
    let file = path.to_owned();
    // Reading and hashing 18 MB takes tens of milliseconds: not on a runtime thread.
    let wasm = tokio::task::spawn_blocking(move || std::fs::read(file).map(DigestedWasm::new))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let set_path = path.with_file_name(format!("{version}.conformance.json"));
    if let Ok(text) = tokio::fs::read_to_string(&set_path).await {
        let set = wasml_predictor::ConformanceSet::from_json(&text)
            .map_err(|e| format!("{}: not a conformance set: {e}", set_path.display()))?;
        loader.add_conformance_set(&name, &version, set)?;
    }
    tracing::info!(path = %path.display(), model = name, version, "new component in the models directory");
    let upload = Upload {
        name,
        version,
        wasm,
        force: false,
        activate_when_ready: true,
    };
    super::start(state, Arc::clone(loader), upload).map_err(|e| e.to_string())
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
