//! The wgpu backend: k-means assignment passes and centroid sums in WGSL compute shaders
//! (`shaders/kmeans.wgsl`), giving the CPU backend's answers.
//!
//! Per fit, [`Backend::bind`] uploads the data once, cut into row tiles that each fit the
//! adapter's storage-binding and buffer limits, so any number of rows works. Pipelines are
//! built once per backend; buffers that depend on k are built on the first pass and reused.
//! Each pass uploads only the k × d centroids and reads back k × d sums, k counts, the number of
//! changed rows and the inertia; labels and distances are read once, at the end.
//!
//! Parity with the CPU: distances are f32 on the device and f64 on the CPU, so when a row's
//! two nearest centroids are within [`TIE_TOLERANCE`] (relative) of each other, the final
//! labels are decided again on the CPU in f64 and counted ([`Assignments::redecided`]). Sums use
//! Kahan-compensated f32 in two fixed-order stages (error about 2ε·Σ|x| each, ε = 2⁻²⁴).
//!
//! Every wait on the device is bounded by a timeout; a validation error, an out-of-memory or a
//! lost device becomes a [`ComputeError::Device`] naming the stage, never a wrong answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_compute::{
    Assignments, Backend, BackendKind, BoundData, ComputeError, FarRow, MatrixRef, StepOutput,
    check_centroids, cpu::nearest_two, farthest_rows,
};
use wgpu::util::DeviceExt;

/// The WGSL source, embedded at build time.
pub const SHADER: &str = include_str!("../../../shaders/kmeans.wgsl");

/// Relative gap below which a row's two nearest centroids count as tied in f32.
pub const TIE_TOLERANCE: f32 = 1e-5;

const WG: u32 = 256;
const LABEL: u32 = 0x7fff_ffff;
/// Distances at or above this mean "no second centroid" (k = 1): the shader's sentinel.
const BIG: f32 = 1e38;
/// Partial-sum buffers stay under this many bytes when they can.
const PARTIAL_BUDGET: u64 = 64 << 20;
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
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
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
    partial: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
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
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let (assign, partial, reduce) =
            (pipeline("assign"), pipeline("partial"), pipeline("reduce"));
        let backend = GpuBackend {
            device,
            queue,
            info,
            limits,
            assign,
            partial,
            reduce,
            errors,
            opts,
        };
        backend.check("building the compute pipelines")?;
        Ok(backend)
    }

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
            let previous = self.storage("previous labels", rows as u64 * 4);
            tiles.push(Tile {
                rows,
                x,
                labels,
                best,
                second,
                previous,
                blocks: 0,
                block_base: 0,
                groups: None,
            });
            start += rows;
        }
        // Data that cannot be allocated is unavailability (auto falls back to the CPU), not a
        // fit error.
        self.wait("uploading the data")
            .map_err(|e| unavailable(e.to_string()))?;
        Ok(Box::new(GpuBound {
            gpu: self,
            data,
            tiles,
            k_state: None,
            centroids: Vec::new(),
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
    previous: wgpu::Buffer,
    blocks: u32,
    block_base: u32,
    /// One assign bind group per chunk of centroids, then the partial bind group.
    groups: Option<(Vec<wgpu::BindGroup>, wgpu::BindGroup)>,
}

/// Buffers whose size depends on k, built on the first pass.
struct KState {
    k: usize,
    centroids: wgpu::Buffer,
    rsums: wgpu::Buffer,
    rcounts: wgpu::Buffer,
    reduce_group: wgpu::BindGroup,
    _keep: Vec<wgpu::Buffer>,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    d: u32,
    k: u32,
    kd: u32,
    block_rows: u32,
    block_base: u32,
    n_blocks: u32,
    j0: u32,
    j1: u32,
    pad: [u32; 3],
}

struct GpuBound<'a> {
    gpu: &'a GpuBackend,
    data: MatrixRef<'a>,
    tiles: Vec<Tile>,
    k_state: Option<KState>,
    /// Centroids of the last pass (for re-deciding ties on the CPU).
    centroids: Vec<f32>,
    stepped: bool,
}

fn groups_2d(groups: u32, max: u32) -> (u32, u32) {
    let x = groups.clamp(1, max);
    (x, groups.div_ceil(x).max(1))
}

impl GpuBound<'_> {
    fn build_k_state(&mut self, k: usize) -> Result<(), ComputeError> {
        let gpu = self.gpu;
        let (n, d) = (self.data.n(), self.data.d());
        let kd = (k * d) as u64;
        let max_dim = gpu.max_dim();
        let budget = PARTIAL_BUDGET.min(gpu.max_binding());
        let max_blocks = (budget / (kd * 4).max(1)).max(1) as usize;
        let max_tile = self.tiles.iter().map(|t| t.rows).max().unwrap_or(1);
        // Rows per block: enough blocks to keep the partial sums in budget, few enough rows
        // that one invocation's loop stays bounded (the budget gives way first).
        let block_rows = n
            .div_ceil(max_blocks)
            .max(WG as usize)
            .min(MAX_LOOP)
            .max(max_tile.div_ceil(max_dim as usize)) as u32;
        // Centroids per assign dispatch: k_chunk · (d + 1) loop iterations per invocation.
        let k_chunk = (MAX_LOOP / (d + 1)).max(1);
        let mut base = 0u32;
        for t in &mut self.tiles {
            t.blocks = (t.rows as u32).div_ceil(block_rows);
            t.block_base = base;
            base += t.blocks;
        }
        let n_blocks = base;
        if u64::from(n_blocks) * kd * 4 > gpu.max_binding() {
            return Err(unavailable(format!(
                "k × d = {kd} is too large for this adapter's partial sums"
            )));
        }
        let centroids = gpu.storage("centroids", kd * 4);
        let psums = gpu.storage("partial sums", u64::from(n_blocks) * kd * 4);
        let pcounts = gpu.storage("partial counts", u64::from(n_blocks) * (k as u64 + 1) * 4);
        let pinertia = gpu.storage("partial inertia", u64::from(n_blocks) * 4);
        let rsums = gpu.storage("sums", (kd + 1) * 4);
        let rcounts = gpu.storage("counts", (k as u64 + 1) * 4);
        fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            }
        }
        let mut uniforms = Vec::new();
        for t in &mut self.tiles {
            let params = |j0: usize, j1: usize| Params {
                n: t.rows as u32,
                d: d as u32,
                k: k as u32,
                kd: kd as u32,
                block_rows,
                block_base: t.block_base,
                n_blocks,
                j0: j0 as u32,
                j1: j1 as u32,
                pad: [0; 3],
            };
            let uniform_of = |p: Params| {
                gpu.device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("params"),
                        contents: bytemuck::bytes_of(&p),
                        usage: wgpu::BufferUsages::UNIFORM,
                    })
            };
            let mut assign = Vec::new();
            for j0 in (0..k).step_by(k_chunk) {
                let chunk_uniform = uniform_of(params(j0, (j0 + k_chunk).min(k)));
                assign.push(gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("assign"),
                    layout: &gpu.assign.get_bind_group_layout(0),
                    entries: &[
                        entry(0, &chunk_uniform),
                        entry(1, &t.x),
                        entry(2, &centroids),
                        entry(3, &t.labels),
                        entry(4, &t.best),
                        entry(5, &t.second),
                        entry(11, &t.previous),
                    ],
                }));
                uniforms.push(chunk_uniform);
            }
            let uniform = uniform_of(params(0, k));
            let partial = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("partial"),
                layout: &gpu.partial.get_bind_group_layout(0),
                entries: &[
                    entry(0, &uniform),
                    entry(1, &t.x),
                    entry(3, &t.labels),
                    entry(4, &t.best),
                    entry(6, &psums),
                    entry(7, &pcounts),
                    entry(8, &pinertia),
                ],
            });
            t.groups = Some((assign, partial));
            uniforms.push(uniform);
        }
        let reduce_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("reduce"),
            layout: &gpu.reduce.get_bind_group_layout(0),
            entries: &[
                entry(0, uniforms.last().expect("one tile at least")),
                entry(6, &psums),
                entry(7, &pcounts),
                entry(8, &pinertia),
                entry(9, &rsums),
                entry(10, &rcounts),
            ],
        });
        let mut keep = uniforms;
        keep.extend([psums, pcounts, pinertia]);
        self.k_state = Some(KState {
            k,
            centroids,
            rsums,
            rcounts,
            reduce_group,
            _keep: keep,
        });
        gpu.check("allocating the k-means buffers")
    }

    /// Reads labels, nearest and second distances of every tile, as the device left them.
    fn read_rows(&self) -> Result<Assignments, ComputeError> {
        let n = self.data.n();
        let (mut labels, mut best, mut second) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for t in &self.tiles {
            let bytes = t.rows as u64 * 4;
            let l = self.gpu.read(&t.labels, bytes, "reading labels")?;
            labels.extend(
                bytemuck::cast_slice::<u8, u32>(&l)
                    .iter()
                    .map(|v| v & LABEL),
            );
            best.extend_from_slice(bytemuck::cast_slice::<u8, f32>(&self.gpu.read(
                &t.best,
                bytes,
                "reading distances",
            )?));
            second.extend_from_slice(bytemuck::cast_slice::<u8, f32>(&self.gpu.read(
                &t.second,
                bytes,
                "reading distances",
            )?));
        }
        Ok(Assignments {
            labels,
            nearest: best,
            second,
            redecided: 0,
        })
    }
}

impl BoundData for GpuBound<'_> {
    fn step(&mut self, centroids: &[f32], k: usize) -> Result<StepOutput, ComputeError> {
        let d = self.data.d();
        check_centroids(centroids, k, d)?;
        if self.k_state.as_ref().is_none_or(|s| s.k != k) {
            self.build_k_state(k)?;
        }
        let gpu = self.gpu;
        let ks = self.k_state.as_ref().expect("built above");
        gpu.queue
            .write_buffer(&ks.centroids, 0, bytemuck::cast_slice(centroids));
        let kd = (k * d) as u32;
        let elements = kd + k as u32 + 2;
        let max_dim = gpu.max_dim();
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for t in &self.tiles {
                let (assign, partial) = t.groups.as_ref().expect("built with the k state");
                pass.set_pipeline(&gpu.assign);
                let (gx, gy) = groups_2d((t.rows as u32).div_ceil(WG), max_dim);
                for chunk in assign {
                    pass.set_bind_group(0, chunk, &[]);
                    pass.dispatch_workgroups(gx, gy, 1);
                }
                pass.set_pipeline(&gpu.partial);
                pass.set_bind_group(0, partial, &[]);
                pass.dispatch_workgroups(elements.div_ceil(WG), t.blocks, 1);
            }
            pass.set_pipeline(&gpu.reduce);
            pass.set_bind_group(0, &ks.reduce_group, &[]);
            pass.dispatch_workgroups(elements.div_ceil(WG), 1, 1);
        }
        gpu.queue.submit([enc.finish()]);
        let sums = gpu.read(&ks.rsums, (u64::from(kd) + 1) * 4, "an assignment pass")?;
        let counts = gpu.read(&ks.rcounts, (k as u64 + 1) * 4, "an assignment pass")?;
        let sums: &[f32] = bytemuck::cast_slice(&sums);
        let counts: &[u32] = bytemuck::cast_slice(&counts);
        self.centroids = centroids.to_vec();
        self.stepped = true;
        Ok(StepOutput {
            sums: sums[..kd as usize].iter().map(|&v| f64::from(v)).collect(),
            counts: counts[..k].iter().map(|&c| u64::from(c)).collect(),
            inertia: f64::from(sums[kd as usize]),
            changed: u64::from(counts[k]),
        })
    }

    fn assignments(&mut self) -> Result<Assignments, ComputeError> {
        if !self.stepped {
            return Err(ComputeError::Shape("no assignment pass has run yet".into()));
        }
        let Assignments {
            mut labels,
            mut nearest,
            mut second,
            ..
        } = self.read_rows()?;
        let (k, d) = (self.centroids.len() / self.data.d(), self.data.d());
        let mut redecided = 0;
        for i in 0..labels.len() {
            if second[i] >= BIG {
                second[i] = f32::INFINITY;
            }
            let gap = second[i] - nearest[i];
            if gap <= TIE_TOLERANCE * second[i].max(f32::MIN_POSITIVE) {
                let (l, b, s) = nearest_two(self.data.row(i), &self.centroids, k, d);
                if l != labels[i] {
                    redecided += 1;
                }
                (labels[i], nearest[i], second[i]) = (l, b as f32, s as f32);
            }
        }
        Ok(Assignments {
            labels,
            nearest,
            second,
            redecided,
        })
    }

    fn farthest(&mut self, count: usize) -> Result<Vec<FarRow>, ComputeError> {
        let rows = self.read_rows()?;
        Ok(farthest_rows(&rows.labels, &rows.nearest, count))
    }
}
