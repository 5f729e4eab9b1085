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
    bind: wgpu::BindGroup,
    out: wgpu::Buffer,
    groups: u32,
}

impl Job<'_> {
    fn encode(&self, enc: &mut wgpu::CommandEncoder) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        pass.set_pipeline(self.pipeline);
        pass.set_bind_group(0, &self.bind, &[]);
        pass.dispatch_workgroups(self.groups, 1, 1);
    }
}

/// An open GPU device with the compiled pipelines.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    max_binding: u64,
    bessel_i: wgpu::ComputePipeline,
    bessel_k: wgpu::ComputePipeline,
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
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(u64::from(limits.max_compute_workgroups_per_dimension) * u64::from(WORKGROUP) * 4);
        Ok(Gpu {
            device,
            queue,
            info,
            max_binding,
            bessel_i,
            bessel_k,
        })
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
        if v.len() != x.len() {
            return Err(GpuError::LengthMismatch {
                orders: v.len(),
                args: x.len(),
            });
        }
        let chunk = usize::try_from(self.max_binding / 4)
            .unwrap_or(usize::MAX)
            .max(1);
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
        let bytes = (n * 4) as u64;
        let rb = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        job.encode(&mut enc);
        enc.copy_buffer_to_buffer(&job.out, 0, &rb, 0, bytes);
        self.queue.submit([enc.finish()]);
        self.read_back(&rb, n)
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
        if v.len() != x.len() {
            return Err(GpuError::LengthMismatch {
                orders: v.len(),
                args: x.len(),
            });
        }
        let chunk = usize::try_from(self.max_binding / 4)
            .unwrap_or(usize::MAX)
            .max(1);
        let n = v.len().min(chunk);
        let job = self.prepare(kind, &v[..n], &x[..n]);
        let run = |reps: u32| -> Result<f64, GpuError> {
            let t0 = std::time::Instant::now();
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            for _ in 0..reps {
                job.encode(&mut enc);
            }
            self.queue.submit([enc.finish()]);
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            Ok(t0.elapsed().as_secs_f64())
        };
        run(1)?;
        let secs = run(reps.max(1))?;
        Ok(n as f64 * f64::from(reps.max(1)) / secs)
    }

    fn prepare(&self, kind: BesselKind, v: &[f32], x: &[f32]) -> Job<'_> {
        let n = v.len();
        let storage = |data: &[f32], label: &str| {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(data),
                    usage: wgpu::BufferUsages::STORAGE,
                })
        };
        let vb = storage(v, "v");
        let xb = storage(x, "x");
        let out = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("out"),
            size: (n * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let pipeline = match kind {
            BesselKind::I => &self.bessel_i,
            BesselKind::K => &self.bessel_k,
        };
        let layout = pipeline.get_bind_group_layout(0);
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("log_bessel"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: vb.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: xb.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: out.as_entire_binding(),
                },
            ],
        });
        Job {
            pipeline,
            bind,
            out,
            groups: u32::try_from(n.div_ceil(WORKGROUP as usize)).unwrap_or(u32::MAX),
        }
    }

    fn read_back(&self, rb: &wgpu::Buffer, n: usize) -> Result<Vec<f32>, GpuError> {
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
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        drop(view);
        rb.unmap();
        Ok(out)
    }
}
