//! The host's [`Trial`]: a package's model loaded and run in the sandbox it will serve in,
//! so an ONNX upload is validated by the very code and limits that will serve it, and the
//! host needs no tract of its own.

use wasml_package::Trial;
use wasml_predictor::error::LOAD_FAILED;
use wasml_predictor::{Feature, PredictError, Prediction};
use wasmtime::Engine;

use crate::blocking::block_on;
use crate::cache::ComponentCache;
use crate::component::ModelComponent;
use crate::convert;
use crate::limits::SandboxLimits;

/// Runs trials with the host's engine, through its cache of compiled runners, under its
/// limits.
#[derive(Clone)]
pub struct SandboxTrial {
    /// The host's engine.
    pub engine: Engine,
    /// Its compiled-component cache (the runner compiles once for every package).
    pub cache: ComponentCache,
    /// The limits the model will serve under.
    pub limits: SandboxLimits,
}

impl Trial for SandboxTrial {
    fn run(
        &self,
        package: &[u8],
        rows: &[Vec<Feature>],
    ) -> Result<Vec<Result<Prediction, PredictError>>, String> {
        let (component, _) = ModelComponent::load(&self.engine, package, &self.cache)
            .map_err(|e| format!("{e:#}"))?;
        let component = component.with_limits(self.limits);
        // The runner loads its model on the first call (with the warm-up's longer deadline:
        // parsing may be slow while other work shares the CPU) and answers every row with
        // the loader's error when it cannot: a row of no fields finds out which. The rows
        // themselves then run under the deadline they will serve under.
        let calls: Vec<_> = rows.iter().map(|row| convert::features(row)).collect();
        let (loaded, answers) = block_on(async {
            let mut instance = component
                .instantiate()
                .await
                .map_err(|e| format!("{e:#}"))?;
            let loaded = instance
                .warm_up_batch(&[Vec::new()])
                .await
                .map_err(|e| e.to_string())?;
            let answers = instance
                .predict_batch(&calls)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((loaded, answers))
        })?;
        if let Some(Err(PredictError::Internal(message))) =
            loaded.into_iter().map(convert::prediction_result).next()
        {
            return Err(message
                .strip_prefix(LOAD_FAILED)
                .unwrap_or(&message)
                .to_owned());
        }
        Ok(answers
            .into_iter()
            .map(convert::prediction_result)
            .collect())
    }
}
