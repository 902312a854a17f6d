//! `SVMRegressor`: `Σ coefficient · K(x, v) + rho` over the support vectors `v` (`SVR`,
//! `NuSVR`), or `x · coefficients + rho` without them; with `one_class` (`OneClassSVM`)
//! the sign of that, as 1 or -1.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::super::{FromNode, OneToOne, OutputShape, Wired, one_to_one_expansion};
use super::{Floats, Kernel, dot, eval_rows, features, floats};

/// The operator, which is also tract's op computing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in super::super) struct SvmRegressor {
    kernel: Kernel,
    features: usize,
    /// Empty for a linear model.
    support_vectors: Floats,
    coefficients: Floats,
    /// One value.
    rho: Floats,
    one_class: bool,
}

impl FromNode for SvmRegressor {
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        if let Some(other) = node
            .get_attr_opt::<&str>("post_transform")?
            .filter(|p| *p != "NONE")
        {
            bail!("Unimplemented(SVMRegressor) with post_transform {other}");
        }
        let count: usize = node.get_attr_opt("n_supports")?.unwrap_or(0);
        let support_vectors = floats(node, "support_vectors")?;
        let coefficients = floats(node, "coefficients")?;
        let rho = floats(node, "rho")?;
        ensure!(
            rho.len() == 1,
            "SVMRegressor: rho has {} values, not 1",
            rho.len()
        );
        let features = if count == 0 {
            coefficients.len()
        } else {
            ensure!(
                coefficients.len() == count,
                "SVMRegressor: {} coefficients for {count} support vectors",
                coefficients.len()
            );
            features(&support_vectors, count, "SVMRegressor")?
        };
        Ok(Self {
            kernel: Kernel::from_node(node)?,
            features,
            support_vectors: if count == 0 {
                Floats::default()
            } else {
                support_vectors
            },
            coefficients,
            rho,
            one_class: node.get_attr_opt::<i64>("one_class")?.unwrap_or(0) != 0,
        })
    }
}

impl OneToOne for SvmRegressor {
    fn output_type(&self) -> Option<DatumType> {
        Some(DatumType::F32)
    }

    fn output_shape(&self) -> OutputShape {
        OutputShape::RowsBy(1)
    }

    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        model.wire_node(prefix, self.clone(), &[x])
    }
}

one_to_one_expansion!(SvmRegressor, "SVMRegressor");

impl SvmRegressor {
    fn row(&self, x: &[f32], kernels: &mut Vec<f32>) -> f32 {
        let sum = if self.support_vectors.is_empty() {
            dot(x, &self.coefficients)
        } else {
            self.kernel.eval(x, &self.support_vectors, kernels);
            dot(kernels, &self.coefficients)
        } + self.rho[0];
        match self.one_class {
            true if sum > 0.0 => 1.0,
            true => -1.0,
            false => sum,
        }
    }
}

impl Op for SvmRegressor {
    fn name(&self) -> StaticName {
        "SVMRegressor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for SvmRegressor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let values = eval_rows(&inputs[0], self.features, 1, "SVMRegressor", |x, k, out| {
            out[0] = self.row(x, k)
        })?;
        Ok(tvec!(values))
    }
}

impl TypedOp for SvmRegressor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(&[inputs[0].shape[0].clone(), 1.to_dim()])))
    }

    as_op!();
}
