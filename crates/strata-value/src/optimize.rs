//! Deterministic minimisation for small maximum-likelihood fits: Nelder–Mead on the
//! parameters' logarithms (every parameter of these models is positive), then standard errors
//! from a central-difference Hessian of the negative log-likelihood at the optimum.

/// How a minimisation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// The minimising point (in the caller's parameters, not their logarithms).
    pub x: Vec<f64>,
    /// The function's value there.
    pub value: f64,
    /// Simplex iterations run.
    pub iterations: usize,
    /// Whether the stopping rule held (else `max_iter` was reached).
    pub converged: bool,
}

/// Stopping rule: the simplex's values within `F_TOL` (absolute, plus relative to the best)
/// and its vertices within `X_TOL` of the best in every log-coordinate.
const F_TOL: f64 = 1e-10;
const X_TOL: f64 = 1e-10;

/// Minimises `f` over positive parameters from `start` (every entry > 0) by Nelder–Mead on
/// their logarithms, with the standard coefficients (reflection 1, expansion 2, contraction
/// ½, shrink ½) and restarts from the best point until two runs agree (Nelder–Mead can stall
/// on a degenerate simplex; a restart rebuilds it).
pub fn minimise_positive(f: impl Fn(&[f64]) -> f64, start: &[f64], max_iter: usize) -> Minimum {
    let g = |y: &[f64]| {
        let x: Vec<f64> = y.iter().map(|v| v.exp()).collect();
        let v = f(&x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let mut y: Vec<f64> = start.iter().map(|v| v.ln()).collect();
    let mut total = 0;
    let mut converged = false;
    let mut best = g(&y);
    for _ in 0..10 {
        let (next, value, iterations, done) = nelder_mead(&g, &y, max_iter - total.min(max_iter));
        total += iterations;
        let settled = done && (best - value).abs() <= F_TOL * (1.0 + value.abs());
        y = next;
        best = value;
        converged = done;
        if settled || total >= max_iter {
            break;
        }
    }
    Minimum {
        x: y.iter().map(|v| v.exp()).collect(),
        value: best,
        iterations: total,
        converged,
    }
}

/// Minimises `f` from `start`, a point near the minimum (a sample's optimum), by Newton steps
/// on the parameters' logarithms with central-difference derivatives (steps of 1e-4): each
/// step clamped to 1 in every log-coordinate and halved until `f` decreases. It stops when a
/// step gains no more than the Nelder–Mead rule's `F_TOL` (absolute plus relative), or when
/// no halving decreases `f` and the quadratic model promises no more than that. Where the
/// Hessian is not positive definite, or 50 steps do not settle, Nelder–Mead takes over from
/// the best point.
pub fn polish(f: impl Fn(&[f64]) -> f64, start: &[f64], max_iter: usize) -> Minimum {
    let g = |y: &[f64]| {
        let x: Vec<f64> = y.iter().map(|v| v.exp()).collect();
        let v = f(&x);
        if v.is_finite() { v } else { f64::INFINITY }
    };
    let n = start.len();
    let mut y: Vec<f64> = start.iter().map(|v| v.ln()).collect();
    let mut fy = g(&y);
    for iteration in 0..50 {
        let (grad, hess) = derivatives(&g, &y, fy, 1e-4);
        let Some(inv) = invert(hess) else { break };
        let step: Vec<f64> = (0..n)
            .map(|i| -(0..n).map(|j| inv[i][j] * grad[j]).sum::<f64>())
            .collect();
        let slope: f64 = step.iter().zip(&grad).map(|(s, g)| s * g).sum();
        if slope.is_nan() || slope >= 0.0 {
            break; // not a descent direction: the Hessian is not positive definite
        }
        let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        let mut t = if largest > 1.0 { 1.0 / largest } else { 1.0 };
        let tol = F_TOL * (1.0 + fy.abs());
        let mut moved = false;
        for _ in 0..30 {
            let next: Vec<f64> = y.iter().zip(&step).map(|(a, s)| a + t * s).collect();
            let fnext = g(&next);
            if fnext < fy {
                let gain = fy - fnext;
                (y, fy, moved) = (next, fnext, true);
                if gain <= tol {
                    return done(&y, fy, iteration + 1);
                }
                break;
            }
            t *= 0.5;
        }
        if !moved {
            // No decrease along the Newton direction: at the optimum to the precision of f,
            // if the model agrees.
            if -0.5 * slope <= 10.0 * tol {
                return done(&y, fy, iteration + 1);
            }
            break;
        }
    }
    let x: Vec<f64> = y.iter().map(|v| v.exp()).collect();
    minimise_positive(f, &x, max_iter)
}

fn done(y: &[f64], value: f64, iterations: usize) -> Minimum {
    Minimum {
        x: y.iter().map(|v| v.exp()).collect(),
        value,
        iterations,
        converged: true,
    }
}

/// Central-difference gradient and Hessian of `g` at `y` (where `g(y)` = `gy`), steps `h`.
fn derivatives(
    g: &impl Fn(&[f64]) -> f64,
    y: &[f64],
    gy: f64,
    h: f64,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = y.len();
    let at = |moves: &[(usize, f64)]| {
        let mut p = y.to_vec();
        for &(i, d) in moves {
            p[i] += d;
        }
        g(&p)
    };
    let mut grad = vec![0.0; n];
    let mut hess = vec![vec![0.0; n]; n];
    for i in 0..n {
        let (up, down) = (at(&[(i, h)]), at(&[(i, -h)]));
        grad[i] = (up - down) / (2.0 * h);
        hess[i][i] = (up - 2.0 * gy + down) / (h * h);
    }
    let pairs = (0..n).flat_map(|i| (0..i).map(move |j| (i, j)));
    for (i, j) in pairs {
        let v = (at(&[(i, h), (j, h)]) - at(&[(i, h), (j, -h)]) - at(&[(i, -h), (j, h)])
            + at(&[(i, -h), (j, -h)]))
            / (4.0 * h * h);
        (hess[i][j], hess[j][i]) = (v, v);
    }
    (grad, hess)
}

fn nelder_mead(
    g: &impl Fn(&[f64]) -> f64,
    y0: &[f64],
    max_iter: usize,
) -> (Vec<f64>, f64, usize, bool) {
    let n = y0.len();
    // The initial simplex: each coordinate moved by 0.1 (10% in the parameter).
    let mut simplex: Vec<Vec<f64>> = vec![y0.to_vec()];
    for i in 0..n {
        let mut v = y0.to_vec();
        v[i] += 0.1;
        simplex.push(v);
    }
    let mut values: Vec<f64> = simplex.iter().map(|v| g(v)).collect();
    for iteration in 0..max_iter {
        // Order the vertices, best first (ties by index: deterministic).
        let mut order: Vec<usize> = (0..=n).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
        simplex = order.iter().map(|&i| simplex[i].clone()).collect();
        values = order.iter().map(|&i| values[i]).collect();
        let spread_f = (values[n] - values[0]).abs();
        let spread_x = simplex[1..]
            .iter()
            .flat_map(|v| v.iter().zip(&simplex[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if spread_f <= F_TOL * (1.0 + values[0].abs()) && spread_x <= X_TOL {
            return (simplex[0].clone(), values[0], iteration, true);
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|v| v[j]).sum::<f64>() / n as f64)
            .collect();
        let toward = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[n])
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let reflected = toward(-1.0);
        let fr = g(&reflected);
        if fr < values[0] {
            let expanded = toward(-2.0);
            let fe = g(&expanded);
            if fe < fr {
                (simplex[n], values[n]) = (expanded, fe);
            } else {
                (simplex[n], values[n]) = (reflected, fr);
            }
        } else if fr < values[n - 1] {
            (simplex[n], values[n]) = (reflected, fr);
        } else {
            let (contracted, fc) = if fr < values[n] {
                let c = toward(-0.5);
                let fc = g(&c);
                (c, fc)
            } else {
                let c = toward(0.5);
                let fc = g(&c);
                (c, fc)
            };
            if fc < values[n].min(fr) {
                (simplex[n], values[n]) = (contracted, fc);
            } else {
                for i in 1..=n {
                    simplex[i] = simplex[i]
                        .iter()
                        .zip(&simplex[0])
                        .map(|(v, b)| b + 0.5 * (v - b))
                        .collect();
                    values[i] = g(&simplex[i]);
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    (simplex[best].clone(), values[best], max_iter, false)
}

/// Standard errors at `x` of the minimiser of a negative log-likelihood `f`: the square roots
/// of the diagonal of the inverse Hessian (central differences, steps of 1e-4 relative).
/// `None` when the Hessian is not positive definite there.
pub fn standard_errors(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Option<Vec<f64>> {
    let n = x.len();
    let h: Vec<f64> = x.iter().map(|v| 1e-4 * v.abs().max(1e-8)).collect();
    let at = |moves: &[(usize, f64)]| {
        let mut p = x.to_vec();
        for &(i, d) in moves {
            p[i] += d;
        }
        f(&p)
    };
    let f0 = f(x);
    let mut hess = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in i..n {
            let v = if i == j {
                (at(&[(i, h[i])]) - 2.0 * f0 + at(&[(i, -h[i])])) / (h[i] * h[i])
            } else {
                (at(&[(i, h[i]), (j, h[j])])
                    - at(&[(i, h[i]), (j, -h[j])])
                    - at(&[(i, -h[i]), (j, h[j])])
                    + at(&[(i, -h[i]), (j, -h[j])]))
                    / (4.0 * h[i] * h[j])
            };
            hess[i][j] = v;
            hess[j][i] = v;
        }
    }
    let inv = invert(hess)?;
    (0..n)
        .map(|i| (inv[i][i] > 0.0).then(|| inv[i][i].sqrt()))
        .collect()
}

/// Gauss–Jordan inverse with partial pivoting; `None` when singular.
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let d = a[col][col];
        for j in 0..n {
            a[col][j] /= d;
            inv[col][j] /= d;
        }
        for row in 0..n {
            if row != col {
                let factor = a[row][col];
                for j in 0..n {
                    a[row][j] -= factor * a[col][j];
                    inv[row][j] -= factor * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_positive_quadratic_and_its_curvature() {
        // (x − 2)² + 4(y − 0.5)² + 1, minimum 1 at (2, 0.5); Hessian diag(2, 8) → as a
        // negative log-likelihood, standard errors 1/√2 and 1/√8 (the inverse of H).
        let f = |p: &[f64]| (p[0] - 2.0).powi(2) + 4.0 * (p[1] - 0.5).powi(2) + 1.0;
        let m = minimise_positive(f, &[1.0, 1.0], 10_000);
        assert!(m.converged);
        assert!(
            (m.x[0] - 2.0).abs() < 1e-6 && (m.x[1] - 0.5).abs() < 1e-6,
            "{m:?}"
        );
        assert!((m.value - 1.0).abs() < 1e-12);
        let se = standard_errors(f, &m.x).unwrap();
        assert!((se[0] - 0.5f64.sqrt()).abs() < 1e-4, "{se:?}");
        assert!((se[1] - 0.125f64.sqrt()).abs() < 1e-4, "{se:?}");
    }

    #[test]
    fn newton_polish_settles_a_nearby_start() {
        // A non-quadratic bowl in the logs: exp terms make Newton's first steps overshoot
        // without the line search.
        let f = |p: &[f64]| {
            let (a, b) = (p[0].ln(), p[1].ln());
            (a - 0.3).powi(2) + (b + 0.2).powi(2) + 0.5 * (a - 0.3).powi(4) + (a * b).exp() + 3.0
        };
        let nm = minimise_positive(f, &[1.0, 1.0], 10_000);
        let m = polish(f, &[1.5, 0.6], 10_000);
        assert!(m.converged);
        assert!(m.iterations < 50, "Newton, not the fallback: {m:?}");
        assert!((m.value - nm.value).abs() < 1e-9, "{m:?} against {nm:?}");
        assert!(
            m.x.iter().zip(&nm.x).all(|(a, b)| (a - b).abs() < 1e-4),
            "{m:?} against {nm:?}"
        );
    }
}
