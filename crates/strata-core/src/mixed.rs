//! k-prototypes on the feature matrix (`--algorithm kprototypes`): the strategy wrote its
//! categorical columns as codes (ABI 1.4) and named them; here the matrix is split into its
//! numeric part (f64, as kmodes computes) and its codes, clustered by `strata-kprototypes`,
//! and the answer handed on as a k-means fit (`strata_kmeans::KMeansFit`) whose centroids
//! hold each segment's numeric means and, at the categorical features, its modes' codes, so that numbering, profiles,
//! labels and outputs work as for k-means. What depends on the distance (the quality, the
//! resampling refits, scoring new customers) asks this module.

use serde::{Deserialize, Serialize};
use strata_host::declared::CategoricalFeature;
use strata_kmeans::{KMeansFit, RunSummary};
use strata_kprototypes::{Data, Init, Params};
use tracing::info;

use crate::output::BackendReport;
use crate::{BackendChoice, CoreError, FitSettings};

/// How a k-prototypes fit compares customers: which features are codes, and γ.
#[derive(Debug, Clone)]
pub(crate) struct Mixed {
    d: usize,
    /// The numeric features' places, ascending.
    numeric: Vec<usize>,
    /// The coded features' places, ascending.
    categorical: Vec<usize>,
    /// Each coded feature's levels, by code (empty for a saved model's comparison).
    levels: Vec<Vec<String>>,
    /// The weight of one categorical mismatch against the squared numeric distance.
    pub gamma: f64,
    /// Whether γ came from kmodes' rule (not `--gamma`).
    pub gamma_default: bool,
}

/// The prototypes of a fit: numeric means (k × numeric features, f64) and modes (k × coded
/// features), in the segments' numbering.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prototypes {
    pub num: Vec<f64>,
    pub cat: Vec<u32>,
}

/// What `model.json` keeps of a k-prototypes fit to score new customers the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPrototypesRecord {
    /// The weight of one categorical mismatch.
    pub gamma: f64,
    /// The features that hold codes (the others are numeric), ascending.
    pub categorical: Vec<usize>,
    /// Per centroid, its numeric features' means in f64 (the centroids' f32 values are
    /// rounded); the modes are the centroids' values at `categorical`.
    pub numeric_prototypes: Vec<Vec<f64>>,
    /// How the prototypes started (`cao`).
    pub init: String,
    /// `--seed`.
    pub seed: u64,
    /// Restarts (`--n-init`), the lowest cost kept.
    pub n_init: usize,
    /// Most passes per run (`--max-iter`).
    pub max_iter: usize,
    /// The winning run's cost: Σ over customers of the squared numeric distance to their
    /// prototype plus γ × their mismatches with its modes.
    pub cost: f64,
    /// Passes of the winning run.
    pub iterations: usize,
}

impl Mixed {
    /// The comparison for a matrix of `d` features with these coded ones; γ is `gamma` or,
    /// without it, kmodes' rule on `matrix`'s numeric features.
    pub fn new(
        d: usize,
        categorical: &[CategoricalFeature],
        gamma: Option<f64>,
        matrix: &[f32],
    ) -> Mixed {
        let cat: Vec<usize> = categorical.iter().map(|c| c.index).collect();
        let numeric: Vec<usize> = (0..d).filter(|f| !cat.contains(f)).collect();
        let mut m = Mixed {
            d,
            numeric,
            categorical: cat,
            levels: categorical.iter().map(|c| c.levels.clone()).collect(),
            gamma: gamma.unwrap_or(0.0),
            gamma_default: gamma.is_none(),
        };
        if gamma.is_none() {
            let (num, codes) = m.split(matrix);
            m.gamma = Data::new(&num, m.numeric.len(), &codes, m.categorical.len())
                .map_or(0.0, |data| strata_kprototypes::default_gamma(&data));
        }
        m
    }

    /// The comparison a saved model used.
    pub fn saved(d: usize, record: &KPrototypesRecord) -> Mixed {
        Mixed {
            d,
            numeric: (0..d).filter(|f| !record.categorical.contains(f)).collect(),
            categorical: record.categorical.clone(),
            levels: Vec::new(),
            gamma: record.gamma,
            gamma_default: false,
        }
    }

    /// The coded features' places.
    pub fn categorical(&self) -> &[usize] {
        &self.categorical
    }

    /// Segment `j`'s modes: per coded feature, its place and the level (`None` for the code
    /// that stands for a category outside the levels).
    pub fn modes(&self, centroids: &[f32], j: usize) -> Vec<(usize, Option<&str>)> {
        self.categorical
            .iter()
            .zip(&self.levels)
            .map(|(&f, levels)| {
                let code = centroids[j * self.d + f] as usize;
                (f, levels.get(code).map(String::as_str))
            })
            .collect()
    }

    /// The numeric part of `matrix` (f64, row-major) and its codes.
    pub fn split(&self, matrix: &[f32]) -> (Vec<f64>, Vec<u32>) {
        let n = matrix.len() / self.d.max(1);
        let mut num = Vec::with_capacity(n * self.numeric.len());
        let mut cat = Vec::with_capacity(n * self.categorical.len());
        for row in matrix.chunks_exact(self.d.max(1)) {
            num.extend(self.numeric.iter().map(|&f| f64::from(row[f])));
            // Checked codes: whole numbers below 2^24, exact in f32.
            cat.extend(self.categorical.iter().map(|&f| row[f] as u32));
        }
        (num, cat)
    }

    /// `matrix`'s numeric features alone, f32 and row-major (the report's segment map).
    pub fn numeric_part(&self, rows: &[f32]) -> (Vec<f32>, usize) {
        let out = rows
            .chunks_exact(self.d.max(1))
            .flat_map(|row| self.numeric.iter().map(move |&f| row[f]))
            .collect();
        (out, self.numeric.len())
    }

    fn data<'a>(&self, num: &'a [f64], cat: &'a [u32]) -> Result<Data<'a>, CoreError> {
        Data::new(num, self.numeric.len(), cat, self.categorical.len()).map_err(kp_error)
    }

    fn params(&self, settings: &FitSettings, k: usize, seed: u64) -> Params {
        let c = settings.cluster();
        Params::new(k)
            .gamma(Some(self.gamma))
            .init(Init::Cao)
            .n_init(c.n_init)
            .max_iter(c.max_iter)
            .seed(seed)
    }

    /// Fits `k` prototypes on `matrix` with the fit's seed, restarts and `--max-iter`: the fit
    /// in k-means' shape, the prototypes, and where it ran.
    pub fn fit(
        &self,
        settings: &FitSettings,
        matrix: &[f32],
        k: usize,
    ) -> Result<(KMeansFit, Prototypes, BackendReport), CoreError> {
        let seed = settings.cluster().seed;
        let (num, cat) = self.split(matrix);
        let data = self.data(&num, &cat)?;
        let params = self.params(settings, k, seed);
        params.check(&data).map_err(kp_error)?;
        let started = std::time::Instant::now();
        let (fit, backend) = self.on_backend(settings, matrix, &cat, k, |screen| {
            strata_kprototypes::fit_screened(&params, &data, screen)
        })?;
        let fit = fit.map_err(kp_error)?;
        info!(
            "k-prototypes: cost {:.6e} after {} passes (γ = {:.6}{}), best of {} runs, in {:.3} s",
            fit.cost,
            fit.iterations,
            fit.gamma,
            if self.gamma_default {
                ", half the mean standard deviation of the numeric features"
            } else {
                ", --gamma"
            },
            fit.run_costs.len(),
            started.elapsed().as_secs_f64()
        );
        let protos = Prototypes {
            num: fit.num_centroids.clone(),
            cat: fit.cat_centroids.clone(),
        };
        let two = strata_kprototypes::nearest_two(&data, &protos.num, &protos.cat, k, self.gamma);
        let mut counts = vec![0u64; k];
        for &l in &fit.labels {
            counts[l as usize] += 1;
        }
        let max_iter = settings.cluster().max_iter;
        let converged = fit.iterations < max_iter;
        let runs = fit
            .run_costs
            .iter()
            .enumerate()
            .map(|(r, &cost)| {
                let best = r == fit.best_run;
                RunSummary {
                    seed: strata_kprototypes::run_seed(seed, r),
                    inertia: cost,
                    iterations: if best { fit.iterations } else { 0 },
                    converged: best && converged,
                    history: if best {
                        fit.epoch_costs.clone()
                    } else {
                        Vec::new()
                    },
                    reseeded: 0,
                    agreement: None,
                    searched: Vec::new(),
                    scores: Vec::new(),
                    bounds: None,
                }
            })
            .collect();
        let km = KMeansFit {
            k,
            d: self.d,
            centroids: self.centroids(&protos, k),
            labels: fit.labels,
            nearest: two.iter().map(|t| t.1 as f32).collect(),
            second: two.iter().map(|t| t.2 as f32).collect(),
            counts,
            inertia: fit.cost,
            iterations: fit.iterations,
            converged,
            best_run: fit.best_run,
            runs,
        };
        Ok((km, protos, backend))
    }

    /// Runs `work` with k-prototypes' labelling passes where `--backend` says: on the CPU
    /// (no screen), or through the GPU's screen (`--backend gpu`, or `auto` on a hardware
    /// adapter with enough work), whose answers are the CPU's bit for bit. The online passes
    /// are the CPU's either way.
    fn on_backend<T>(
        &self,
        settings: &FitSettings,
        matrix: &[f32],
        cat: &[u32],
        k: usize,
        work: impl FnOnce(Option<&dyn strata_kprototypes::Screen>) -> T,
    ) -> Result<(T, BackendReport), CoreError> {
        let n = matrix.len() / self.d.max(1);
        let choice = settings.cluster().backend;
        let work_per_pass = n as f64 * k as f64 * self.d as f64;
        match choice {
            BackendChoice::Cpu => return Ok((work(None), cpu_report("--backend cpu".into()))),
            BackendChoice::Auto if work_per_pass < crate::backend::GPU_MIN_WORK => {
                return Ok((
                    work(None),
                    cpu_report(format!(
                        "auto: n·k·d = {work_per_pass:.0} is too little work to pay for a GPU \
                         transfer"
                    )),
                ));
            }
            _ => {}
        }
        #[cfg(feature = "gpu")]
        {
            let gpu = match crate::backend::open_gpu() {
                Ok(g) if choice == BackendChoice::Auto && g.is_software() => {
                    return Ok((
                        work(None),
                        cpu_report(format!(
                            "auto: the only adapter, {}, is a software renderer",
                            g.adapter().name
                        )),
                    ));
                }
                Ok(g) => g,
                Err(reason) if choice == BackendChoice::Gpu => {
                    return Err(CoreError::GpuUnavailable { reason });
                }
                Err(reason) => return Ok((work(None), cpu_report(format!("auto: {reason}")))),
            };
            let (num32, _) = self.numeric_part(matrix);
            let screen = match strata_gpu::KPrototypesScreen::new(
                &gpu,
                &num32,
                self.numeric.len(),
                cat,
                self.categorical.len(),
            ) {
                Ok(s) => s,
                Err(e) if choice == BackendChoice::Gpu => {
                    return Err(CoreError::GpuUnavailable {
                        reason: e.to_string(),
                    });
                }
                Err(e) => {
                    return Ok((
                        work(None),
                        cpu_report(format!("auto: fell back to the CPU ({e})")),
                    ));
                }
            };
            let out = work(Some(&screen));
            let counts = screen.counts();
            info!(
                "k-prototypes' labelling passes on {}: {} passes, {} rows decided again in f64",
                gpu.adapter().name,
                counts.passes,
                counts.flagged
            );
            let info = gpu.adapter();
            Ok((
                out,
                BackendReport {
                    kind: "gpu".into(),
                    description: format!(
                        "gpu: {} ({:?}, {:?}); k-prototypes' labelling passes there, its \
                         online passes on the CPU",
                        info.name, info.backend, info.device_type
                    ),
                    reason: match choice {
                        BackendChoice::Gpu => "--backend gpu".into(),
                        _ => format!("auto: n·k·d = {work_per_pass:.0} on a GPU adapter"),
                    },
                },
            ))
        }
        #[cfg(not(feature = "gpu"))]
        {
            let _ = cat;
            match choice {
                BackendChoice::Gpu => Err(CoreError::GpuUnavailable {
                    reason: crate::backend::NO_GPU.into(),
                }),
                _ => Ok((
                    work(None),
                    cpu_report(format!("auto: {}", crate::backend::NO_GPU)),
                )),
            }
        }
    }

    /// The centroids in feature space: numeric means rounded to f32, modes' codes.
    pub fn centroids(&self, p: &Prototypes, k: usize) -> Vec<f32> {
        let (dn, dc) = (self.numeric.len(), self.categorical.len());
        let mut out = vec![0f32; k * self.d];
        for l in 0..k {
            let row = &mut out[l * self.d..(l + 1) * self.d];
            for (j, &f) in self.numeric.iter().enumerate() {
                row[f] = p.num[l * dn + j] as f32;
            }
            for (j, &f) in self.categorical.iter().enumerate() {
                row[f] = p.cat[l * dc + j] as f32;
            }
        }
        out
    }

    /// The prototypes a saved model holds (its f64 means, its centroids' codes).
    pub fn saved_prototypes(
        &self,
        record: &KPrototypesRecord,
        centroids: &[Vec<f32>],
    ) -> Result<Prototypes, String> {
        let dn = self.numeric.len();
        if record.numeric_prototypes.len() != centroids.len()
            || record.numeric_prototypes.iter().any(|p| p.len() != dn)
        {
            return Err(format!(
                "kprototypes.numeric_prototypes must hold {} rows of {dn} numbers",
                centroids.len()
            ));
        }
        let mut cat = Vec::with_capacity(centroids.len() * self.categorical.len());
        for c in centroids {
            for &f in &self.categorical {
                let v = c.get(f).copied().unwrap_or(f32::NAN);
                if !(v >= 0.0 && v.fract() == 0.0 && v < (1u32 << 24) as f32) {
                    return Err(format!(
                        "a centroid's mode at feature {f} is {v}, not a code"
                    ));
                }
                cat.push(v as u32);
            }
        }
        Ok(Prototypes {
            num: record.numeric_prototypes.concat(),
            cat,
        })
    }

    /// Each row of `matrix` labelled against `protos` (k of them), with its distance and the
    /// second-nearest's (f32, as k-means reports them), and each row's cost in f64.
    pub fn assign(
        &self,
        matrix: &[f32],
        protos: &Prototypes,
        k: usize,
    ) -> Result<(strata_kmeans::Assigned, Vec<f64>), CoreError> {
        let (num, cat) = self.split(matrix);
        let data = self.data(&num, &cat)?;
        let two = strata_kprototypes::nearest_two(&data, &protos.num, &protos.cat, k, self.gamma);
        let mut counts = vec![0u64; k];
        let mut cost = 0.0;
        for t in &two {
            counts[t.0 as usize] += 1;
            cost += t.1;
        }
        Ok((
            strata_kmeans::Assigned {
                labels: two.iter().map(|t| t.0).collect(),
                nearest: two.iter().map(|t| t.1 as f32).collect(),
                second: two.iter().map(|t| t.2 as f32).collect(),
                counts,
                inertia: cost,
            },
            two.iter().map(|t| t.1).collect(),
        ))
    }

    /// The quality of `labels` on `matrix` under k-prototypes' distance, the silhouette exact
    /// up to `exact_limit` rows.
    pub fn quality(
        &self,
        matrix: &[f32],
        labels: &[u32],
        k: usize,
        exact_limit: usize,
        seed: u64,
    ) -> strata_quality::Quality {
        let (num, cat) = self.split(matrix);
        let data = strata_quality::Mixed {
            num: &num,
            dn: self.numeric.len(),
            cat: &cat,
            dc: self.categorical.len(),
            gamma: self.gamma,
        };
        strata_quality::quality_mixed(&data, labels, k, exact_limit, seed)
    }

    /// The labels of a refit on `rows` (the resampling's), with `seed`.
    pub fn refit_labels(
        &self,
        settings: &FitSettings,
        rows: &[f32],
        k: usize,
        seed: u64,
    ) -> Result<Vec<u32>, CoreError> {
        let (num, cat) = self.split(rows);
        let data = self.data(&num, &cat)?;
        let params = self.params(settings, k, seed);
        params.check(&data).map_err(kp_error)?;
        Ok(strata_kprototypes::fit(&params, &data)
            .map_err(kp_error)?
            .labels)
    }

    /// What `model.json` keeps.
    pub fn record(
        &self,
        settings: &FitSettings,
        protos: &Prototypes,
        fit: &KMeansFit,
    ) -> KPrototypesRecord {
        let dn = self.numeric.len();
        KPrototypesRecord {
            gamma: self.gamma,
            categorical: self.categorical.clone(),
            numeric_prototypes: (0..fit.k)
                .map(|l| protos.num[l * dn..(l + 1) * dn].to_vec())
                .collect(),
            init: "cao".into(),
            seed: settings.cluster().seed,
            n_init: settings.cluster().n_init,
            max_iter: settings.cluster().max_iter,
            cost: fit.inertia,
            iterations: fit.iterations,
        }
    }
}

impl Prototypes {
    /// The prototypes renumbered: new segment `i` is old `order[i]`.
    pub fn reorder(&mut self, order: &[usize]) {
        let k = order.len();
        let (dn, dc) = (self.num.len() / k.max(1), self.cat.len() / k.max(1));
        self.num = order
            .iter()
            .flat_map(|&o| self.num[o * dn..(o + 1) * dn].to_vec())
            .collect();
        self.cat = order
            .iter()
            .flat_map(|&o| self.cat[o * dc..(o + 1) * dc].to_vec())
            .collect();
    }
}

/// The CPU as the backend of k-prototypes' work (a fit's, or scoring with its model).
pub(crate) fn cpu_report(reason: String) -> BackendReport {
    BackendReport {
        kind: "cpu".into(),
        description: format!(
            "CPU, {} threads (k-prototypes)",
            rayon::current_num_threads()
        ),
        reason,
    }
}

fn kp_error(e: strata_kprototypes::Error) -> CoreError {
    CoreError::Settings(format!("k-prototypes: {e}"))
}
