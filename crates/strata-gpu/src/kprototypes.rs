//! k-prototypes' labelling pass in WGSL (`shaders/kprototypes.wgsl`): a
//! [`strata_kprototypes::Screen`] that labels every row on the device in f32 and flags the rows
//! whose two nearest prototypes its error bound cannot order. strata-kprototypes decides the
//! flagged rows again and computes every row's cost in f64 on the host, so a fit through this
//! screen gives the CPU's labels, costs and prototypes bit for bit (tested in
//! `tests/parity.rs`). The online passes, which move one customer at a time, stay on the CPU.
//!
//! The rows (the host's f32 features, numeric part and codes) are uploaded once per screen;
//! each pass uploads the k prototypes (their means rounded to f32, with the largest rounding
//! passed to the shader's bound) and reads back one label per row.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_compute::ComputeError;
use wgpu::util::DeviceExt;

use crate::{GpuBackend, MAX_LOOP, WG, groups_2d, unavailable};

/// The WGSL source, embedded at build time.
pub const SHADER: &str = include_str!("../../../shaders/kprototypes.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    dn: u32,
    dc: u32,
    k: u32,
    j0: u32,
    j1: u32,
    gamma: f32,
    e: f32,
    rho: f32,
    last: u32,
    pad: [u32; 2],
}

/// Customers on the device for k-prototypes' labelling passes.
pub struct KPrototypesScreen<'a> {
    gpu: &'a GpuBackend,
    pipeline: wgpu::ComputePipeline,
    n: usize,
    dn: usize,
    dc: usize,
    num: wgpu::Buffer,
    cat: wgpu::Buffer,
    passes: AtomicU64,
    flagged: AtomicU64,
    /// One pass on the device at a time: a fit's restarts run on several threads, and a
    /// readback's completion is delivered to whichever thread polls the device, so two
    /// threads waiting at once could each miss their own.
    device: Mutex<()>,
}

/// What a screen did: passes run and rows sent back to the host as near ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenCounts {
    /// Labelling passes run on the device.
    pub passes: u64,
    /// Rows flagged, over all passes.
    pub flagged: u64,
}

impl<'a> KPrototypesScreen<'a> {
    /// Uploads `n` rows: `num` (n × `dn` numbers, the features as f32) and `cat` (n × `dc`
    /// codes). Unavailable when a block exceeds the adapter's storage binding.
    pub fn new(
        gpu: &'a GpuBackend,
        num: &[f32],
        dn: usize,
        cat: &[u32],
        dc: usize,
    ) -> Result<KPrototypesScreen<'a>, ComputeError> {
        let n = num
            .len()
            .checked_div(dn)
            .unwrap_or_else(|| cat.len() / dc.max(1));
        let widest = (n * dn.max(dc).max(1)) as u64 * 4;
        if widest > gpu.max_binding() {
            return Err(unavailable(format!(
                "{n} customers of {} columns ({widest} bytes) exceed the adapter's storage \
                 binding ({} bytes) for k-prototypes",
                dn + dc,
                gpu.max_binding()
            )));
        }
        let module = gpu
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("kprototypes.wgsl"),
                source: wgpu::ShaderSource::Wgsl(SHADER.into()),
            });
        let pipeline = gpu
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("kprototypes label"),
                layout: None,
                module: &module,
                entry_point: Some("label"),
                compilation_options: Default::default(),
                cache: None,
            });
        let screen = KPrototypesScreen {
            gpu,
            pipeline,
            n,
            dn,
            dc,
            num: upload(gpu, "kprototypes numbers", bytemuck::cast_slice(num)),
            cat: upload(gpu, "kprototypes codes", bytemuck::cast_slice(cat)),
            passes: AtomicU64::new(0),
            flagged: AtomicU64::new(0),
            device: Mutex::new(()),
        };
        gpu.check("uploading the customers for k-prototypes")?;
        Ok(screen)
    }

    /// Passes run and rows flagged so far.
    pub fn counts(&self) -> ScreenCounts {
        ScreenCounts {
            passes: self.passes.load(Ordering::Relaxed),
            flagged: self.flagged.load(Ordering::Relaxed),
        }
    }

    /// One labelling pass against `k` prototypes.
    fn pass(
        &self,
        num: &[f64],
        cat: &[u32],
        k: usize,
        gamma: f64,
    ) -> Result<Vec<u32>, ComputeError> {
        let gpu = self.gpu;
        let (n, dn, dc) = (self.n, self.dn, self.dc);
        if num.len() != k * dn || cat.len() != k * dc {
            return Err(ComputeError::Device {
                stage: "k-prototypes labels",
                message: format!("{k} prototypes of {dn} + {dc} columns do not fit the data"),
            });
        }
        let _one_at_a_time = self.device.lock().unwrap_or_else(|p| p.into_inner());
        let rounded: Vec<f32> = num.iter().map(|&v| v as f32).collect();
        // The largest Euclidean rounding of a prototype, rounded up.
        let e = (0..k)
            .map(|l| {
                (0..dn)
                    .map(|j| {
                        let i = l * dn + j;
                        let r = num[i] - f64::from(rounded[i]);
                        r * r
                    })
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0, f64::max);
        let e = (e * (1.0 + 1e-6)) as f32;
        // f32's relative rounding of the sums and of γ, doubled to cover f64's too.
        let rho = 2.0 * (dn + dc + 6) as f32 * f32::EPSILON / 2.0;
        let pnum = upload(gpu, "prototypes' means", bytemuck::cast_slice(&rounded));
        let pcat = upload(gpu, "prototypes' modes", bytemuck::cast_slice(cat));
        let labels = gpu.storage("kprototypes labels", n as u64 * 4);
        let best = gpu.storage("kprototypes best", n as u64 * 4);
        let second = gpu.storage("kprototypes second", n as u64 * 4);
        let chunk = (MAX_LOOP / (dn + dc + 1)).max(1);
        let (gx, gy) = groups_2d((n as u32).div_ceil(WG), gpu.max_dim());
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        let mut uniforms = Vec::new();
        {
            let mut cpass = enc.begin_compute_pass(&Default::default());
            cpass.set_pipeline(&self.pipeline);
            for j0 in (0..k).step_by(chunk) {
                let j1 = (j0 + chunk).min(k);
                let params = Params {
                    n: n as u32,
                    dn: dn as u32,
                    dc: dc as u32,
                    k: k as u32,
                    j0: j0 as u32,
                    j1: j1 as u32,
                    gamma: gamma as f32,
                    e,
                    rho,
                    last: u32::from(j1 == k),
                    pad: [0; 2],
                };
                let uniform = gpu.uniform("kprototypes params", bytemuck::bytes_of(&params));
                let group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("kprototypes label"),
                    layout: &self.pipeline.get_bind_group_layout(0),
                    entries: &[
                        entry(0, &uniform),
                        entry(1, &self.num),
                        entry(2, &self.cat),
                        entry(3, &pnum),
                        entry(4, &pcat),
                        entry(5, &labels),
                        entry(6, &best),
                        entry(7, &second),
                    ],
                });
                cpass.set_bind_group(0, &group, &[]);
                cpass.dispatch_workgroups(gx, gy, 1);
                uniforms.push(uniform);
            }
        }
        gpu.queue.submit([enc.finish()]);
        let bytes = gpu.read(&labels, n as u64 * 4, "k-prototypes labels")?;
        let out: Vec<u32> = bytemuck::cast_slice::<u8, u32>(&bytes).to_vec();
        let flagged = out
            .iter()
            .filter(|&&l| l & strata_kprototypes::SCREEN_TIE != 0)
            .count();
        self.passes.fetch_add(1, Ordering::Relaxed);
        self.flagged.fetch_add(flagged as u64, Ordering::Relaxed);
        Ok(out)
    }
}

/// A read-only storage buffer holding `bytes`; a zero-sized binding is not allowed, so an
/// empty block (no numeric or no categorical column) is one unused word.
fn upload(gpu: &GpuBackend, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    let bytes = if bytes.is_empty() {
        &[0u8; 4][..]
    } else {
        bytes
    };
    gpu.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: wgpu::BufferUsages::STORAGE,
        })
}

fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

impl strata_kprototypes::Screen for KPrototypesScreen<'_> {
    fn nearest(&self, num: &[f64], cat: &[u32], k: usize, gamma: f64) -> Result<Vec<u32>, String> {
        self.pass(num, cat, k, gamma).map_err(|e| e.to_string())
    }
}
