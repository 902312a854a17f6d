//! `SVMClassifier` and `SVMRegressor`: what skl2onnx exports for `SVC`, `NuSVC`, `SVR`,
//! `NuSVR` and `OneClassSVM`, with linear, polynomial, RBF or sigmoid kernels.
//!
//! One op of tract's per operator, evaluated row by row: each row's kernel values against
//! the support vectors, then (for a classifier) one decision value per pair of classes and,
//! with `prob_a`/`prob_b`, libsvm's pairwise coupling into probabilities — an iterative
//! solve per row that tract's ops cannot express. Arithmetic follows onnxruntime's kernels
//! (f32 kernels and coupling, f64 pairwise sums), so the two agree to float rounding.

mod classifier;
mod coupling;
mod regressor;

pub(super) use classifier::SvmClassifier;
pub(super) use regressor::SvmRegressor;

use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::tract_ndarray::Array2;
use tract_onnx::tract_hir::internal::*;

/// Floats compared bit for bit, so that an op holding them is `Eq`, as tract's ops must be.
#[derive(Debug, Clone, Default)]
struct Floats(Vec<f32>);

impl PartialEq for Floats {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for Floats {}

impl std::ops::Deref for Floats {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

/// The node's float attribute `name`, empty when absent.
fn floats(node: &NodeProto, name: &str) -> TractResult<Floats> {
    Ok(Floats(node.get_attr_opt_vec(name)?.unwrap_or_default()))
}

/// The kernel function `K(x, v)` and its `kernel_params` (`gamma`, `coef0`, `degree`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Kernel {
    kind: KernelKind,
    /// `[gamma, coef0, degree]`, zero when absent.
    params: Floats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KernelKind {
    Linear,
    Poly,
    Rbf,
    Sigmoid,
}

impl Kernel {
    /// The node's `kernel_type` (`LINEAR` when absent) and `kernel_params`.
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let kind = match node.get_attr_opt("kernel_type")?.unwrap_or("LINEAR") {
            "LINEAR" => KernelKind::Linear,
            "POLY" => KernelKind::Poly,
            "RBF" => KernelKind::Rbf,
            "SIGMOID" => KernelKind::Sigmoid,
            other => bail!("{}: unknown kernel_type {other}", node.op_type),
        };
        let mut params = floats(node, "kernel_params")?.0;
        params.resize(3, 0.0);
        Ok(Self {
            kind,
            params: Floats(params),
        })
    }

    /// `K(x, v)` for each support vector `v` (rows of `vectors`, `x.len()` long), into `out`.
    fn eval(&self, x: &[f32], vectors: &[f32], out: &mut Vec<f32>) {
        let (gamma, coef0, degree) = (self.params[0], self.params[1], self.params[2]);
        out.clear();
        out.extend(vectors.chunks_exact(x.len()).map(|v| match self.kind {
            KernelKind::Rbf => {
                let distance: f32 = x.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum();
                (-gamma * distance).exp()
            }
            KernelKind::Linear => dot(x, v),
            KernelKind::Poly => (gamma * dot(x, v) + coef0).powf(degree),
            KernelKind::Sigmoid => (gamma * dot(x, v) + coef0).tanh(),
        }));
    }
}

fn dot(x: &[f32], v: &[f32]) -> f32 {
    x.iter().zip(v).map(|(a, b)| a * b).sum()
}

/// The model's support vectors (`[count, features]`), or none for a linear model, which
/// multiplies the input by its coefficients instead.
fn features(vectors: &Floats, count: usize, op: &str) -> TractResult<usize> {
    ensure!(
        count > 0 && vectors.len().is_multiple_of(count),
        "{op}: {} support vector values for {count} vectors",
        vectors.len()
    );
    Ok(vectors.len() / count)
}

/// Evaluates an SVM op on `input` (`[rows, features]`, any number type): `row` writes each
/// row's `width` outputs from its features, with a scratch buffer for kernel values.
fn eval_rows(
    input: &TValue,
    features: usize,
    width: usize,
    op: &str,
    row: impl Fn(&[f32], &mut Vec<f32>, &mut [f32]),
) -> TractResult<TValue> {
    let input = input.cast_to::<f32>()?;
    let input = input.to_plain_array_view::<f32>()?;
    let shape = input.shape();
    ensure!(
        shape.len() == 2 && shape[1] == features,
        "{op}: input of shape {shape:?}, expected [rows, {features}]"
    );
    let mut output = Array2::<f32>::zeros((shape[0], width));
    let mut kernels = Vec::new();
    for (x, mut out) in input.outer_iter().zip(output.outer_iter_mut()) {
        let x = x.as_slice().context("a contiguous input row")?;
        let out = out.as_slice_mut().context("a contiguous output row")?;
        row(x, &mut kernels, out);
    }
    Ok(output.into_tvalue())
}
