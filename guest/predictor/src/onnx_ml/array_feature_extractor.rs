//! `ArrayFeatureExtractor` as onnxruntime runs it: the indices, whatever their shape, pick
//! columns of the input's last axis, giving `input[..-1] + [number of indices]` (`[1, n]`
//! for a rank-1 input). tract 0.23.9 appends the indices' own shape instead, so the
//! scalar index skl2onnx writes for a `CalibratedClassifierCV` loses the column axis its
//! `Concat` needs, and a k-NN's `[rows, k]` indices into its training labels keep a shape
//! onnxruntime would not give.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::array::Gather;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_hir::internal::*;

use super::FromNode;

/// The operator: no attributes.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct ArrayFeatureExtractor;

impl FromNode for ArrayFeatureExtractor {
    fn from_node(_node: &NodeProto) -> TractResult<Self> {
        Ok(ArrayFeatureExtractor)
    }
}

/// The output shape for an input of shape `input` and `indices` indices.
fn output_shape(input: &[TDim], indices: TDim) -> TVec<TDim> {
    let mut shape: TVec<TDim> = match input {
        [_] => tvec![1.to_dim()],
        [leading @ .., _] => leading.into(),
        [] => tvec![],
    };
    shape.push(indices);
    shape
}

impl Expansion for ArrayFeatureExtractor {
    fn name(&self) -> StaticName {
        "ArrayFeatureExtractor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.given_2(
            &inputs[0].shape,
            &inputs[1].shape,
            move |s, input, indices| {
                let count: TDim = indices.iter().product();
                s.equals(&outputs[0].shape, output_shape(&input, count))
            },
        )
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let rank = model.outlet_fact(inputs[0])?.rank();
        ensure!(rank >= 1, "ArrayFeatureExtractor on a scalar");
        let indices_shape = model.outlet_fact(inputs[1])?.shape.to_tvec();
        let count: TDim = indices_shape.iter().product();
        let indices = match indices_shape.len() {
            1 => inputs[1],
            _ => {
                let flatten = AxisOp::Reshape(0, indices_shape, tvec![count]);
                model.wire_node(format!("{prefix}.indices"), flatten, &[inputs[1]])?[0]
            }
        };
        let picked = model.wire_node(
            format!("{prefix}.gather"),
            Gather::new(rank - 1),
            &[inputs[0], indices],
        )?;
        if rank == 1 {
            return model.wire_node(format!("{prefix}.row"), AxisOp::Add(0), &picked);
        }
        Ok(picked)
    }
}
