//! The Universal Scalability Law X(N) = λN / (1 + σ(N−1) + κN(N−1)), fitted by
//! projected Levenberg–Marquardt least squares with σ, κ ≥ 0.

use crate::model::{StepRow, Usl};

/// Fewest distinct load levels a three-parameter fit is attempted on: with three points
/// the curve passes through them exactly and says nothing about its fit.
pub const MIN_POINTS: usize = 4;

/// Why no fit was made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UslError {
    /// Too few distinct load levels.
    #[error(
        "{have} distinct load levels with throughput; a USL fit needs at least {need} (add steps to the plan)"
    )]
    TooFewPoints {
        /// Distinct levels available.
        have: usize,
        /// [`MIN_POINTS`].
        need: usize,
    },
    /// The data has no usable shape (all throughput zero, non-finite values).
    #[error("cannot fit: {0}")]
    Degenerate(String),
}

/// A fitted USL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UslFit {
    /// Contention σ ≥ 0.
    pub sigma: f64,
    /// Coherency κ ≥ 0.
    pub kappa: f64,
    /// Throughput at N = 1.
    pub lambda: f64,
    /// R² of the fit.
    pub r2: f64,
}

impl UslFit {
    /// Predicted throughput at load `n`.
    pub fn predict(&self, n: f64) -> f64 {
        model(n, self.lambda, self.sigma, self.kappa)
    }

    /// The load of peak throughput √((1−σ)/κ); `None` when κ = 0 or σ ≥ 1.
    pub fn n_star(&self) -> Option<f64> {
        if self.kappa > 0.0 && self.sigma < 1.0 {
            Some(((1.0 - self.sigma) / self.kappa).sqrt())
        } else {
            None
        }
    }

    /// Peak throughput: at N* when κ > 0, else the asymptote λ/σ (infinite when σ = 0).
    pub fn x_max(&self) -> f64 {
        match self.n_star() {
            Some(n) => self.predict(n),
            None if self.sigma > 0.0 => self.lambda / self.sigma,
            None => f64::INFINITY,
        }
    }
}

fn model(n: f64, l: f64, s: f64, k: f64) -> f64 {
    l * n / (1.0 + s * (n - 1.0) + k * n * (n - 1.0))
}

fn cost(pts: &[(f64, f64)], l: f64, s: f64, k: f64) -> f64 {
    pts.iter()
        .map(|&(n, x)| {
            let r = x - model(n, l, s, k);
            r * r
        })
        .sum()
}

/// For fixed σ, κ the model is linear in λ: the least-squares λ in closed form.
fn best_lambda(pts: &[(f64, f64)], s: f64, k: f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for &(n, x) in pts {
        let g = model(n, 1.0, s, k);
        num += x * g;
        den += g * g;
    }
    if den > 0.0 { (num / den).max(0.0) } else { 0.0 }
}

/// Fit the USL to `(load, throughput)` points by least squares with σ, κ ≥ 0.
///
/// A coarse grid over (σ, κ), with λ solved exactly at each node, gives the start; projected
/// Levenberg–Marquardt (parameters at a bound whose gradient points outwards are held)
/// refines it.
pub fn fit(points: &[(f64, f64)]) -> Result<UslFit, UslError> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(n, x)| n.is_finite() && x.is_finite() && n > 0.0 && x >= 0.0)
        .collect();
    let mut levels: Vec<f64> = pts.iter().map(|p| p.0).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    if levels.len() < MIN_POINTS {
        return Err(UslError::TooFewPoints {
            have: levels.len(),
            need: MIN_POINTS,
        });
    }
    if pts.iter().all(|p| p.1 <= 0.0) {
        return Err(UslError::Degenerate(
            "every step has zero throughput".into(),
        ));
    }

    // Start: grid search.
    let mut best = (f64::INFINITY, 0.0, 0.0, 0.0);
    let sigmas = std::iter::once(0.0).chain((0..=30).map(|i| 10f64.powf(-6.0 + i as f64 * 0.2)));
    for s in sigmas {
        let kappas =
            std::iter::once(0.0).chain((0..=45).map(|i| 10f64.powf(-10.0 + i as f64 * 0.2)));
        for k in kappas {
            let l = best_lambda(&pts, s, k);
            let c = cost(&pts, l, s, k);
            if c < best.0 {
                best = (c, l, s, k);
            }
        }
    }
    let (mut c, mut th) = (best.0, [best.1, best.2, best.3]);
    let mut mu = 1e-3;
    for _ in 0..500 {
        // Jacobian of the model and residuals.
        let mut a = [[0.0f64; 3]; 3];
        let mut g = [0.0f64; 3];
        for &(n, x) in &pts {
            let d = 1.0 + th[1] * (n - 1.0) + th[2] * n * (n - 1.0);
            let f = th[0] * n / d;
            let j = [
                n / d,
                -th[0] * n * (n - 1.0) / (d * d),
                -th[0] * n * n * (n - 1.0) / (d * d),
            ];
            let r = x - f;
            for p in 0..3 {
                g[p] += j[p] * r;
                for q in 0..3 {
                    a[p][q] += j[p] * j[q];
                }
            }
        }
        // Parameters held at their bound: σ or κ at 0 with the descent direction negative.
        let free: Vec<usize> = (0..3)
            .filter(|&p| !(p > 0 && th[p] <= 0.0 && g[p] <= 0.0))
            .collect();
        let mut improved = false;
        for _ in 0..30 {
            let Some(step) = solve_scaled(&a, &g, &free, mu) else {
                mu *= 10.0;
                continue;
            };
            let mut cand = th;
            for (i, &p) in free.iter().enumerate() {
                cand[p] += step[i];
            }
            cand[0] = cand[0].max(0.0);
            cand[1] = cand[1].max(0.0);
            cand[2] = cand[2].max(0.0);
            let cc = cost(&pts, cand[0], cand[1], cand[2]);
            if cc.is_finite() && cc < c {
                let rel = (c - cc) / c.max(f64::MIN_POSITIVE);
                th = cand;
                c = cc;
                mu = (mu / 3.0).max(1e-12);
                improved = rel > 1e-15;
                break;
            }
            mu *= 4.0;
            if mu > 1e12 {
                break;
            }
        }
        if !improved {
            break;
        }
    }
    let mean = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    let tot: f64 = pts.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let r2 = if tot > 0.0 { 1.0 - c / tot } else { 1.0 };
    if !th.iter().all(|v| v.is_finite()) {
        return Err(UslError::Degenerate("the fit diverged".into()));
    }
    Ok(UslFit {
        lambda: th[0],
        sigma: th[1],
        kappa: th[2],
        r2,
    })
}

/// Solve (Â + μI) δ̂ = ĝ on the free parameters, with columns scaled by √diag(A).
fn solve_scaled(a: &[[f64; 3]; 3], g: &[f64; 3], free: &[usize], mu: f64) -> Option<Vec<f64>> {
    let m = free.len();
    if m == 0 {
        return None;
    }
    let scale: Vec<f64> = free
        .iter()
        .map(|&p| a[p][p].sqrt().max(f64::MIN_POSITIVE))
        .collect();
    let mut mat = vec![vec![0.0; m + 1]; m];
    for i in 0..m {
        for j in 0..m {
            mat[i][j] = a[free[i]][free[j]] / (scale[i] * scale[j]);
        }
        mat[i][i] += mu;
        mat[i][m] = g[free[i]] / scale[i];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..m {
        let piv = (col..m).max_by(|&x, &y| mat[x][col].abs().total_cmp(&mat[y][col].abs()))?;
        if mat[piv][col].abs() < 1e-300 {
            return None;
        }
        mat.swap(col, piv);
        let pivot_row = mat[col].clone();
        for row in mat.iter_mut().skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= f * p;
            }
        }
    }
    let mut x = vec![0.0; m];
    for i in (0..m).rev() {
        let s: f64 = (i + 1..m).map(|k| mat[i][k] * x[k]).sum();
        x[i] = (mat[i][m] - s) / mat[i][i];
    }
    let out: Vec<f64> = x.iter().zip(&scale).map(|(v, s)| v / s).collect();
    out.iter().all(|v| v.is_finite()).then_some(out)
}

/// The fit as reported: fitted to the steps' (load, successful throughput), or why not
/// (open-loop runs are not fitted).
pub(crate) fn report(rows: &[StepRow], open: bool) -> Usl {
    let none = |reason: String, points: usize| Usl {
        sigma: None,
        kappa: None,
        lambda: None,
        n_star: None,
        x_max: None,
        r2: None,
        points,
        reason: Some(reason),
    };
    if open {
        return none(
            "open-loop run: the USL models throughput against concurrency; not fitted to offered rates".into(),
            0,
        );
    }
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.load > 0.0)
        .map(|r| (r.load, r.ok_rps))
        .collect();
    match fit(&pts) {
        Ok(f) => Usl {
            sigma: Some(f.sigma),
            kappa: Some(f.kappa),
            lambda: Some(f.lambda),
            n_star: f.n_star(),
            x_max: Some(f.x_max()).filter(|x| x.is_finite()),
            r2: Some(f.r2),
            points: pts.len(),
            reason: None,
        },
        Err(e) => none(e.to_string(), pts.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn specsdm91_reference_fit() {
        let n = [1.0, 18.0, 36.0, 72.0, 108.0, 144.0, 216.0];
        let x = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2];
        let pts: Vec<_> = n.into_iter().zip(x).collect();
        let f = fit(&pts).unwrap();
        assert!(close(f.sigma, 0.02773, 0.01), "{f:?}");
        assert!(close(f.kappa, 1.0437e-4, 0.01), "{f:?}");
        assert!(close(f.lambda, 89.995, 0.01), "{f:?}");
        assert!(close(f.n_star().unwrap(), 96.5, 0.01), "{f:?}");
        assert!(f.r2 > 0.98, "{f:?}");
    }

    #[test]
    fn raytracer_reference_fit_clamps_kappa() {
        let n = [
            1.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0, 32.0, 48.0, 64.0,
        ];
        let x = [
            20.0, 78.0, 130.0, 170.0, 190.0, 200.0, 210.0, 230.0, 260.0, 280.0, 310.0,
        ];
        let pts: Vec<_> = n.into_iter().zip(x).collect();
        let f = fit(&pts).unwrap();
        assert_eq!(f.kappa, 0.0, "{f:?}");
        assert!(close(f.sigma, 0.0578, 0.02), "{f:?}");
        assert!(close(f.lambda, 21.85, 0.01), "{f:?}");
        assert_eq!(f.n_star(), None);
    }

    #[test]
    fn too_few_points_is_a_stated_reason() {
        let e = fit(&[(1.0, 10.0), (2.0, 19.0), (4.0, 30.0)]).unwrap_err();
        assert_eq!(e, UslError::TooFewPoints { have: 3, need: 4 });
        assert!(e.to_string().contains("at least 4"));
        // Repeated levels do not count twice.
        assert!(fit(&[(1.0, 10.0), (1.0, 11.0), (2.0, 19.0), (4.0, 30.0)]).is_err());
        assert!(fit(&[(1.0, 0.0), (2.0, 0.0), (4.0, 0.0), (8.0, 0.0)]).is_err());
    }

    #[test]
    fn recovers_a_known_curve() {
        let truth = UslFit {
            sigma: 0.05,
            kappa: 0.001,
            lambda: 1000.0,
            r2: 1.0,
        };
        let pts: Vec<_> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
            .into_iter()
            .map(|n| (n, truth.predict(n)))
            .collect();
        let f = fit(&pts).unwrap();
        assert!(
            close(f.sigma, 0.05, 1e-4) && close(f.kappa, 0.001, 1e-4),
            "{f:?}"
        );
        assert!(close(f.n_star().unwrap(), (0.95f64 / 0.001).sqrt(), 1e-4));
    }
}
