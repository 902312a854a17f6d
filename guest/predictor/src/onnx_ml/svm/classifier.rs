//! `SVMClassifier`: one decision value per pair of classes from the kernel values, a vote
//! per pair, and with `prob_a`/`prob_b` (scikit-learn's `probability=True`) Platt's sigmoid
//! per pair coupled into one probability per class. Without them a binary model scores
//! `[-d, d]`; a multi-class one would score pairs rather than classes, and is refused.
//! A model without support vectors is linear: `x · coefficientsᵀ + rho`.

use std::ops::Range;

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::super::FromNode;
use super::super::classifier::{Classifier, PostTransform, class_labels, classifier_expansion};
use super::coupling::{couple, pairwise_probability};
use super::{Floats, Kernel, eval_rows, features, floats};

/// The operator as loaded: the scores op and what follows it.
#[derive(Debug, Clone)]
pub(in super::super) struct SvmClassifier {
    scores: SvmScores,
    labels: Arc<Tensor>,
    post_transform: PostTransform,
}

/// tract's op computing the scores, `[rows, classes]`, before the post-transform.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SvmScores {
    kernel: Kernel,
    classes: usize,
    features: usize,
    /// Each class's support vectors (a range of `support_vectors`' rows); none for a
    /// linear model.
    spans: Vec<Range<usize>>,
    support_vectors: Floats,
    coefficients: Floats,
    rho: Floats,
    prob_a: Floats,
    prob_b: Floats,
}

impl FromNode for SvmClassifier {
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let labels = class_labels(node)?;
        let classes = labels.len();
        ensure!(classes >= 2, "SVMClassifier: {classes} class labels");
        let vectors_per_class: Vec<usize> = node
            .get_attr_opt_vec("vectors_per_class")?
            .unwrap_or_default();
        let support_vectors = floats(node, "support_vectors")?;
        let coefficients = floats(node, "coefficients")?;
        let (rho, prob_a, prob_b) = (
            floats(node, "rho")?,
            floats(node, "prob_a")?,
            floats(node, "prob_b")?,
        );
        let pairs = classes * (classes - 1) / 2;
        let count: usize = vectors_per_class.iter().sum();
        let features = if count == 0 {
            ensure!(
                !coefficients.is_empty()
                    && coefficients.len().is_multiple_of(classes)
                    && !rho.is_empty(),
                "SVMClassifier: a linear model needs coefficients per class and rho"
            );
            coefficients.len() / classes
        } else {
            ensure!(
                vectors_per_class.len() == classes,
                "SVMClassifier: vectors_per_class for {} classes, labels for {classes}",
                vectors_per_class.len()
            );
            ensure!(
                coefficients.len() == (classes - 1) * count && rho.len() == pairs,
                "SVMClassifier: coefficients or rho do not fit {count} vectors and {classes} classes"
            );
            ensure!(
                prob_a.len() == prob_b.len() && (prob_a.is_empty() || prob_a.len() == pairs),
                "SVMClassifier: prob_a and prob_b need one value per pair of classes"
            );
            if prob_a.is_empty() && classes > 2 {
                bail!(
                    "Unimplemented(SVMClassifier) without probabilities for {classes} classes \
                     (it scores pairs of classes; export SVC with probability=True)"
                );
            }
            features(&support_vectors, count, "SVMClassifier")?
        };
        let spans = match count {
            0 => Vec::new(),
            _ => vectors_per_class
                .iter()
                .scan(0, |start, count| {
                    let span = *start..*start + count;
                    *start = span.end;
                    Some(span)
                })
                .collect(),
        };
        Ok(Self {
            scores: SvmScores {
                kernel: Kernel::from_node(node)?,
                classes,
                features,
                spans,
                support_vectors,
                coefficients,
                rho,
                prob_a,
                prob_b,
            },
            labels,
            post_transform: PostTransform::from_node(node)?,
        })
    }
}

impl Classifier for SvmClassifier {
    fn labels(&self) -> &Arc<Tensor> {
        &self.labels
    }

    fn wire_scores(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        x: OutletId,
    ) -> TractResult<OutletId> {
        let scores = model.wire_node(format!("{prefix}.scores"), self.scores.clone(), &[x])?[0];
        self.post_transform.wire(prefix, model, scores)
    }
}

classifier_expansion!(SvmClassifier, "SVMClassifier");

impl SvmScores {
    /// One row's scores into `out` (`classes` long); `kernels` is scratch.
    fn row(&self, x: &[f32], kernels: &mut Vec<f32>, out: &mut [f32]) {
        if self.spans.is_empty() {
            let weights = self.coefficients.chunks_exact(self.features);
            for (score, w) in out.iter_mut().zip(weights) {
                *score = super::dot(x, w) + self.rho[0];
            }
            return;
        }
        self.kernel.eval(x, &self.support_vectors, kernels);
        let decisions = self.decisions(kernels);
        if self.prob_a.is_empty() {
            // Binary without probabilities: onnxruntime's [-d, d].
            out[0] = -decisions[0];
            out[1] = decisions[0];
            return;
        }
        let probabilities: Vec<f32> = decisions
            .iter()
            .zip(self.prob_a.iter().zip(self.prob_b.iter()))
            .map(|(d, (a, b))| pairwise_probability(*d, *a, *b))
            .collect();
        couple(self.classes, &probabilities, out);
    }

    /// The decision value of each pair of classes `(i, j)`, `i < j`, in that order: the
    /// coefficients of `i`'s vectors against `j` and of `j`'s against `i`, plus `rho`.
    fn decisions(&self, kernels: &[f32]) -> Vec<f32> {
        let count = kernels.len();
        // `row` of the coefficients (the classes other than one) against `class`'s vectors.
        let against = |row: usize, class: usize| -> f64 {
            let span = self.spans[class].clone();
            let coefficients = &self.coefficients[row * count..][span.clone()];
            coefficients
                .iter()
                .zip(&kernels[span])
                .map(|(c, k)| f64::from(*c) * f64::from(*k))
                .sum()
        };
        let mut decisions = Vec::with_capacity(self.rho.len());
        for i in 0..self.classes {
            for j in i + 1..self.classes {
                let sum = against(j - 1, i) + against(i, j) + f64::from(self.rho[decisions.len()]);
                decisions.push(sum as f32);
            }
        }
        decisions
    }
}

impl Op for SvmScores {
    fn name(&self) -> StaticName {
        "SVMClassifierScores".into()
    }

    op_as_typed_op!();
}

impl EvalOp for SvmScores {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (features, classes) = (self.features, self.classes);
        let scores = eval_rows(
            &inputs[0],
            features,
            classes,
            "SVMClassifier",
            |x, k, out| self.row(x, k, out),
        )?;
        Ok(tvec!(scores))
    }
}

impl TypedOp for SvmScores {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = inputs[0].shape[0].clone();
        Ok(tvec!(f32::fact(&[rows, self.classes.to_dim()])))
    }

    as_op!();
}
