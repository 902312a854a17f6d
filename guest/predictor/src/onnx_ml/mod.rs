//! ONNX-ML operators tract 0.23.9 does not load (or loads wrongly), added to its ONNX
//! loader: `Scaler` (skl2onnx's `StandardScaler`, `RobustScaler`, `MaxAbsScaler`),
//! `Imputer` (`SimpleImputer`), `Binarizer`, `ZipMap` (a classifier's probabilities as
//! maps, read as the tensor they are made of), `OneHotEncoder` (string or integer
//! categories), `LabelEncoder` (`OrdinalEncoder`), `TreeEnsembleRegressor` and
//! `TreeEnsembleClassifier` (on tract's tree evaluator; the classifier replaces tract's,
//! which rejects the two base values of binary boosting), `SVMClassifier` /
//! `SVMRegressor` (`SVC`, `SVR`), and `ArrayFeatureExtractor` (replacing tract's, whose
//! output shape differs from onnxruntime's for scalar or rank-2 indices).
//!
//! Mostly expansions, not new kernels: each element-wise operator becomes a few ops (cast,
//! subtract, multiply, compare, select) that tract already optimises and fuses, so it needs
//! neither its own evaluator nor a patch of tract (the loader's op register is public). The
//! support vector machines are the exception: libsvm's pairwise probability coupling is an
//! iterative solve per row, so they run as one op of their own (`svm`). The ops tract still
//! lacks are refused at load time with their name (`Unimplemented(<op>)`), which
//! `wasml package` and the host's intake report.

mod array_feature_extractor;
mod binarizer;
mod classifier;
mod imputer;
mod label_encoder;
mod one_hot_encoder;
mod scaler;
mod svm;
mod tree_ensemble_classifier;
mod tree_ensemble_regressor;
mod trees;
mod zipmap;

#[cfg(test)]
mod tests;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// tract's ONNX framework with wasml's ONNX-ML operators registered: what every model is
/// loaded with, natively and in the runner.
pub fn onnx() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    let register = &mut onnx.op_register;
    register.insert("Scaler", load::<scaler::Scaler>);
    register.insert("Imputer", load::<imputer::Imputer>);
    register.insert("Binarizer", load::<binarizer::Binarizer>);
    register.insert("ZipMap", load::<zipmap::ZipMap>);
    register.insert("OneHotEncoder", load::<one_hot_encoder::OneHotEncoder>);
    register.insert("LabelEncoder", load::<label_encoder::LabelEncoder>);
    register.insert(
        "TreeEnsembleRegressor",
        load::<tree_ensemble_regressor::TreeEnsembleRegressor>,
    );
    register.insert(
        "TreeEnsembleClassifier",
        load::<tree_ensemble_classifier::TreeEnsembleClassifier>,
    );
    register.insert(
        "ArrayFeatureExtractor",
        load::<array_feature_extractor::ArrayFeatureExtractor>,
    );
    register.insert("SVMClassifier", load::<svm::SvmClassifier>);
    register.insert("SVMRegressor", load::<svm::SvmRegressor>);
    onnx
}

/// An operator read from its ONNX node's attributes.
trait FromNode: Sized {
    /// The operator from the node's attributes; what it cannot run is refused here.
    fn from_node(node: &NodeProto) -> TractResult<Self>;
}

/// An operator with one input and one output, wired as tract ops.
trait OneToOne: FromNode {
    /// The output's type: the input's (`None`, the default) or this one.
    fn output_type(&self) -> Option<DatumType> {
        None
    }

    /// The output's shape: by default the input's (an element-wise operator).
    fn output_shape(&self) -> OutputShape {
        OutputShape::Input
    }

    /// Wires the operator on `x` into `model` as tract's own ops.
    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired;
}

/// The shape of a [`OneToOne`] operator's output, given its input's.
enum OutputShape {
    /// The input's.
    Input,
    /// The input's, and one more axis of this length.
    InputAndAxis(usize),
    /// `[rows, this many]`.
    RowsBy(usize),
}

/// tract's type and shape rules for a [`OneToOne`] operator's `output`.
fn one_to_one_rules<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    input: &'p TensorProxy,
    output: &'p TensorProxy,
    datum_type: Option<DatumType>,
    shape: OutputShape,
) -> InferenceResult {
    match datum_type {
        Some(datum_type) => s.equals(&output.datum_type, datum_type)?,
        None => s.equals(&input.datum_type, &output.datum_type)?,
    }
    match shape {
        OutputShape::Input => s.equals(&input.shape, &output.shape),
        OutputShape::InputAndAxis(len) => {
            s.equals(&output.rank, input.rank.bex() + 1)?;
            s.given(&input.rank, move |s, rank| {
                let rank = rank as usize;
                for axis in 0..rank {
                    s.equals(&output.shape[axis], &input.shape[axis])?;
                }
                s.equals(&output.shape[rank], len.to_dim())
            })
        }
        OutputShape::RowsBy(columns) => {
            s.equals(&output.rank, 2)?;
            s.equals(&output.shape[0], &input.shape[0])?;
            s.equals(&output.shape[1], columns.to_dim())
        }
    }
}

/// What wiring an operator gives: its outputs.
type Wired = TractResult<TVec<OutletId>>;

/// The loader tract calls for a node of one of these operators.
fn load<T: FromNode + Expansion>(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(T::from_node(node)?), vec![]))
}

/// tract's `Expansion` for a [`OneToOne`] operator called `$name`.
macro_rules! one_to_one_expansion {
    ($op:ty, $name:literal) => {
        impl Expansion for $op {
            fn name(&self) -> StaticName {
                $name.into()
            }

            fn rules<'r, 'p: 'r, 's: 'r>(
                &'s self,
                s: &mut Solver<'r>,
                inputs: &'p [TensorProxy],
                outputs: &'p [TensorProxy],
            ) -> InferenceResult {
                check_input_arity(inputs, 1)?;
                check_output_arity(outputs, 1)?;
                let (datum_type, shape) = (self.output_type(), self.output_shape());
                $crate::onnx_ml::one_to_one_rules(s, &inputs[0], &outputs[0], datum_type, shape)
            }

            fn wire(
                &self,
                prefix: &str,
                model: &mut TypedModel,
                inputs: &[OutletId],
            ) -> TractResult<TVec<OutletId>> {
                $crate::onnx_ml::OneToOne::wire_ops(self, prefix, model, inputs[0])
            }
        }
    };
}
use one_to_one_expansion;

/// `x` as f32 (a no-op when it already is).
fn to_f32(prefix: &str, model: &mut TypedModel, x: OutletId) -> TractResult<OutletId> {
    if model.outlet_fact(x)?.datum_type == f32::datum_type() {
        return Ok(x);
    }
    Ok(model.wire_node(
        format!("{prefix}.to_f32"),
        tract_onnx::tract_core::ops::cast::cast(f32::datum_type()),
        &[x],
    )?[0])
}

/// A per-feature attribute (`[features]`, or one value for every feature) as a rank-1
/// constant of `datum_type`, broadcast against `[rows, features]` by rank.
fn feature_const(
    prefix: &str,
    model: &mut TypedModel,
    values: &[f32],
    datum_type: DatumType,
) -> TractResult<OutletId> {
    let tensor = tensor1(values).cast_to_dt(datum_type)?.into_owned();
    model.add_const(prefix, tensor)
}
