//! The wgpu backend: the distance work of k-means assignment passes in a WGSL compute shader
//! (`shaders/kmeans.wgsl`), giving the CPU backend's answers bit for bit.
//!
//! Per fit, [`Backend::bind`] uploads the data once, cut into row tiles that each fit the
//! adapter's storage-binding and buffer limits, so any number of rows works. The pipelines are
//! built once per backend; bind groups that depend on k are built on the first pass and reused.
//! Each pass uploads the k × d centroids and finds every row's nearest and second-nearest
//! centroid on the device (the n · k · d part).
//!
//! Parity with the CPU: distances are f32 on the device, so a row whose two nearest centroids
//! are within [`tie_tolerance`] (relative) of each other is flagged and decided again in f64 on
//! the host, as the CPU backend decides it. Sums are exact integers on the CPU's fixed-point
//! grid ([`strata_compute::fixed`]), kept in the backend's own
//! [`strata_compute::cpu::Ledger`], so equal labels give bit-equal centroids whatever order
//! the rows were added in, and a whole fit follows the same path on both backends:
//! - on a Lloyd step whose inertia comes from the totals (every step after a fit's first), the
//!   `tally` shader adds each row to its centroid's totals on the device (features on the
//!   grid, squared norms, counts: 96-bit integer sums with carries), counts changed labels and
//!   lists the flagged rows. The host reads back k · (d + 2) totals and that list, not labels;
//!   it decides the listed rows in f64 and moves those whose label changes between totals. A
//!   list longer than its buffer sends the step to the host path, from the last pass's labels
//!   (kept in a second buffer);
//! - every other pass (a fit's first step, its final pass, one-off passes) reads the labels
//!   back and tallies them with [`strata_compute::cpu::tally_pass`], the CPU's own tally.
//!
//! [`GpuBackend::passes`] says which path each pass took. (Before the sums were exact, f32 sums
//! reduced on the device in another order differed in the last bits, which was enough to move
//! 58 of 1M customers over a fit on an H200.)
//!
//! Every wait on the device is bounded by a timeout; a validation error, an out-of-memory or a
//! lost device becomes a [`ComputeError::Device`] naming the stage, never a wrong answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rayon::prelude::*;
use strata_compute::{
    Assignments, Backend, BackendKind, BoundData, ComputeError, FarRow, MatrixRef, StepOutput,
    check_centroids,
    cpu::{Ledger, Scales, label_distances, nearest_two, row_norms, tally_pass},
    farthest_rows,
};
use wgpu::util::DeviceExt;

mod kprototypes;
pub use kprototypes::{KPrototypesScreen, ScreenCounts};

/// The WGSL source, embedded at build time.
pub const SHADER: &str = include_str!("../../../shaders/kmeans.wgsl");

/// Relative gap below which a row's two nearest centroids count as tied in f32 and are decided
/// again in f64. The device sums d + 1 non-negative f32 terms, each within about 3ε (ε = 2⁻²⁴)
/// relative, so each distance is within (d + 3)·ε relative and two of them within 2(d + 3)·ε;
/// a 1.25× margin over that, and never under 1e-5.
pub fn tie_tolerance(d: usize) -> f32 {
    (2.5 * (d as f32 + 3.0) * f32::EPSILON / 2.0).max(1e-5)
}

const WG: u32 = 256;
const LABEL: u32 = 0x3fff_ffff;
/// Set on a label whose two nearest centroids were within the tie tolerance on the device.
const TIE: u32 = 0x4000_0000;
/// Distances at or above this mean "no second centroid" (k = 1): the shader's sentinel.
const BIG: f32 = 1e38;
/// Loop iterations one invocation may run: bounds each dispatch's work (driver watchdogs) and
/// stays under llvmpipe's loop limit (~65k iterations per invocation).
const MAX_LOOP: usize = 32_768;

/// How to open the GPU backend.
#[derive(Debug, Clone)]
pub struct GpuOptions {
    /// Cap on rows per tile (tests force small tiles); the adapter's limits cap it anyway.
    pub max_tile_rows: Option<usize>,
    /// Longest wait for the device before giving up with an error.
    pub timeout: Duration,
    /// Cap on workgroups per dispatch dimension (tests force the 2-D dispatch path with a
    /// small value; the adapter's limit caps it anyway).
    pub max_workgroups_per_dim: Option<u32>,
    /// Entries of the device's list of near-tied rows per Lloyd step (tests force the
    /// overflow path with a small value); a step with more ties is tallied on the host.
    pub max_ties: Option<usize>,
    /// The relative gap under which the device flags a row's two nearest centroids as tied,
    /// for the host to decide in f64; [`tie_tolerance`] unless set (tests widen it to send
    /// many rows through that path; any value gives the same answers, only slower).
    pub tie_tolerance: Option<f32>,
    /// Sum on the device on Lloyd steps where it can (see [`GpuBackend`]); off, every pass
    /// reads the labels back and tallies them on the host.
    pub device_sums: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            max_tile_rows: None,
            timeout: Duration::from_secs(120),
            max_workgroups_per_dim: None,
            max_ties: None,
            tie_tolerance: None,
            device_sums: true,
        }
    }
}

/// An adapter wgpu can see, for `strata devices`.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    /// The adapter's name as its driver reports it, e.g. `"NVIDIA H200"`.
    pub name: String,
    /// The graphics API wgpu reaches it through, e.g. `"Vulkan"`.
    pub backend: String,
    /// What kind of device it is, e.g. `"DiscreteGpu"`, or `"Cpu"` for a software rasteriser.
    pub device_type: String,
    /// Driver name and version, when the driver reports them; may be empty.
    pub driver: String,
    /// Largest storage-buffer binding, in bytes: bounds the rows per tile.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer, in bytes.
    pub max_buffer_size: u64,
    /// Most workgroups one dispatch may have along each dimension.
    pub max_compute_workgroups_per_dimension: u32,
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    wgpu::Instance::new(desc)
}

fn summary(a: &wgpu::Adapter) -> AdapterSummary {
    let info = a.get_info();
    let l = a.limits();
    AdapterSummary {
        name: info.name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_owned(),
        max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
        max_buffer_size: l.max_buffer_size,
        max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
    }
}

/// Every adapter of the primary backends (Vulkan, Metal, DX12).
pub fn list_adapters() -> Vec<AdapterSummary> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::PRIMARY))
        .iter()
        .map(summary)
        .collect()
}

/// Passes of a [`GpuBackend`] by where their totals were summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassCounts {
    /// Lloyd steps summed on the device (k · (d + 2) totals read back).
    pub device: u64,
    /// Passes whose labels were read back and tallied on the host.
    pub host: u64,
    /// Of the host passes, Lloyd steps that were to be summed on the device but had more
    /// near-tied rows than its list holds.
    pub overflowed: u64,
}

/// The wgpu compute backend.
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    assign: wgpu::ComputePipeline,
    /// `None` where the adapter has less than the 16 KiB of workgroup memory it needs.
    tally: Option<wgpu::ComputePipeline>,
    /// Passes summed on the device so far, passes tallied on the host, and of those the
    /// Lloyd steps whose tie list overflowed.
    device_steps: AtomicU64,
    host_steps: AtomicU64,
    overflowed: AtomicU64,
    errors: Arc<Mutex<Vec<String>>>,
    opts: GpuOptions,
}

fn unavailable(reason: impl Into<String>) -> ComputeError {
    ComputeError::Unavailable {
        backend: "gpu",
        reason: reason.into(),
    }
}

impl GpuBackend {
    /// Opens the best adapter (high performance preferred) with the adapter's own limits.
    pub fn new(opts: GpuOptions) -> Result<GpuBackend, ComputeError> {
        let instance = instance();
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| {
            unavailable(format!(
                "no GPU adapter ({e}); is a Vulkan driver installed?"
            ))
        })?;
        let info = adapter.get_info();
        // Ask for what the adapter can do, not WebGPU's defaults: bigger bindings, fewer tiles.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("strata"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| unavailable(format!("{}: cannot open the device: {e}", info.name)))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e.to_string());
        }));
        let lost = Arc::clone(&errors);
        device.set_device_lost_callback(move |reason, message| {
            lost.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("device lost ({reason:?}): {message}"));
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("kmeans.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let assign = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("assign"),
            layout: None,
            module: &module,
            entry_point: Some("assign"),
            compilation_options: Default::default(),
            cache: None,
        });
        let tally = (limits.max_compute_workgroup_storage_size >= 16384).then(|| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("tally"),
                layout: None,
                module: &module,
                entry_point: Some("tally"),
                compilation_options: Default::default(),
                cache: None,
            })
        });
        let backend = GpuBackend {
            device,
            queue,
            info,
            limits,
            assign,
            tally,
            device_steps: AtomicU64::new(0),
            host_steps: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
            errors,
            opts,
        };
        backend.check("building the compute pipelines")?;
        Ok(backend)
    }

    /// What wgpu reports about the adapter in use.
    pub fn adapter(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// Which path this backend's passes took so far (for tests and the bench).
    pub fn passes(&self) -> PassCounts {
        PassCounts {
            device: self.device_steps.load(Ordering::Relaxed),
            host: self.host_steps.load(Ordering::Relaxed),
            overflowed: self.overflowed.load(Ordering::Relaxed),
        }
    }

    /// A software rasteriser posing as a GPU (lavapipe, SwiftShader, WARP): correct, not fast.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Fails with the first error the device reported since the last check.
    fn check(&self, stage: &'static str) -> Result<(), ComputeError> {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.is_empty() {
            return Ok(());
        }
        let message = errors.join("; ");
        errors.clear();
        Err(ComputeError::Device { stage, message })
    }

    /// Workgroups allowed per dispatch dimension.
    fn max_dim(&self) -> u32 {
        let limit = self.limits.max_compute_workgroups_per_dimension;
        self.opts
            .max_workgroups_per_dim
            .map_or(limit, |cap| cap.clamp(1, limit))
    }

    /// Largest storage binding usable here. lavapipe misbehaves above `i32::MAX` bytes.
    fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
            .min(i32::MAX as u64)
    }

    /// Waits for the queue, bounded by the timeout.
    fn wait(&self, stage: &'static str) -> Result<(), ComputeError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: Some(self.opts.timeout),
            })
            .map_err(|e| ComputeError::Device {
                stage,
                message: e.to_string(),
            })?;
        self.check(stage)
    }

    /// Copies `size` bytes of `source` into a fresh mapped buffer and returns them.
    fn read(
        &self,
        source: &wgpu::Buffer,
        size: u64,
        stage: &'static str,
    ) -> Result<Vec<u8>, ComputeError> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(source, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait(stage)?;
        match rx.try_recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(ComputeError::Device {
                    stage,
                    message: e.to_string(),
                });
            }
            Err(_) => {
                return Err(ComputeError::Device {
                    stage,
                    message: "the readback never completed".into(),
                });
            }
        }
        let bytes = slice
            .get_mapped_range()
            .map_err(|e| ComputeError::Device {
                stage,
                message: e.to_string(),
            })?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }

    fn uniform(&self, label: &str, contents: &[u8]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    fn storage(&self, label: &str, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: size.max(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }
}

impl Backend for GpuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Gpu
    }

    fn describe(&self) -> String {
        format!(
            "gpu: {} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    fn bind<'a>(&'a self, data: MatrixRef<'a>) -> Result<Box<dyn BoundData + 'a>, ComputeError> {
        let (n, d) = (data.n(), data.d());
        // The largest per-row buffer is the rows' (d · 4 bytes, padded by up to 12 to whole
        // vec4s) or, at d = 1, the norms' moments (8 bytes a row).
        let row_bytes = (d as u64 * 4).max(8);
        let mut tile_rows = (self.max_binding().saturating_sub(16) / row_bytes) as usize;
        if let Some(cap) = self.opts.max_tile_rows {
            tile_rows = tile_rows.min(cap.max(1));
        }
        if tile_rows == 0 {
            return Err(unavailable(format!(
                "one row of {d} features exceeds the adapter's storage binding"
            )));
        }
        let ledger = Ledger::new(Scales::new(data, &row_norms(data)));
        // Sums on the device need its pipeline and grids whose scaling stays within f32's
        // normal range (then x · 2^s is exact there, and subnormal inputs, which a device may
        // flush to zero, round to 0 on both).
        let shifts = ledger.shifts();
        let device_sums = (self.opts.device_sums
            && self.tally.is_some()
            && shifts.iter().all(|s| (-100..=100).contains(s)))
        .then_some(&ledger);
        let mut tiles = Vec::new();
        let mut start = 0;
        while start < n {
            let rows = tile_rows.min(n - start);
            let slice = &data.data()[start * d..(start + rows) * d];
            // Padded to whole vec4s: the shader also binds the rows as vec4.
            let bytes: &[u8] = bytemuck::cast_slice(slice);
            let x = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("rows"),
                size: (bytes.len() as u64).div_ceil(16).max(1) * 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: true,
            });
            {
                let mut view = x
                    .slice(..)
                    .get_mapped_range_mut()
                    .map_err(|e| unavailable(format!("cannot fill the rows' buffer: {e}")))?;
                view.slice(..bytes.len()).copy_from_slice(bytes);
            }
            x.unmap();
            let labels = self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("labels"),
                    contents: bytemuck::cast_slice(&vec![u32::MAX; rows]),
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                });
            let best = self.storage("best", rows as u64 * 4);
            let second = self.storage("second", rows as u64 * 4);
            let decided = [
                self.storage("decided labels", rows as u64 * 4),
                self.storage("decided labels", rows as u64 * 4),
            ];
            let moment = match &device_sums {
                Some(ledger) => {
                    let moments: Vec<[u32; 2]> = slice
                        .par_chunks(d)
                        .map(|row| {
                            let q = ledger.row_moment(row) as u64;
                            [q as u32, (q >> 32) as u32]
                        })
                        .collect();
                    self.device
                        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                            label: Some("moments"),
                            contents: bytemuck::cast_slice(&moments),
                            usage: wgpu::BufferUsages::STORAGE,
                        })
                }
                None => self.storage("moments", 4),
            };
            tiles.push(Tile {
                rows,
                row0: start,
                x,
                labels,
                best,
                second,
                decided,
                moment,
                groups: Vec::new(),
                tally_groups: [Vec::new(), Vec::new()],
            });
            start += rows;
        }
        // Data that cannot be allocated is unavailability (auto falls back to the CPU), not a
        // fit error.
        self.wait("uploading the data")
            .map_err(|e| unavailable(e.to_string()))?;
        let device_sums = device_sums.is_some();
        let shifts = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("shifts"),
                contents: bytemuck::cast_slice(&shifts),
                usage: wgpu::BufferUsages::STORAGE,
            });
        Ok(Box::new(GpuBound {
            gpu: self,
            data,
            ledger,
            tiles,
            shifts,
            device_sums,
            parity: 0,
            host_stale: false,
            k_state: None,
            centroids: Vec::new(),
            labels: vec![u32::MAX; n],
            nearest: vec![f32::INFINITY; n],
            stepped: false,
        }))
    }
}

struct Tile {
    rows: usize,
    /// The tile's first row in the matrix.
    row0: usize,
    x: wgpu::Buffer,
    labels: wgpu::Buffer,
    best: wgpu::Buffer,
    second: wgpu::Buffer,
    /// Decided labels, double-buffered: a Lloyd step summed on the device reads the last
    /// pass's from one and writes its own to the other, so a step whose tie list overflows can
    /// still be tallied on the host from the last pass's labels.
    decided: [wgpu::Buffer; 2],
    /// Each row's squared norm on the norms' grid, as (lo, hi) words.
    moment: wgpu::Buffer,
    /// One assign bind group per chunk of centroids (built with the k state).
    groups: Vec<wgpu::BindGroup>,
    /// Tally bind groups per parity (which decided buffer is read), one per column slice.
    tally_groups: [Vec<wgpu::BindGroup>; 2],
}

/// Buffers whose size depends on k, built on the first pass.
struct KState {
    k: usize,
    centroids: wgpu::Buffer,
    /// The device's totals: 3 words per (centroid, column), then changed rows and ties.
    acc: wgpu::Buffer,
    ties: wgpu::Buffer,
    tie_cap: usize,
    /// Whether Lloyd steps at this k sum on the device.
    device_sums: bool,
    _uniforms: Vec<wgpu::Buffer>,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TallyParams {
    n: u32,
    d: u32,
    k: u32,
    c0: u32,
    c1: u32,
    tie_cap: u32,
    first: u32,
    row0: u32,
}

/// (centroid, column) pairs one tally dispatch sums in workgroup memory (the shader's array,
/// less its last word).
const PAIRS: usize = 2047;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    d: u32,
    k: u32,
    j0: u32,
    j1: u32,
    tie: f32,
    pad: [u32; 2],
}

struct GpuBound<'a> {
    gpu: &'a GpuBackend,
    data: MatrixRef<'a>,
    /// Exact totals of the current labels, kept as the CPU backend keeps its own.
    ledger: Ledger,
    tiles: Vec<Tile>,
    /// Each feature's grid exponent, for the tally shader.
    shifts: wgpu::Buffer,
    /// Whether the grids allow summing on the device (see `bind`).
    device_sums: bool,
    /// Which of each tile's `decided` buffers holds the last pass's labels.
    parity: usize,
    /// The last pass was summed on the device: `labels` and `nearest` are not its own.
    host_stale: bool,
    k_state: Option<KState>,
    /// Centroids of the last pass (for re-deciding ties on the CPU).
    centroids: Vec<f32>,
    /// Labels of the last pass, after re-deciding ties (the next pass counts changes).
    labels: Vec<u32>,
    /// Squared distance of each row to its centroid in the last pass, as the CPU computes it.
    nearest: Vec<f32>,
    stepped: bool,
}

fn groups_2d(groups: u32, max: u32) -> (u32, u32) {
    let x = groups.clamp(1, max);
    (x, groups.div_ceil(x).max(1))
}

impl GpuBound<'_> {
    fn build_k_state(&mut self, k: usize) -> Result<(), ComputeError> {
        let gpu = self.gpu;
        let d = self.data.d();
        // Centroids per assign dispatch: k_chunk · (d + 1) loop iterations per invocation.
        let k_chunk = (MAX_LOOP / (d + 1)).max(1);
        // Whole vec4s: the shader also binds the centroids as vec4.
        let centroids = gpu.storage("centroids", ((k * d) as u64 * 4).div_ceil(16) * 16);
        fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            }
        }
        let mut uniforms = Vec::new();
        for t in &mut self.tiles {
            t.groups.clear();
            for j0 in (0..k).step_by(k_chunk) {
                let params = Params {
                    n: t.rows as u32,
                    d: d as u32,
                    k: k as u32,
                    j0: j0 as u32,
                    j1: (j0 + k_chunk).min(k) as u32,
                    tie: gpu.opts.tie_tolerance.unwrap_or_else(|| tie_tolerance(d)),
                    pad: [0; 2],
                };
                let uniform = gpu.uniform("params", bytemuck::bytes_of(&params));
                t.groups
                    .push(gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("assign"),
                        layout: &gpu.assign.get_bind_group_layout(0),
                        entries: &[
                            entry(0, &uniform),
                            entry(1, &t.x),
                            entry(2, &centroids),
                            entry(3, &t.labels),
                            entry(4, &t.best),
                            entry(5, &t.second),
                            entry(13, &t.x),
                            entry(14, &centroids),
                        ],
                    }));
                uniforms.push(uniform);
            }
        }
        // Columns per tally dispatch: k of them fill its workgroup memory's pairs.
        let columns = d + 2;
        let device_sums = self.device_sums && k <= PAIRS;
        let slice = (PAIRS / k.max(1)).clamp(1, columns);
        let n = self.data.n();
        let tie_cap = gpu
            .opts
            .max_ties
            .unwrap_or((n / 64).max(1024))
            .clamp(1, n.max(1));
        let acc = gpu.storage("totals", (k * columns * 3 + 2) as u64 * 4);
        let ties = gpu.storage("ties", tie_cap as u64 * 12);
        if device_sums {
            let tally = gpu
                .tally
                .as_ref()
                .expect("device sums need the tally pipeline");
            for t in &mut self.tiles {
                for parity in 0..2 {
                    t.tally_groups[parity].clear();
                    for c0 in (0..columns).step_by(slice) {
                        let params = TallyParams {
                            n: t.rows as u32,
                            d: d as u32,
                            k: k as u32,
                            c0: c0 as u32,
                            c1: (c0 + slice).min(columns) as u32,
                            tie_cap: tie_cap as u32,
                            first: u32::from(c0 == 0),
                            row0: t.row0 as u32,
                        };
                        let uniform = gpu.uniform("tally params", bytemuck::bytes_of(&params));
                        t.tally_groups[parity].push(gpu.device.create_bind_group(
                            &wgpu::BindGroupDescriptor {
                                label: Some("tally"),
                                layout: &tally.get_bind_group_layout(0),
                                entries: &[
                                    entry(1, &t.x),
                                    entry(3, &t.labels),
                                    entry(6, &uniform),
                                    entry(7, &t.decided[parity]),
                                    entry(8, &t.decided[1 - parity]),
                                    entry(9, &self.shifts),
                                    entry(10, &t.moment),
                                    entry(11, &acc),
                                    entry(12, &ties),
                                ],
                            },
                        ));
                        uniforms.push(uniform);
                    }
                }
            }
        }
        self.k_state = Some(KState {
            k,
            centroids,
            acc,
            ties,
            tie_cap,
            device_sums,
            _uniforms: uniforms,
        });
        // The device's decided labels start as the host's.
        self.refresh_host()?;
        self.upload_decided(self.parity);
        gpu.check("allocating the k-means buffers")
    }

    /// Writes the host's decided labels into each tile's `decided[parity]` buffer.
    fn upload_decided(&self, parity: usize) {
        for t in &self.tiles {
            let labels = &self.labels[t.row0..t.row0 + t.rows];
            self.gpu
                .queue
                .write_buffer(&t.decided[parity], 0, bytemuck::cast_slice(labels));
        }
    }

    /// Reads each tile's `decided[parity]` labels into the host's, and recomputes the host's
    /// distances from them, as a host tally would have left them.
    fn refresh_host(&mut self) -> Result<(), ComputeError> {
        if !self.host_stale {
            return Ok(());
        }
        let mut labels = Vec::with_capacity(self.data.n());
        for t in &self.tiles {
            let l = self
                .gpu
                .read(&t.decided[self.parity], t.rows as u64 * 4, "reading labels")?;
            labels.extend_from_slice(bytemuck::cast_slice::<u8, u32>(&l));
        }
        self.labels = labels;
        label_distances(self.data, &self.centroids, &self.labels, &mut self.nearest);
        self.host_stale = false;
        Ok(())
    }

    /// Reads every tile's labels as the device left them (tie flag included).
    fn read_labels(&self) -> Result<Vec<u32>, ComputeError> {
        let mut labels = Vec::with_capacity(self.data.n());
        for t in &self.tiles {
            let l = self
                .gpu
                .read(&t.labels, t.rows as u64 * 4, "reading labels")?;
            labels.extend_from_slice(bytemuck::cast_slice::<u8, u32>(&l));
        }
        Ok(labels)
    }

    /// Reads the nearest and second distances of every tile, as the device left them.
    fn read_distances(&self) -> Result<(Vec<f32>, Vec<f32>), ComputeError> {
        let n = self.data.n();
        let (mut best, mut second) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for t in &self.tiles {
            let bytes = t.rows as u64 * 4;
            for (buffer, out) in [(&t.best, &mut best), (&t.second, &mut second)] {
                let values = self.gpu.read(buffer, bytes, "reading distances")?;
                out.extend_from_slice(bytemuck::cast_slice::<u8, f32>(&values));
            }
        }
        Ok((best, second))
    }
}

impl GpuBound<'_> {
    /// One pass: labels on the device, and on a Lloyd step whose inertia comes from the
    /// totals (`lloyd` with totals of the last pass at this k, as in
    /// [`BoundData::lloyd_step`]) the totals too, read back as k · (d + 2) sums and a list of
    /// near-tied rows; otherwise the labels are read back and tallied on the host.
    fn pass(
        &mut self,
        centroids: &[f32],
        k: usize,
        lloyd: bool,
    ) -> Result<StepOutput, ComputeError> {
        let d = self.data.d();
        check_centroids(centroids, k, d)?;
        if self.k_state.as_ref().is_none_or(|s| s.k != k) {
            self.build_k_state(k)?;
        }
        let gpu = self.gpu;
        let ks = self.k_state.as_ref().expect("built above");
        let on_device = lloyd && ks.device_sums && self.ledger.holds(k);
        gpu.queue
            .write_buffer(&ks.centroids, 0, bytemuck::cast_slice(centroids));
        let max_dim = gpu.max_dim();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        if on_device {
            enc.clear_buffer(&ks.acc, 0, None);
        }
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&gpu.assign);
            for t in &self.tiles {
                let (gx, gy) = groups_2d((t.rows as u32).div_ceil(WG), max_dim);
                for chunk in &t.groups {
                    pass.set_bind_group(0, chunk, &[]);
                    pass.dispatch_workgroups(gx, gy, 1);
                }
            }
            if on_device {
                pass.set_pipeline(gpu.tally.as_ref().expect("device sums need the pipeline"));
                for t in &self.tiles {
                    let (gx, gy) = groups_2d((t.rows as u32).div_ceil(WG), max_dim);
                    for group in &t.tally_groups[self.parity] {
                        pass.set_bind_group(0, group, &[]);
                        pass.dispatch_workgroups(gx, gy, 1);
                    }
                }
            }
        }
        gpu.queue.submit([enc.finish()]);
        if on_device {
            if let Some(out) = self.device_totals(centroids, k)? {
                self.centroids = centroids.to_vec();
                self.stepped = true;
                self.parity = 1 - self.parity;
                self.host_stale = true;
                gpu.device_steps.fetch_add(1, Ordering::Relaxed);
                return Ok(out);
            }
            // More near-ties than the list holds: tallied on the host, from the last pass's
            // labels, which the device left in place.
            gpu.overflowed.fetch_add(1, Ordering::Relaxed);
        }
        self.refresh_host()?;
        // Rows the device could not order in f32 are decided in f64, as the CPU decides them.
        let mut decided = self.read_labels()?;
        decided.par_iter_mut().enumerate().for_each(|(i, l)| {
            *l = if *l & TIE != 0 {
                nearest_two(self.data.row(i), centroids, k, d).0
            } else {
                *l & LABEL
            };
        });
        let out = tally_pass(
            &mut self.ledger,
            self.data,
            centroids,
            k,
            &decided,
            &mut self.labels,
            &mut self.nearest,
            lloyd,
        )?;
        self.upload_decided(self.parity);
        self.centroids = centroids.to_vec();
        self.stepped = true;
        gpu.host_steps.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    /// The totals the device summed on this pass, with its near-tied rows decided again in f64
    /// and moved between totals (and in the device's labels) where that changes them; `None`
    /// when the tie list overflowed.
    fn device_totals(
        &mut self,
        centroids: &[f32],
        k: usize,
    ) -> Result<Option<StepOutput>, ComputeError> {
        let (n, d) = (self.data.n(), self.data.d());
        let columns = d + 2;
        let ks = self.k_state.as_ref().expect("built by the pass");
        let bytes = self.gpu.read(
            &ks.acc,
            (k * columns * 3 + 2) as u64 * 4,
            "reading the totals",
        )?;
        let words: &[u32] = bytemuck::cast_slice(&bytes);
        let counters = k * columns * 3;
        let (mut changed, tie_count) = (u64::from(words[counters]), words[counters + 1] as usize);
        if tie_count > ks.tie_cap {
            return Ok(None);
        }
        let total = |j: usize, c: usize| -> u128 {
            let g = 3 * (j * columns + c);
            u128::from(words[g]) | u128::from(words[g + 1]) << 32 | u128::from(words[g + 2]) << 64
        };
        let mut counts: Vec<u64> = (0..k).map(|j| total(j, d + 1) as u64).collect();
        let mut moments: Vec<i128> = (0..k).map(|j| total(j, d) as i128).collect();
        // Feature values were biased by 2^51 each.
        let mut sums: Vec<i128> = (0..k * d)
            .map(|i| total(i / d, i % d) as i128 - (i128::from(counts[i / d]) << 51))
            .collect();
        if counts.iter().sum::<u64>() != n as u64 {
            return Err(ComputeError::Device {
                stage: "reading the totals",
                message: format!(
                    "the device counted {} of {n} rows",
                    counts.iter().sum::<u64>()
                ),
            });
        }
        if tie_count > 0 {
            let bytes = self
                .gpu
                .read(&ks.ties, tie_count as u64 * 12, "reading near-tied rows")?;
            let ties: &[u32] = bytemuck::cast_slice(&bytes);
            let next = 1 - self.parity;
            for tie in ties.chunks_exact(3) {
                let (row, before, on_device) = (tie[0] as usize, tie[1], tie[2]);
                if row >= n || on_device as usize >= k {
                    return Err(ComputeError::Device {
                        stage: "reading near-tied rows",
                        message: format!("row {row}, label {on_device} of {n} rows, k = {k}"),
                    });
                }
                let x = self.data.row(row);
                let label = nearest_two(x, centroids, k, d).0;
                if label == on_device {
                    continue;
                }
                let (from, to) = (on_device as usize, label as usize);
                for (f, q) in self.ledger.quantize_row(x).into_iter().enumerate() {
                    sums[from * d + f] -= i128::from(q);
                    sums[to * d + f] += i128::from(q);
                }
                let q = i128::from(self.ledger.row_moment(x));
                moments[from] -= q;
                moments[to] += q;
                counts[from] -= 1;
                counts[to] += 1;
                // The device counted the row as changed when its own label differed.
                if on_device != before {
                    changed -= 1;
                }
                if label != before {
                    changed += 1;
                }
                let t = &self.tiles[self.tiles.partition_point(|t| t.row0 + t.rows <= row)];
                self.gpu.queue.write_buffer(
                    &t.decided[next],
                    ((row - t.row0) * 4) as u64,
                    bytemuck::bytes_of(&label),
                );
            }
        }
        self.ledger.set_totals(k, sums, moments, counts);
        Ok(Some(self.ledger.output(centroids, None, changed, n as u64)))
    }
}

impl BoundData for GpuBound<'_> {
    fn step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        self.pass(centroids, k, false)
    }

    fn lloyd_step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        self.pass(centroids, k, true)
    }

    fn assignments(&mut self) -> Result<Assignments, ComputeError> {
        if !self.stepped {
            return Err(ComputeError::Shape("no assignment pass has run yet".into()));
        }
        self.refresh_host()?;
        let raw = self.read_labels()?;
        let (mut nearest, mut second) = self.read_distances()?;
        let (k, d) = (self.centroids.len() / self.data.d(), self.data.d());
        let mut redecided = 0;
        for (i, &raw) in raw.iter().enumerate() {
            if second[i] >= BIG {
                second[i] = f32::INFINITY;
            }
            if raw & TIE != 0 {
                let (l, b, s) = nearest_two(self.data.row(i), &self.centroids, k, d);
                redecided += u64::from(l != raw & LABEL);
                (nearest[i], second[i]) = (b as f32, s as f32);
            }
        }
        Ok(Assignments {
            labels: self.labels.clone(),
            nearest,
            second,
            redecided,
        })
    }

    fn farthest(&mut self, count: usize) -> Result<Vec<FarRow>, ComputeError> {
        if !self.stepped {
            return Err(ComputeError::Shape("no assignment pass has run yet".into()));
        }
        // The host's distances of the last pass: the CPU backend's own, so reseeding an empty
        // cluster picks the same rows on both backends.
        self.refresh_host()?;
        Ok(farthest_rows(&self.labels, &self.nearest, count))
    }
}
