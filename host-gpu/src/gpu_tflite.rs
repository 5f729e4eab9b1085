//! Quantized TFLite models on the GPU: the whole network runs as WGSL
//! integer kernels over one resident arena buffer, and gives the CPU
//! engine's output bytes exactly (tested on every Coral model).
//!
//! ```no_run
//! # fn demo(bytes: &[u8], image: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use shoal_core::tflite::Model;
//! use shoal_host_gpu::gpu::Gpu;
//! let gpu = Gpu::new()?;
//! let model = Model::parse(bytes)?;
//! let on_gpu = gpu.load_tflite(&model, 8)?; // up to 8 images per submission
//! let outputs = on_gpu.run(&[image])?;      // raw output bytes per image
//! # Ok(()) }
//! ```

use shoal_core::tflite::lower::{Kernel, Lowered, SLOT_ROW};
use shoal_core::tflite::{Model, TfliteError};

use crate::gpu::{bind_buffers, compute_pipelines, Gpu, GpuError};

/// The WGSL source of the quantized operators, shared with the browser.
pub const QUANTIZED_WGSL: &str = include_str!("../../core/src/tflite/wgsl/quantized.wgsl");

/// Workgroup size of every entry point of [`QUANTIZED_WGSL`].
const WORKGROUP: u32 = 64;

/// One recorded launch.
struct Launch {
    pipeline: usize,
    bind: wgpu::BindGroup,
    groups: (u32, u32),
}

/// A model resident on the GPU (from [`Gpu::load_tflite`]).
pub struct GpuModel<'g> {
    gpu: &'g Gpu,
    launches: Vec<Launch>,
    pipelines: Vec<wgpu::ComputePipeline>,
    arena: wgpu::Buffer,
    lowered: Lowered,
    capacity: u32,
}

impl std::fmt::Debug for GpuModel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuModel")
            .field("launches", &self.launches.len())
            .field("arena_len", &self.lowered.arena_len)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Gpu {
    /// Uploads a quantized TFLite model (weights, per-channel tables and an
    /// arena for up to `batch` images; fewer when one storage binding cannot
    /// hold that many arenas, and larger batches are then run in parts).
    ///
    /// # Errors
    /// [`GpuError::Tflite`] when the model cannot be lowered,
    /// [`GpuError::Unsupported`] when its weights or a single image's
    /// arena exceed a storage binding.
    pub fn load_tflite(&self, model: &Model<'_>, batch: usize) -> Result<GpuModel<'_>, GpuError> {
        let lowered = model.lower().map_err(GpuError::Tflite)?;
        let arena_bytes = (lowered.arena_len as u64) * 4;
        let consts_bytes = (lowered.consts.len().max(1) as u64) * 4;
        if arena_bytes > self.max_storage || consts_bytes > self.max_storage {
            return Err(GpuError::Unsupported(
                "model weights or arena larger than a storage binding",
            ));
        }
        let fit = (self.max_storage / arena_bytes).min(65_535);
        let capacity = u32::try_from((batch.max(1) as u64).min(fit)).unwrap_or(1);
        let device = &self.device;
        // One explicit layout: not every entry point reads the constants.
        let entries: Vec<&str> = Kernel::ALL.iter().map(|k| k.entry_point()).collect();
        let (layout, pipelines) = compute_pipelines(
            device,
            "tflite_quantized",
            QUANTIZED_WGSL,
            &[
                wgpu::BufferBindingType::Storage { read_only: false },
                wgpu::BufferBindingType::Storage { read_only: true },
                wgpu::BufferBindingType::Uniform,
            ],
            &entries,
        );
        let st = wgpu::BufferUsages::STORAGE;
        let arena = self.buffer(
            "tflite_arena",
            arena_bytes * u64::from(capacity),
            st | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        );
        let consts: &[u32] = if lowered.consts.is_empty() {
            &[0]
        } else {
            &lowered.consts
        };
        let consts = self.upload("tflite_consts", bytemuck::cast_slice(consts), st);
        let max_dim = 65_535u32;
        let mut launches = Vec::with_capacity(lowered.steps.len());
        for step in &lowered.steps {
            let groups = step.threads.div_ceil(WORKGROUP).max(1);
            let gx = groups.min(max_dim);
            let gy = groups.div_ceil(gx);
            let mut params = step.params;
            params[SLOT_ROW] = i32::try_from(gx * WORKGROUP)
                .map_err(|_| GpuError::Tflite(TfliteError::TooLarge))?;
            let ubuf = self.upload(
                "tflite_params",
                bytemuck::cast_slice(&params),
                wgpu::BufferUsages::UNIFORM,
            );
            let bind = bind_buffers(device, "tflite_step", &layout, &[&arena, &consts, &ubuf]);
            let pipeline = Kernel::ALL
                .iter()
                .position(|k| *k == step.kernel)
                .ok_or(GpuError::Unsupported("kernel"))?;
            launches.push(Launch {
                pipeline,
                bind,
                groups: (gx, gy),
            });
        }
        Ok(GpuModel {
            gpu: self,
            launches,
            pipelines,
            arena,
            lowered,
            capacity,
        })
    }
}

impl GpuModel<'_> {
    /// Images one submission holds.
    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Records every launch for `images` images.
    fn encode(&self, enc: &mut wgpu::CommandEncoder, images: u32) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("tflite"),
            timestamp_writes: None,
        });
        for l in &self.launches {
            pass.set_pipeline(&self.pipelines[l.pipeline]);
            pass.set_bind_group(0, &l.bind, &[]);
            pass.dispatch_workgroups(l.groups.0, l.groups.1, images);
        }
    }

    /// Runs the model on each input (the bytes of input tensor 0, as
    /// [`Model::run_u8`] takes them) and returns output 0's bytes per image
    /// (little-endian float32 for a DEQUANTIZE output), equal to the CPU
    /// engine's.
    ///
    /// # Errors
    /// [`GpuError::Tflite`] with [`TfliteError::InputSize`] for an input of
    /// the wrong size (nothing runs), [`GpuError::Readback`].
    pub fn run(&self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, GpuError> {
        let want = self.lowered.input.len;
        if let Some(bad) = inputs.iter().find(|i| i.len() != want) {
            return Err(GpuError::Tflite(TfliteError::InputSize {
                expected: want,
                found: bad.len(),
            }));
        }
        let mut out = Vec::with_capacity(inputs.len());
        for part in inputs.chunks(self.capacity()) {
            out.extend(self.run_part(part)?);
        }
        Ok(out)
    }

    fn run_part(&self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, GpuError> {
        let (inp, outp) = (self.lowered.input, self.lowered.output);
        let stride = (self.lowered.arena_len * 4) as u64;
        for (b, image) in inputs.iter().enumerate() {
            let words: Vec<u32> = image.iter().map(|&v| u32::from(v ^ inp.flip)).collect();
            self.gpu.queue.write_buffer(
                &self.arena,
                b as u64 * stride + (inp.offset * 4) as u64,
                bytemuck::cast_slice(&words),
            );
        }
        let out_bytes = (outp.len * 4) as u64;
        let rb = self.gpu.buffer(
            "tflite_readback",
            (out_bytes * inputs.len() as u64).max(4),
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let mut enc = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        self.encode(&mut enc, inputs.len() as u32);
        for b in 0..inputs.len() as u64 {
            enc.copy_buffer_to_buffer(
                &self.arena,
                b * stride + (outp.offset * 4) as u64,
                &rb,
                b * out_bytes,
                out_bytes,
            );
        }
        self.gpu.queue.submit([enc.finish()]);
        let words = self.gpu.read_words(&rb, outp.len * inputs.len())?;
        Ok(words
            .chunks(outp.len.max(1))
            .take(inputs.len())
            .map(|c| {
                if outp.float {
                    c.iter().flat_map(|w| w.to_le_bytes()).collect()
                } else {
                    c.iter().map(|&w| (w as u8) ^ outp.flip).collect()
                }
            })
            .collect())
    }

    /// Images per second with the arena resident: one warm-up, then at
    /// least `reps` full-capacity batches in one submission (more on a fast
    /// device, see `Gpu::seconds_per_rep`; inputs as they are).
    ///
    /// # Errors
    /// [`GpuError::Readback`] when waiting for the device fails.
    pub fn bench(&self, reps: u32) -> Result<f64, GpuError> {
        let t = self
            .gpu
            .seconds_per_rep(reps, |enc| self.encode(enc, self.capacity))?;
        Ok(self.capacity as f64 / t)
    }
}

/// A probe of the fixed-point helpers of [`QUANTIZED_WGSL`] (for tests):
/// for each `(a, b, e)` it writes `srdhm(a, b)`, `rdbp(a, e)`,
/// `mbqm(a, b, e)`, `exp_negative(-(a & MAX))`, `one_over_one_plus_x(a & MAX)`.
const PROBE_WGSL: &str = r"
@compute @workgroup_size(64)
fn q_fixed_point_probe(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let n = u32(p(30u));
  let k = u32(i);
  let a = bitcast<i32>(arena[3u * k]);
  let b = bitcast<i32>(arena[3u * k + 1u]);
  let e = bitcast<i32>(arena[3u * k + 2u]);
  let o = 3u * n + 5u * k;
  arena[o] = bitcast<u32>(srdhm(a, b));
  arena[o + 1u] = bitcast<u32>(rdbp(a, e));
  arena[o + 2u] = bitcast<u32>(mbqm(a, b, e));
  arena[o + 3u] = bitcast<u32>(exp_negative(-(a & I32_MAX)));
  arena[o + 4u] = bitcast<u32>(one_over_one_plus_x(a & I32_MAX));
}
";

impl Gpu {
    /// Runs the WGSL fixed-point helpers on `(a, b, e)` triples and returns
    /// their five results per triple (see `PROBE_WGSL`), so that tests can
    /// hold them against [`shoal_core::tflite::kernels`].
    ///
    /// # Errors
    /// [`GpuError::Readback`]; [`GpuError::Unsupported`] for more than one
    /// dispatch row of triples.
    #[doc(hidden)]
    pub fn tflite_fixed_point_probe(&self, abe: &[[i32; 3]]) -> Result<Vec<[i32; 5]>, GpuError> {
        let n = abe.len();
        let groups = u32::try_from(n.div_ceil(WORKGROUP as usize))
            .ok()
            .filter(|&g| (1..=65_535).contains(&g))
            .ok_or(GpuError::Unsupported("probe size"))?;
        let device = &self.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("tflite_probe"),
            source: wgpu::ShaderSource::Wgsl(format!("{QUANTIZED_WGSL}{PROBE_WGSL}").into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("tflite_probe"),
            layout: None,
            module: &module,
            entry_point: Some("q_fixed_point_probe"),
            compilation_options: Default::default(),
            cache: None,
        });
        let mut words: Vec<u32> = abe.iter().flatten().map(|&v| v as u32).collect();
        words.resize(8 * n, 0);
        let bytes = (words.len() * 4) as u64;
        let arena = self.upload(
            "probe",
            bytemuck::cast_slice(&words),
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let mut params = [0i32; shoal_core::tflite::lower::PARAMS];
        params[SLOT_ROW] = (groups * WORKGROUP) as i32;
        params[shoal_core::tflite::lower::SLOT_THREADS] = n as i32;
        let ubuf = self.upload(
            "probe_params",
            bytemuck::cast_slice(&params),
            wgpu::BufferUsages::UNIFORM,
        );
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: arena.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: ubuf.as_entire_binding(),
                },
            ],
        });
        let rb = self.buffer(
            "probe_readback",
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let mut enc =
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        }
        enc.copy_buffer_to_buffer(&arena, 0, &rb, 0, bytes);
        self.queue.submit([enc.finish()]);
        let out = self.read_words(&rb, 8 * n)?;
        Ok(out[3 * n..]
            .chunks_exact(5)
            .map(|c| {
                [
                    c[0] as i32,
                    c[1] as i32,
                    c[2] as i32,
                    c[3] as i32,
                    c[4] as i32,
                ]
            })
            .collect())
    }
}
