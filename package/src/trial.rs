//! A trial run: the model loaded as the runner will load it, and rows predicted, before a
//! package is written or registered.
//!
//! [`build`](crate::build) takes the trial as a parameter because the two callers run
//! models in different places: `wasml package` has tract natively ([`NativeTrial`], feature
//! `native`), the host has no tract of its own and runs the package in its sandbox
//! (`wasml_runtime::trial`), exactly as it will serve it.

use wasml_predictor::{Feature, PredictError, Prediction};

/// Loads a package's model and predicts rows with it.
pub trait Trial {
    /// Loads the model inside `package` and predicts `rows`, one result per row. `Err`
    /// says why the model did not load or run (the loader's own message, which names the
    /// operator or card field at fault).
    fn run(
        &self,
        package: &[u8],
        rows: &[Vec<Feature>],
    ) -> Result<Vec<Result<Prediction, PredictError>>, String>;
}

/// The trial with tract in this process: the runner's code, compiled natively.
#[cfg(feature = "native")]
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeTrial;

#[cfg(feature = "native")]
impl Trial for NativeTrial {
    fn run(
        &self,
        package: &[u8],
        rows: &[Vec<Feature>],
    ) -> Result<Vec<Result<Prediction, PredictError>>, String> {
        let unpacked = crate::unpack(package).ok_or("not a package wasml wrote")?;
        let predictor = wasml_predictor::Predictor::load(&unpacked.onnx, &unpacked.card_json)
            .map_err(|e| e.to_string())?;
        Ok(predictor.predict_batch(rows))
    }
}
