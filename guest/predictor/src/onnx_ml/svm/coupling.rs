//! From pairwise probabilities to one probability per class: Platt's sigmoid on each
//! pair's decision value, then the second method of Wu, Lin and Weng, "Probability
//! Estimates for Multi-class Classification by Pairwise Coupling" (JMLR 2004), as libsvm
//! and onnxruntime solve it, in f32 as onnxruntime does.

/// `P(i | i or j)` for a pair's decision value `d` and its Platt parameters, kept off
/// 0 and 1 so the coupling's matrix stays positive definite.
pub(super) fn pairwise_probability(d: f32, a: f32, b: f32) -> f32 {
    let f = d * a + b;
    // 1 / (1 + exp(f)), written to not overflow for either sign of f.
    let p = if f >= 0.0 {
        (-f).exp() / (1.0 + (-f).exp())
    } else {
        1.0 / (1.0 + f.exp())
    };
    p.clamp(1e-7, 1.0 - 1e-7)
}

/// Couples `pairs` (`P(i | i or j)` for `i < j`, in that order) into `p`, one probability
/// per class: minimises `Σ (r_ji p_i - r_ij p_j)²` subject to `Σ p = 1` by the paper's
/// fixed-point iteration, at most 100 rounds.
pub(super) fn couple(classes: usize, pairs: &[f32], p: &mut [f32]) {
    let k = classes;
    let mut r = vec![0f32; k * k];
    let mut pair = pairs.iter();
    for i in 0..k {
        for j in i + 1..k {
            let r_ij = *pair.next().expect("one probability per pair");
            r[i * k + j] = r_ij;
            r[j * k + i] = 1.0 - r_ij;
        }
    }
    let mut q = vec![0f32; k * k];
    for t in 0..k {
        for j in 0..k {
            if j != t {
                q[t * k + t] += r[j * k + t] * r[j * k + t];
                q[t * k + j] = -r[j * k + t] * r[t * k + j];
            }
        }
    }
    p.iter_mut().for_each(|p| *p = 1.0 / k as f32);
    let mut qp = vec![0f32; k];
    let eps = 0.005 / k as f32;
    for _ in 0..100 {
        let mut pqp = 0f32;
        for t in 0..k {
            qp[t] = (0..k).map(|j| q[t * k + j] * p[j]).sum();
            pqp += p[t] * qp[t];
        }
        let error = qp.iter().map(|v| (v - pqp).abs()).fold(0f32, f32::max);
        if error < eps {
            break;
        }
        for t in 0..k {
            let diff = (pqp - qp[t]) / q[t * k + t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t * k + t] + 2.0 * qp[t])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
}
