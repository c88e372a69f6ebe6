//! The wgpu backend: the distance work of k-means assignment passes in a WGSL compute shader
//! (`shaders/kmeans.wgsl`), giving the CPU backend's answers bit for bit.
//!
//! Per fit, [`Backend::bind`] uploads the data once, cut into row tiles that each fit the
//! adapter's storage-binding and buffer limits, so any number of rows works. The pipeline is
//! built once per backend; bind groups that depend on k are built on the first pass and reused.
//! Each pass uploads the k × d centroids, finds every row's nearest and second-nearest centroid
//! on the device (the n · k · d part), and reads back one label per row.
//!
//! Parity with the CPU: distances are f32 on the device, so a row whose two nearest centroids
//! are within [`tie_tolerance`] (relative) of each other comes back flagged and is decided again
//! in f64 on the host, as the CPU backend decides it. Sums, counts, inertia and changed rows are
//! then tallied on the host by [`strata_compute::cpu::tally_pass`] into the backend's own
//! [`strata_compute::cpu::Ledger`]: the sums are exact integers on a fixed-point grid, the
//! inertia follows the CPU's rule, so equal labels give bit-equal centroids and a whole fit
//! follows the same path on both backends. (Before the sums were exact, f32 sums reduced on the
//! device in another order differed in the last bits, which was enough to move 58 of 1M
//! customers over a fit on an H200; integer sums could now be reduced on the device.)
//!
//! Every wait on the device is bounded by a timeout; a validation error, an out-of-memory or a
//! lost device becomes a [`ComputeError::Device`] naming the stage, never a wrong answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rayon::prelude::*;
use strata_compute::{
    Assignments, Backend, BackendKind, BoundData, ComputeError, FarRow, MatrixRef, StepOutput,
    check_centroids,
    cpu::{Ledger, Scales, nearest_two, row_norms, tally_pass},
    farthest_rows,
};
use wgpu::util::DeviceExt;

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
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            max_tile_rows: None,
            timeout: Duration::from_secs(120),
            max_workgroups_per_dim: None,
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

/// The wgpu compute backend.
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    assign: wgpu::ComputePipeline,
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
        let backend = GpuBackend {
            device,
            queue,
            info,
            limits,
            assign,
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
        let row_bytes = (d * 4) as u64;
        let mut tile_rows = (self.max_binding() / row_bytes) as usize;
        if let Some(cap) = self.opts.max_tile_rows {
            tile_rows = tile_rows.min(cap.max(1));
        }
        if tile_rows == 0 {
            return Err(unavailable(format!(
                "one row of {d} features exceeds the adapter's storage binding"
            )));
        }
        let mut tiles = Vec::new();
        let mut start = 0;
        while start < n {
            let rows = tile_rows.min(n - start);
            let slice = &data.data()[start * d..(start + rows) * d];
            let x = self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("rows"),
                    contents: bytemuck::cast_slice(slice),
                    usage: wgpu::BufferUsages::STORAGE,
                });
            let labels = self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("labels"),
                    contents: bytemuck::cast_slice(&vec![u32::MAX; rows]),
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                });
            let best = self.storage("best", rows as u64 * 4);
            let second = self.storage("second", rows as u64 * 4);
            tiles.push(Tile {
                rows,
                x,
                labels,
                best,
                second,
                groups: Vec::new(),
            });
            start += rows;
        }
        // Data that cannot be allocated is unavailability (auto falls back to the CPU), not a
        // fit error.
        self.wait("uploading the data")
            .map_err(|e| unavailable(e.to_string()))?;
        let ledger = Ledger::new(Scales::new(data, &row_norms(data)));
        Ok(Box::new(GpuBound {
            gpu: self,
            data,
            ledger,
            tiles,
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
    x: wgpu::Buffer,
    labels: wgpu::Buffer,
    best: wgpu::Buffer,
    second: wgpu::Buffer,
    /// One assign bind group per chunk of centroids (built with the k state).
    groups: Vec<wgpu::BindGroup>,
}

/// Buffers whose size depends on k, built on the first pass.
struct KState {
    k: usize,
    centroids: wgpu::Buffer,
    _uniforms: Vec<wgpu::Buffer>,
}

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
        let centroids = gpu.storage("centroids", (k * d) as u64 * 4);
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
                    tie: tie_tolerance(d),
                    pad: [0; 2],
                };
                let uniform = gpu
                    .device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("params"),
                        contents: bytemuck::bytes_of(&params),
                        usage: wgpu::BufferUsages::UNIFORM,
                    });
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
                        ],
                    }));
                uniforms.push(uniform);
            }
        }
        self.k_state = Some(KState {
            k,
            centroids,
            _uniforms: uniforms,
        });
        gpu.check("allocating the k-means buffers")
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
    /// One pass: labels on the device, tallied on the host; `lloyd` as in
    /// [`BoundData::lloyd_step`] (every row is searched here, so only the inertia's rule
    /// differs).
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
        gpu.queue
            .write_buffer(&ks.centroids, 0, bytemuck::cast_slice(centroids));
        let max_dim = gpu.max_dim();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
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
        }
        gpu.queue.submit([enc.finish()]);
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
        self.centroids = centroids.to_vec();
        self.stepped = true;
        Ok(out)
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
        Ok(farthest_rows(&self.labels, &self.nearest, count))
    }
}
