//! wgpu context and the element-wise kernels (log-Bessel) on the GPU.
//!
//! The WGSL sources live in `core/src/<capability>/wgsl/` and are shared with
//! the browser build. Every result is tested against the CPU core.

use std::fmt;

use wgpu::util::DeviceExt;

/// The WGSL log-Bessel kernel (f32), shared with the browser build.
pub const LOG_BESSEL_WGSL: &str = concat!(
    include_str!("../../core/src/bessel/wgsl/debye_table.wgsl"),
    include_str!("../../core/src/bessel/wgsl/log_bessel.wgsl")
);

/// The WGSL GEMV kernel for group-quantized matrices.
pub const QUANT_GEMV_WGSL: &str = include_str!("../../core/src/quant/wgsl/gemv.wgsl");

/// The WGSL pooled-lookup kernels for int8 row-wise and 8-bit PQ tables.
pub const EMBED_BAG_WGSL: &str = include_str!("../../core/src/embed/wgsl/bag.wgsl");

/// Little-endian u32 words of `b`, the last one zero-padded, and at least
/// one word so that no buffer is empty (WGSL has no 8-bit types).
fn u32_words(b: &[u8]) -> Vec<u32> {
    let mut v: Vec<u32> = b
        .chunks(4)
        .map(|c| {
            c.iter()
                .rev()
                .fold(0u32, |w, &byte| (w << 8) | u32::from(byte))
        })
        .collect();
    if v.is_empty() {
        v.push(0);
    }
    v
}

/// A compute-stage buffer binding of an explicit bind group layout.
pub(crate) fn buffer_entry(
    binding: u32,
    ty: wgpu::BufferBindingType,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// Compute pipelines for the entry points `entries` of one WGSL module,
/// sharing one explicit layout whose binding `i` is a buffer of type
/// `bindings[i]` (explicit: an entry point that leaves a binding unused
/// would drop it from an automatic layout).
pub(crate) fn compute_pipelines(
    device: &wgpu::Device,
    label: &str,
    source: &str,
    bindings: &[wgpu::BufferBindingType],
    entries: &[&str],
) -> (wgpu::BindGroupLayout, Vec<wgpu::ComputePipeline>) {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let layout_entries: Vec<wgpu::BindGroupLayoutEntry> = (0u32..)
        .zip(bindings)
        .map(|(i, &ty)| buffer_entry(i, ty))
        .collect();
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &layout_entries,
    });
    let playout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipelines = entries
        .iter()
        .map(|entry| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&playout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        })
        .collect();
    (layout, pipelines)
}

/// A bind group of `layout` with buffer `i` of `bufs` at binding `i`.
pub(crate) fn bind_buffers(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    bufs: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = (0u32..)
        .zip(bufs)
        .map(|(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// 16-bit values two to a little-endian u32 word (at least one word).
fn f16_words(h: &[u16]) -> Vec<u32> {
    let mut v: Vec<u32> = h
        .chunks(2)
        .map(|c| u32::from(c[0]) | (u32::from(c.get(1).copied().unwrap_or(0)) << 16))
        .collect();
    if v.is_empty() {
        v.push(0);
    }
    v
}

/// Rows per GEMV workgroup: `ROWS` in gemv.wgsl.
const GEMV_ROWS_PER_GROUP: usize = 4;

/// The GEMV kernel's padded shapes of `w`: bytes of code words per row
/// (padded to a multiple of 16) and floats per padded x vector.
fn gemv_widths(w: &shoal_core::quant::QuantMatrix) -> (usize, usize) {
    let row = (w.groups_per_row() * w.format().group_bytes()).div_ceil(16) * 16;
    (row, row * 8 / w.format().bits.count())
}

/// A streaming copy (16 bytes per thread per step, grid-stride), the
/// roofline `shoal bench` sets the memory-bound kernels against: what WGSL
/// itself can move on this device. Spec: `dst` equals `src`.
const STREAM_COPY_WGSL: &str = r"
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<u32>>;

@compute @workgroup_size(256)
fn stream_copy(@builtin(global_invocation_id) gid: vec3<u32>,
               @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * 256u;
    for (var i = gid.x; i < arrayLength(&dst); i = i + stride) {
        dst[i] = src[i];
    }
}
";

/// The WGSL kernels of the GEAR corrections (low rank and outliers).
pub const GEAR_WGSL: &str = include_str!("../../core/src/quant/wgsl/gear.wgsl");

/// Workgroup size declared in the WGSL sources.
const WORKGROUP: u32 = 64;

/// Why the GPU path is unavailable or failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum GpuError {
    /// No adapter (no GPU and no software Vulkan driver).
    NoAdapter(String),
    /// The adapter refused to create a device.
    Device(String),
    /// Input slices differ in length.
    LengthMismatch {
        /// Orders.
        orders: usize,
        /// Arguments.
        args: usize,
    },
    /// Reading results back failed.
    Readback(String),
    /// A table method or size the GPU kernels do not handle (named).
    Unsupported(&'static str),
    /// Ids or offsets rejected by the table's own checks.
    Embed(shoal_core::embed::EmbedError),
    /// A model or input rejected by the TFLite engine's own checks.
    Tflite(shoal_core::tflite::TfliteError),
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::NoAdapter(why) => write!(f, "no GPU adapter: {why}"),
            GpuError::Device(why) => write!(f, "GPU device creation failed: {why}"),
            GpuError::LengthMismatch { orders, args } => {
                write!(f, "{orders} orders but {args} arguments")
            }
            GpuError::Readback(why) => write!(f, "GPU readback failed: {why}"),
            GpuError::Unsupported(what) => write!(f, "not supported on the GPU: {what}"),
            GpuError::Embed(e) => write!(f, "{e}"),
            GpuError::Tflite(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for GpuError {}

/// Which log-Bessel function a kernel call computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BesselKind {
    /// `ln I_v(x)`.
    I,
    /// `ln K_v(x)`.
    K,
}

/// Buffers and bindings of one log-Bessel dispatch.
struct Job<'a> {
    pipeline: &'a wgpu::ComputePipeline,
    /// One dispatch per bind group, in order (more than one when the input
    /// is split to respect the adapter's binding size).
    binds: Vec<wgpu::BindGroup>,
    out: wgpu::Buffer,
    groups: u32,
    groups_y: u32,
    /// Third dispatch dimension (the batch of a GEMM; 1 otherwise).
    groups_z: u32,
}

impl Job<'_> {
    fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        pass.set_pipeline(self.pipeline);
        for bind in &self.binds {
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(self.groups, self.groups_y, self.groups_z);
        }
    }
}

/// An open GPU device with the compiled pipelines.
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    max_binding: u64,
    pub(crate) max_storage: u64,
    bessel_i: wgpu::ComputePipeline,
    bessel_k: wgpu::ComputePipeline,
    /// The GEMV for symmetric 8-, 4- and 2-bit codes, then asymmetric.
    quant_gemv: [wgpu::ComputePipeline; 6],
    bag_int8: wgpu::ComputePipeline,
    /// int8 rows a multiple of 4 wide: a word per thread, four bags per
    /// workgroup.
    bag_int8_words: wgpu::ComputePipeline,
    bag_pq8: wgpu::ComputePipeline,
    gear_layout: wgpu::BindGroupLayout,
    stream_copy: wgpu::ComputePipeline,
    gear_project: wgpu::ComputePipeline,
    gear_add: wgpu::ComputePipeline,
}

impl fmt::Debug for Gpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.info.name)
            .finish()
    }
}

impl Gpu {
    /// Opens the first adapter wgpu offers (honours `WGPU_BACKEND` and
    /// `WGPU_ADAPTER_NAME`).
    ///
    /// # Errors
    /// [`GpuError::NoAdapter`] when none exists, [`GpuError::Device`].
    pub fn new() -> Result<Self, GpuError> {
        pollster::block_on(Self::new_async())
    }

    async fn new_async() -> Result<Self, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle().with_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("shoal"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("log_bessel"),
            source: wgpu::ShaderSource::Wgsl(LOG_BESSEL_WGSL.into()),
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
        let bessel_i = pipeline("log_bessel_i");
        let bessel_k = pipeline("log_bessel_k");
        let qmodule = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("quant_gemv"),
            source: wgpu::ShaderSource::Wgsl(QUANT_GEMV_WGSL.into()),
        });
        // One GEMV pipeline per code width (8, 4, 2 bits) and scheme
        // (symmetric, asymmetric): the kernel's pipeline constants BITS and
        // SYMMETRIC.
        let quant_gemv = [
            (8.0, 1.0),
            (4.0, 1.0),
            (2.0, 1.0),
            (8.0, 0.0),
            (4.0, 0.0),
            (2.0, 0.0),
        ]
        .map(|(bits, symmetric)| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("quant_gemv"),
                layout: None,
                module: &qmodule,
                entry_point: Some("quant_gemv"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &[("BITS", bits), ("SYMMETRIC", symmetric)],
                    ..Default::default()
                },
                cache: None,
            })
        });
        let ro = wgpu::BufferBindingType::Storage { read_only: true };
        let rw = wgpu::BufferBindingType::Storage { read_only: false };
        let uniform = wgpu::BufferBindingType::Uniform;
        // The int8 entry point leaves the centroid binding unused.
        let (_, bags) = compute_pipelines(
            &device,
            "embed_bag",
            EMBED_BAG_WGSL,
            &[uniform, ro, ro, ro, ro, ro, rw],
            &["bag_int8", "bag_pq8", "bag_int8_words"],
        );
        // The GEAR corrections: compiled once, run by `gear_gemv`.
        let (gear_layout, gear) = compute_pipelines(
            &device,
            "gear",
            GEAR_WGSL,
            &[uniform, ro, ro, ro, ro, ro, ro, rw, rw],
            &["gear_project", "gear_add"],
        );
        let (_, copy) = compute_pipelines(
            &device,
            "stream_copy",
            STREAM_COPY_WGSL,
            &[ro, rw],
            &["stream_copy"],
        );
        let Some(stream_copy) = copy.into_iter().next() else {
            return Err(GpuError::Device("pipelines were not created".into()));
        };
        let mut bags = bags.into_iter();
        let mut gear = gear.into_iter();
        let (
            Some(bag_int8),
            Some(bag_pq8),
            Some(bag_int8_words),
            Some(gear_project),
            Some(gear_add),
        ) = (
            bags.next(),
            bags.next(),
            bags.next(),
            gear.next(),
            gear.next(),
        )
        else {
            return Err(GpuError::Device("pipelines were not created".into()));
        };
        let max_storage = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(u64::from(limits.max_compute_workgroups_per_dimension) * u64::from(WORKGROUP) * 4);
        Ok(Gpu {
            device,
            queue,
            info,
            max_binding,
            max_storage,
            bessel_i,
            bessel_k,
            quant_gemv,
            bag_int8,
            bag_int8_words,
            bag_pq8,
            gear_layout,
            stream_copy,
            gear_project,
            gear_add,
        })
    }

    /// True for a software adapter (a CPU rasteriser such as llvmpipe).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Adapter name, backend and device type, for logs and `shoal bench`.
    pub fn adapter_name(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// `ln I` or `ln K` of f32 inputs on the GPU, in chunks that respect the
    /// adapter's storage-binding and dispatch limits.
    ///
    /// # Errors
    /// [`GpuError::LengthMismatch`], [`GpuError::Readback`].
    pub fn log_bessel(&self, kind: BesselKind, v: &[f32], x: &[f32]) -> Result<Vec<f32>, GpuError> {
        let chunk = self.f32_chunk(v, x)?;
        let mut out = Vec::with_capacity(v.len());
        for (vc, xc) in v.chunks(chunk).zip(x.chunks(chunk)) {
            out.extend(self.log_bessel_chunk(kind, vc, xc)?);
        }
        Ok(out)
    }

    fn log_bessel_chunk(
        &self,
        kind: BesselKind,
        v: &[f32],
        x: &[f32],
    ) -> Result<Vec<f32>, GpuError> {
        let n = v.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let job = self.prepare(kind, v, x);
        self.run_and_read(&job, n)
    }

    /// Runs a prepared job once and reads back the first `n` floats of its output.
    fn run_and_read(&self, job: &Job<'_>, n: usize) -> Result<Vec<f32>, GpuError> {
        Ok(self
            .run_and_read_words(job, n)?
            .into_iter()
            .map(f32::from_bits)
            .collect())
    }

    /// Runs a prepared job once and reads back the first `n` words of its output.
    fn run_and_read_words(&self, job: &Job<'_>, n: usize) -> Result<Vec<u32>, GpuError> {
        let bytes = (n * 4) as u64;
        let rb = self.buffer(
            "readback",
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        job.encode(&mut enc);
        enc.copy_buffer_to_buffer(&job.out, 0, &rb, 0, bytes);
        self.queue.submit([enc.finish()]);
        self.read_words(&rb, n)
    }

    /// Throughput of the log-Bessel kernel with inputs resident on the GPU:
    /// `reps` dispatches over `v.len()` pairs (at most one binding's worth),
    /// timed from the first submit to completion. Returns evaluations/s.
    ///
    /// # Errors
    /// [`GpuError::LengthMismatch`], [`GpuError::Readback`].
    pub fn bench_log_bessel(
        &self,
        kind: BesselKind,
        v: &[f32],
        x: &[f32],
        reps: u32,
    ) -> Result<f64, GpuError> {
        let chunk = self.f32_chunk(v, x)?;
        let n = v.len().min(chunk);
        let job = self.prepare(kind, &v[..n], &x[..n]);
        Ok(n as f64 / self.seconds_per_dispatch(&job, reps)?)
    }

    /// Seconds per dispatch of a prepared job: one warm-up, then `reps`
    /// dispatches in one submission, waited for.
    fn seconds_per_dispatch(&self, job: &Job<'_>, reps: u32) -> Result<f64, GpuError> {
        self.seconds_per_rep(reps, |enc| job.encode(enc))
    }

    /// Seconds per repetition of the commands `encode` records.
    ///
    /// One submission of one repetition first (uploads, first use); then
    /// submissions of `reps`, more (up to 2^16) while one takes under
    /// 0.2 s, so that the submission's own cost does not count on a fast
    /// device; then more such submissions until the device has been busy
    /// for 0.5 s (on the H100, a first 0.2–0.3 s window after seconds of
    /// CPU-only work measured up to 5 times slower than the same kernel
    /// right after other GPU work: log I 3.0 against 14.6 G evaluations/s,
    /// as if clocks rose only under sustained load); then three timed
    /// submissions, of which the median counts.
    pub(crate) fn seconds_per_rep(
        &self,
        reps: u32,
        encode: impl Fn(&mut wgpu::CommandEncoder),
    ) -> Result<f64, GpuError> {
        // Timed from the submission (the commands are recorded before) to
        // completion.
        let run = |reps: u32| -> Result<f64, GpuError> {
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            for _ in 0..reps {
                encode(&mut enc);
            }
            let commands = enc.finish();
            let t0 = std::time::Instant::now();
            self.queue.submit([commands]);
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            Ok(t0.elapsed().as_secs_f64())
        };
        run(1)?;
        let mut reps = reps.max(1);
        let mut busy = 0.0;
        loop {
            let t = run(reps)?;
            busy += t;
            if t >= 0.2 || reps >= 1 << 16 {
                break;
            }
            // Aim at 0.3 s, at most 16 times as many at a step.
            let grow = (0.3 / t.max(1e-6)).clamp(2.0, 16.0);
            reps = ((f64::from(reps) * grow) as u32).min(1 << 16);
        }
        while busy < 0.5 {
            busy += run(reps)?;
        }
        let mut windows = [run(reps)?, run(reps)?, run(reps)?];
        windows.sort_by(f64::total_cmp);
        Ok(windows[1] / f64::from(reps))
    }

    /// The copy rooflines: bytes per second moved (read plus written) by
    /// the WGSL streaming copy, and by buffer-to-buffer copies (the copy
    /// command), between two buffers of `bytes` (rounded down to 16, capped
    /// at one storage binding) on the device.
    ///
    /// # Errors
    /// [`GpuError::Readback`].
    pub fn bench_copy(&self, bytes: u64) -> Result<(f64, f64), GpuError> {
        let bytes = (bytes.min(self.max_storage) & !15).max(16);
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let (a, b) = (
            self.buffer("copy_a", bytes, usage),
            self.buffer("copy_b", bytes, usage),
        );
        let job = self.copy_job(&a, &b, bytes / 16);
        let kernel = self.seconds_per_dispatch(&job, 4)?;
        let command =
            self.seconds_per_rep(4, |enc| enc.copy_buffer_to_buffer(&a, 0, &b, 0, bytes))?;
        Ok((2.0 * bytes as f64 / kernel, 2.0 * bytes as f64 / command))
    }

    /// The streaming copy of `src` through the WGSL kernel (a check that
    /// the roofline's kernel moves every byte; `src.len()` a multiple of 4).
    ///
    /// # Errors
    /// [`GpuError::Unsupported`] for a length not a multiple of 4 or above
    /// one binding, [`GpuError::Readback`].
    #[doc(hidden)]
    pub fn stream_copy(&self, src: &[u32]) -> Result<Vec<u32>, GpuError> {
        let bytes = (src.len() * 4) as u64;
        if src.is_empty() || !src.len().is_multiple_of(4) || bytes > self.max_storage {
            return Err(GpuError::Unsupported(
                "a stream copy not of whole vec4s within one binding",
            ));
        }
        let a = self.upload(
            "copy_src",
            bytemuck::cast_slice(src),
            wgpu::BufferUsages::STORAGE,
        );
        let b = self.buffer(
            "copy_dst",
            bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let job = self.copy_job(&a, &b, bytes / 16);
        self.run_and_read_words(&job, src.len())
    }

    /// The streaming copy of `vec4s` 16-byte elements from `a` to `b`:
    /// as many workgroups as the elements need, at most 65,535 (each
    /// thread then strides over the rest).
    fn copy_job<'a>(&'a self, a: &wgpu::Buffer, b: &wgpu::Buffer, vec4s: u64) -> Job<'a> {
        let layout = self.stream_copy.get_bind_group_layout(0);
        let bind = bind_buffers(&self.device, "stream_copy", &layout, &[a, b]);
        Job {
            pipeline: &self.stream_copy,
            binds: vec![bind],
            out: b.clone(),
            groups: u32::try_from(vec4s.div_ceil(256).clamp(1, 65535)).unwrap_or(65535),
            groups_y: 1,
            groups_z: 1,
        }
    }

    fn prepare(&self, kind: BesselKind, v: &[f32], x: &[f32]) -> Job<'_> {
        let n = v.len();
        let st = wgpu::BufferUsages::STORAGE;
        let vb = self.upload("v", bytemuck::cast_slice(v), st);
        let xb = self.upload("x", bytemuck::cast_slice(x), st);
        let out = self.buffer(
            "out",
            (n * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let pipeline = match kind {
            BesselKind::I => &self.bessel_i,
            BesselKind::K => &self.bessel_k,
        };
        let layout = pipeline.get_bind_group_layout(0);
        let bind = bind_buffers(&self.device, "log_bessel", &layout, &[&vb, &xb, &out]);
        Job {
            pipeline,
            binds: vec![bind],
            out,
            groups: u32::try_from(n.div_ceil(WORKGROUP as usize)).unwrap_or(u32::MAX),
            groups_y: 1,
            groups_z: 1,
        }
    }

    /// `y = W x` for a group-quantized matrix, in row chunks whose codes fit
    /// one storage binding.
    ///
    /// # Errors
    /// [`GpuError::LengthMismatch`] when `x.len() != w.cols()`,
    /// [`GpuError::Readback`].
    pub fn quant_gemv(
        &self,
        w: &shoal_core::quant::QuantMatrix,
        x: &[f32],
    ) -> Result<Vec<f32>, GpuError> {
        if x.len() != w.cols() {
            return Err(GpuError::LengthMismatch {
                orders: w.cols(),
                args: x.len(),
            });
        }
        let chunk = self.gemv_rows(w);
        let mut y = Vec::with_capacity(w.rows());
        let mut r0 = 0;
        while r0 < w.rows() {
            let r1 = (r0 + chunk).min(w.rows());
            y.extend(self.quant_gemv_rows(w, x, r0, r1)?);
            r0 = r1;
        }
        Ok(y)
    }

    fn quant_gemv_rows(
        &self,
        w: &shoal_core::quant::QuantMatrix,
        x: &[f32],
        r0: usize,
        r1: usize,
    ) -> Result<Vec<f32>, GpuError> {
        let job = self.quant_gemv_job(w, x, r0, r1, 1);
        self.run_and_read(&job, r1 - r0)
    }

    /// `Y = X Wᵀ` for a batch `X` of `n × cols` vectors (row-major), `Y`
    /// of `n × rows`: the GEMV kernel with the batch along the third
    /// dispatch dimension, in row chunks and batch parts that respect the
    /// adapter's binding and dispatch limits.
    ///
    /// # Errors
    /// [`GpuError::LengthMismatch`] when `x.len() != n · w.cols()`,
    /// [`GpuError::Readback`].
    pub fn quant_gemm(
        &self,
        w: &shoal_core::quant::QuantMatrix,
        x: &[f32],
        n: usize,
    ) -> Result<Vec<f32>, GpuError> {
        let (rows, cols) = (w.rows(), w.cols());
        if Some(x.len()) != n.checked_mul(cols) {
            return Err(GpuError::LengthMismatch {
                orders: n.saturating_mul(cols),
                args: x.len(),
            });
        }
        let (_, width) = gemv_widths(w);
        let chunk = self.gemv_rows(w);
        // Vectors per dispatch: the z limit, and x and y within a binding.
        let per =
            (usize::try_from(self.max_binding).unwrap_or(usize::MAX) / 4 / width.max(rows).max(1))
                .clamp(1, 65535);
        let mut y = vec![0.0f32; n * rows];
        let mut b0 = 0;
        while b0 < n {
            let nb = (n - b0).min(per);
            let xs = &x[b0 * cols..(b0 + nb) * cols];
            let mut r0 = 0;
            while r0 < rows {
                let r1 = (r0 + chunk).min(rows);
                let job = self.quant_gemv_job(w, xs, r0, r1, nb);
                let part = self.run_and_read(&job, nb * (r1 - r0))?;
                for (i, yr) in part.chunks_exact(r1 - r0).enumerate() {
                    y[(b0 + i) * rows + r0..(b0 + i) * rows + r1].copy_from_slice(yr);
                }
                r0 = r1;
            }
            b0 += nb;
        }
        Ok(y)
    }

    /// `y = Q·x + U·(Vt·x) + S·x` for a GEAR matrix: the backbone by the
    /// quantized GEMV kernel, then the low-rank and outlier terms by the
    /// GEAR kernels (`t = Vt·x`, one workgroup per component; one thread per
    /// row for the rest), all on the device.
    ///
    /// # Errors
    /// [`GpuError::LengthMismatch`], [`GpuError::Unsupported`] when the
    /// factors or outliers exceed one storage binding, [`GpuError::Readback`].
    pub fn gear_gemv(
        &self,
        g: &shoal_core::quant::gear::GearMatrix,
        x: &[f32],
    ) -> Result<Vec<f32>, GpuError> {
        let q = g.backbone();
        let y0 = self.quant_gemv(q, x)?;
        let (rows, cols, rank) = (q.rows(), q.cols(), g.rank());
        if rank == 0 && g.outliers() == 0 {
            return Ok(y0);
        }
        let (u, vt) = g.factors();
        let (row_ptr, col, val) = g.outlier_csr();
        let words = [f16_words(u), f16_words(vt), f16_words(val)];
        let too_big = words
            .iter()
            .map(|w| w.len())
            .chain([row_ptr.len(), col.len(), rows, cols])
            .any(|n| (n as u64) * 4 > self.max_binding);
        if too_big {
            return Err(GpuError::Unsupported(
                "GEAR factors larger than one storage binding",
            ));
        }
        let to_u32 =
            |v: usize| u32::try_from(v).map_err(|_| GpuError::Unsupported("sizes above 2^32"));
        let st = wgpu::BufferUsages::STORAGE;
        let params = [to_u32(rows)?, to_u32(cols)?, to_u32(rank)?, 0];
        let col = if col.is_empty() { vec![0] } else { col };
        let bufs = [
            self.upload(
                "params",
                bytemuck::cast_slice(&params),
                wgpu::BufferUsages::UNIFORM,
            ),
            self.upload("u", bytemuck::cast_slice(&words[0]), st),
            self.upload("vt", bytemuck::cast_slice(&words[1]), st),
            self.upload("row_ptr", bytemuck::cast_slice(row_ptr), st),
            self.upload("cols", bytemuck::cast_slice(&col), st),
            self.upload("vals", bytemuck::cast_slice(&words[2]), st),
            self.upload("x", bytemuck::cast_slice(x), st),
            self.buffer("t", (rank.max(1) * 4) as u64, st),
            self.upload(
                "y",
                bytemuck::cast_slice(&y0),
                st | wgpu::BufferUsages::COPY_SRC,
            ),
        ];
        let bind = bind_buffers(
            &self.device,
            "gear",
            &self.gear_layout,
            &bufs.iter().collect::<Vec<_>>(),
        );
        let groups = rows.div_ceil(WORKGROUP as usize);
        let (gx, gy) = (to_u32(groups.min(65535))?, to_u32(groups.div_ceil(65535))?);
        let rb = self.buffer(
            "readback",
            (rows * 4) as u64,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let (project, add) = (&self.gear_project, &self.gear_add);
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &bind, &[]);
            if rank > 0 {
                pass.set_pipeline(project);
                pass.dispatch_workgroups(to_u32(rank)?, 1, 1);
            }
            pass.set_pipeline(add);
            pass.dispatch_workgroups(gx, gy, 1);
        }
        enc.copy_buffer_to_buffer(&bufs[8], 0, &rb, 0, (rows * 4) as u64);
        self.queue.submit([enc.finish()]);
        self.read_back(&rb, rows)
    }

    /// GEMV throughput with the matrix and vector resident on the device:
    /// `reps` dispatches over the rows that fit one storage binding.
    /// Returns weights per second.
    ///
    /// # Errors
    /// [`GpuError::LengthMismatch`], [`GpuError::Readback`].
    pub fn bench_quant_gemv(
        &self,
        w: &shoal_core::quant::QuantMatrix,
        x: &[f32],
        reps: u32,
    ) -> Result<f64, GpuError> {
        if x.len() != w.cols() {
            return Err(GpuError::LengthMismatch {
                orders: w.cols(),
                args: x.len(),
            });
        }
        let rows = w.rows().min(self.gemv_rows(w));
        let job = self.quant_gemv_job(w, x, 0, rows, 1);
        Ok((rows * w.cols()) as f64 / self.seconds_per_dispatch(&job, reps)?)
    }

    /// Rows of `w` per GEMV dispatch: as many as one storage binding holds
    /// (the dispatch is two-dimensional, so the one-dimensional kernels'
    /// workgroup cap does not apply), at most 65,535 · 64.
    fn gemv_rows(&self, w: &shoal_core::quant::QuantMatrix) -> usize {
        let (row_bytes, _) = gemv_widths(w);
        (usize::try_from(self.max_storage).unwrap_or(usize::MAX) / row_bytes.max(1))
            .clamp(1, 65535 * 64)
    }

    /// Uploads rows `r0..r1` of `w` and `x`; the job's output holds `y`.
    fn quant_gemv_job(
        &self,
        w: &shoal_core::quant::QuantMatrix,
        x: &[f32],
        r0: usize,
        r1: usize,
        batch: usize,
    ) -> Job<'_> {
        let f = w.format();
        let gpr = w.groups_per_row();
        let row_bytes = gpr * f.group_bytes();
        let halves = f16_words;
        // Each row's code words padded with zero words to a multiple of
        // four (the kernel loads them as vec4s), x to the same columns.
        let (padded, width) = gemv_widths(w);
        let row_vec4s = padded / 16;
        let mut codes = vec![0u32; ((r1 - r0) * row_vec4s * 4).max(4)];
        for (dst, src) in codes
            .chunks_exact_mut(row_vec4s * 4)
            .zip(w.codes()[r0 * row_bytes..r1 * row_bytes].chunks_exact(row_bytes.max(1)))
        {
            dst[..row_bytes / 4].copy_from_slice(&u32_words(src));
        }
        let scales = halves(&w.scales()[r0 * gpr..r1 * gpr]);
        let mins = if w.mins().is_empty() {
            vec![0]
        } else {
            halves(&w.mins()[r0 * gpr..r1 * gpr])
        };
        let rows = r1 - r0;
        let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        let params = [
            to_u32(rows),
            to_u32(w.cols()),
            to_u32(f.bits.count()),
            to_u32(f.group),
            to_u32(gpr),
            u32::from(f.scheme == shoal_core::quant::Scheme::Asymmetric),
            u32::from(f.scale == shoal_core::quant::ScaleType::Bf16),
            u32::from(f.zero_point()),
            // Derived: vec4s of code words per padded row, log2 words per
            // group, vec4s per padded vector (see gemv.wgsl).
            to_u32(row_vec4s),
            (f.group * f.bits.count() / 32).trailing_zeros(),
            to_u32(width / 4),
            0,
        ];
        let pb = self.upload(
            "params",
            bytemuck::cast_slice(&params),
            wgpu::BufferUsages::UNIFORM,
        );
        let cb = self.upload(
            "codes",
            bytemuck::cast_slice(&codes),
            wgpu::BufferUsages::STORAGE,
        );
        let sb = self.upload(
            "scales",
            bytemuck::cast_slice(&scales),
            wgpu::BufferUsages::STORAGE,
        );
        let mb = self.upload(
            "mins",
            bytemuck::cast_slice(&mins),
            wgpu::BufferUsages::STORAGE,
        );
        let mut xp = vec![0.0f32; batch.max(1) * width];
        for (dst, src) in xp.chunks_exact_mut(width).zip(x.chunks(w.cols().max(1))) {
            dst[..src.len()].copy_from_slice(src);
        }
        let xb = self.upload("x", bytemuck::cast_slice(&xp), wgpu::BufferUsages::STORAGE);
        let bytes = (batch.max(1) * rows * 4) as u64;
        let yb = self.buffer(
            "y",
            bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let width = match f.bits {
            shoal_core::quant::Bits::Q8 => 0,
            shoal_core::quant::Bits::Q4 => 1,
            _ => 2,
        };
        let scheme = usize::from(f.scheme == shoal_core::quant::Scheme::Asymmetric);
        let pipeline = &self.quant_gemv[3 * scheme + width];
        let layout = pipeline.get_bind_group_layout(0);
        let bind = bind_buffers(
            &self.device,
            "quant_gemv",
            &layout,
            &[&pb, &cb, &sb, &mb, &xb, &yb],
        );
        Job {
            pipeline,
            binds: vec![bind],
            out: yb,
            groups: to_u32(rows.div_ceil(GEMV_ROWS_PER_GROUP).min(65535)),
            groups_y: to_u32(rows.div_ceil(GEMV_ROWS_PER_GROUP).div_ceil(65535)),
            groups_z: to_u32(batch),
        }
    }

    /// Batched lookups like
    /// [`Table::lookup_batch`](shoal_core::embed::Table::lookup_batch) on
    /// the GPU (bags of one id each): `ids.len() × dim` floats.
    ///
    /// # Errors
    /// As [`Gpu::embed_bag`].
    pub fn embed_lookup(
        &self,
        t: &shoal_core::embed::Table,
        ids: &[u64],
    ) -> Result<Vec<f32>, GpuError> {
        let offsets: Vec<usize> = (0..ids.len()).collect();
        self.embed_bag(t, ids, &offsets, shoal_core::embed::Pool::Sum)
    }

    /// Pooled lookups like [`Table::bag`](shoal_core::embed::Table::bag)
    /// (no weights) on the GPU, for int8 row-wise and 8-bit PQ tables: the
    /// table is uploaded, the bags run one workgroup each, `offsets.len() ×
    /// dim` floats come back. Ids and offsets are checked on the CPU first.
    ///
    /// # Errors
    /// [`GpuError::Embed`] for bad ids or offsets;
    /// [`GpuError::Unsupported`] for other methods or a table larger than
    /// one storage binding; [`GpuError::Readback`].
    pub fn embed_bag(
        &self,
        t: &shoal_core::embed::Table,
        ids: &[u64],
        offsets: &[usize],
        mode: shoal_core::embed::Pool,
    ) -> Result<Vec<f32>, GpuError> {
        if offsets.is_empty() {
            // No bags: nothing to compute, but the ids are still checked.
            return match ids.iter().find(|&&id| id >= t.rows() as u64) {
                Some(&id) => Err(GpuError::Embed(shoal_core::embed::EmbedError::OutOfRange {
                    id,
                    rows: t.rows(),
                })),
                None => Ok(Vec::new()),
            };
        }
        let job = self.embed_job(t, ids, offsets, mode)?;
        self.run_and_read(&job, offsets.len() * t.dim())
    }

    /// Ids pooled per second by [`Gpu::embed_bag`] with the table and ids
    /// resident on the device (`reps` dispatches in one submission, after a
    /// warm-up).
    ///
    /// # Errors
    /// As [`Gpu::embed_bag`].
    pub fn bench_embed_bag(
        &self,
        t: &shoal_core::embed::Table,
        ids: &[u64],
        offsets: &[usize],
        reps: u32,
    ) -> Result<f64, GpuError> {
        let job = self.embed_job(t, ids, offsets, shoal_core::embed::Pool::Mean)?;
        Ok(ids.len() as f64 / self.seconds_per_dispatch(&job, reps)?)
    }

    /// Uploads a table, ids, offsets and per-bag scales; binds the kernel.
    fn embed_job(
        &self,
        t: &shoal_core::embed::Table,
        ids: &[u64],
        offsets: &[usize],
        mode: shoal_core::embed::Pool,
    ) -> Result<Job<'_>, GpuError> {
        use shoal_core::embed::{Codec, EmbedError, Parts, Pool};
        if offsets.is_empty()
            || offsets.windows(2).any(|p| p[0] > p[1])
            || offsets.last().is_some_and(|&l| l > ids.len())
        {
            return Err(GpuError::Embed(EmbedError::BadOffsets));
        }
        if let Some(&id) = ids.iter().find(|&&id| id >= t.rows() as u64) {
            return Err(GpuError::Embed(EmbedError::OutOfRange {
                id,
                rows: t.rows(),
            }));
        }
        let dim = t.dim();
        let rows = t.rows();
        let to_u32 =
            |v: usize| u32::try_from(v).map_err(|_| GpuError::Unsupported("sizes above 2^32"));
        // The table's bytes for rows r0..r1 (PQ: their codes, then their
        // norm codes), the bytes per row, and the centroids.
        type Slicer<'t> = Box<dyn Fn(usize, usize) -> (Vec<u8>, usize) + 't>;
        let (pipeline, row_bytes, slice, cents, mut params): (_, usize, Slicer<'_>, _, _) =
            match t.parts() {
                Parts::RowWise {
                    codec: Codec::Int8,
                    data,
                } => (
                    if dim % 4 == 0 {
                        &self.bag_int8_words
                    } else {
                        &self.bag_int8
                    },
                    dim + 4,
                    Box::new(move |r0, r1| (data[r0 * (dim + 4)..r1 * (dim + 4)].to_vec(), 0)),
                    vec![0.0f32],
                    [to_u32(dim)?, to_u32(dim + 4)?, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ),
                Parts::Pq {
                    nsub,
                    dsub,
                    bits: 8,
                    centroids,
                    codes,
                    norms,
                } => {
                    let mut cents = centroids.to_vec();
                    let has = u32::from(norms.is_some());
                    if let Some((nt, _)) = norms {
                        cents.extend_from_slice(nt);
                    }
                    let nc = norms.map(|(_, nc)| nc);
                    (
                        &self.bag_pq8,
                        nsub + usize::from(norms.is_some()),
                        Box::new(move |r0, r1| {
                            let mut b = codes[r0 * nsub..r1 * nsub].to_vec();
                            let at = b.len();
                            if let Some(nc) = nc {
                                b.extend_from_slice(&nc[r0..r1]);
                            }
                            (b, at)
                        }),
                        cents,
                        [
                            to_u32(dim)?,
                            to_u32(nsub)?,
                            0,
                            to_u32(nsub)?,
                            to_u32(dsub)?,
                            0,
                            has,
                            0,
                            0,
                            0,
                            0,
                            0,
                        ],
                    )
                }
                _ => {
                    return Err(GpuError::Unsupported(
                        "embedding methods other than int8 and 8-bit PQ",
                    ))
                }
            };
        // Rows per pass: as many as one storage binding holds (a larger
        // table is split; each pass adds its rows' terms to the bags).
        let chunk = usize::try_from(self.max_storage)
            .unwrap_or(usize::MAX)
            .saturating_sub(16)
            / row_bytes.max(1);
        if chunk == 0 {
            return Err(GpuError::Unsupported(
                "a table row larger than one storage binding",
            ));
        }
        let bags = offsets.len();
        params[2] = to_u32(bags)?;
        let mut off: Vec<u32> = offsets
            .iter()
            .map(|&o| to_u32(o))
            .collect::<Result<_, _>>()?;
        off.push(to_u32(ids.len())?);
        let scale: Vec<f32> = off
            .windows(2)
            .map(|w| match (mode, w[1] - w[0]) {
                (Pool::Mean, n) if n > 0 => (1.0f64 / f64::from(n)) as f32,
                _ => 1.0,
            })
            .collect();
        let ids32: Vec<u32> = ids.iter().map(|&i| i as u32).chain([0]).collect();
        let st = wgpu::BufferUsages::STORAGE;
        let shared = [
            self.upload("ids", bytemuck::cast_slice(&ids32), st),
            self.upload("offsets", bytemuck::cast_slice(&off), st),
            self.upload("centroids", bytemuck::cast_slice(&cents), st),
            self.upload("scale", bytemuck::cast_slice(&scale), st),
        ];
        let out = self.buffer(
            "out",
            (bags * dim * 4) as u64,
            st | wgpu::BufferUsages::COPY_SRC,
        );
        let layout = pipeline.get_bind_group_layout(0);
        let passes = rows.div_ceil(chunk).max(1);
        let mut binds = Vec::with_capacity(passes);
        for k in 0..passes {
            let (r0, r1) = (k * chunk, ((k + 1) * chunk).min(rows));
            let (bytes, norm_at) = slice(r0, r1);
            let mut pk = params;
            pk[5] = to_u32(norm_at)?;
            pk[8] = to_u32(r0)?;
            pk[9] = to_u32(r1 - r0)?;
            // bit 0: first pass (start from zero); bit 1: last (scale).
            pk[10] = u32::from(k == 0) | (u32::from(k + 1 == passes) << 1);
            let bufs = [
                self.upload(
                    "params",
                    bytemuck::cast_slice(&pk),
                    wgpu::BufferUsages::UNIFORM,
                ),
                self.upload("table", bytemuck::cast_slice(&u32_words(&bytes)), st),
            ];
            let all: Vec<&wgpu::Buffer> = bufs.iter().chain(&shared).chain([&out]).collect();
            binds.push(bind_buffers(&self.device, "embed_bag", &layout, &all));
        }
        // One bag per workgroup, four with the word-wide int8 kernel.
        let per_group = if std::ptr::eq(pipeline, &self.bag_int8_words) {
            4
        } else {
            1
        };
        let groups = bags.div_ceil(per_group);
        Ok(Job {
            pipeline,
            binds,
            out,
            groups: to_u32(groups.min(65535))?,
            groups_y: to_u32(groups.div_ceil(65535))?,
            groups_z: 1,
        })
    }

    /// Caps the storage binding size below the adapter's (tests use it to
    /// make small tables take the split path).
    #[doc(hidden)]
    pub fn limit_storage_binding(&mut self, bytes: u64) {
        self.max_storage = self.max_storage.min(bytes);
        self.max_binding = self.max_binding.min(bytes);
    }

    /// Checks that `v` and `x` pair up; returns how many f32 fit one
    /// storage binding.
    fn f32_chunk(&self, v: &[f32], x: &[f32]) -> Result<usize, GpuError> {
        if v.len() != x.len() {
            return Err(GpuError::LengthMismatch {
                orders: v.len(),
                args: x.len(),
            });
        }
        Ok(usize::try_from(self.max_binding / 4)
            .unwrap_or(usize::MAX)
            .max(1))
    }

    pub(crate) fn upload(
        &self,
        label: &str,
        contents: &[u8],
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage,
            })
    }

    pub(crate) fn buffer(&self, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    fn read_back(&self, rb: &wgpu::Buffer, n: usize) -> Result<Vec<f32>, GpuError> {
        Ok(self
            .read_words(rb, n)?
            .into_iter()
            .map(f32::from_bits)
            .collect())
    }

    /// Maps `rb` (MAP_READ) and returns its first `n` little-endian words.
    pub(crate) fn read_words(&self, rb: &wgpu::Buffer, n: usize) -> Result<Vec<u32>, GpuError> {
        let slice = rb.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        rx.recv()
            .map_err(|e| GpuError::Readback(e.to_string()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let view = slice
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let out = view
            .chunks_exact(4)
            .take(n)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        drop(view);
        rb.unmap();
        Ok(out)
    }
}
