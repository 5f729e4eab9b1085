//! `shoal`: the command-line front end. Run `shoal help` for usage.

mod cli;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use shoal_core::{bessel, npy, vmf};
use shoal_host_gpu::{gpu::BesselKind, Backend};

const USAGE: &str = "\
shoal — numerical kernels for small hardware

USAGE:
  shoal bessel log-i [--f32] [--backend cpu|gpu|auto]   read lines `v,x` on stdin,
  shoal bessel log-k [--f32] [--backend cpu|gpu|auto]   print ln I_v(x) / ln K_v(x)
  shoal vmf fit FILE.npy        fit a von Mises-Fisher distribution to n x p samples
  shoal bench [--n N] [--gpu-n N] [--gemv ROWSxCOLS] [--embed-rows N] [--model FILE.tflite]
              [--batch B] [--only bessel|embed|gemv|model]
                                CPU and GPU throughput side by side, with the adapter name
                                and the GPU's copy roofline measured in the same run
  shoal quant compress --format q8|q4|q2 [--group 32|64|128] [--asym] [--scale f16|bf16]
                       [--rank R] [--sparse FRACTION] IN.npy OUT.shq   (GEAR with --rank/--sparse)
  shoal quant matvec [--int8] FILE.shq X.npy Y.npy
                                             Y = X Wᵀ (X: cols, or n x cols), f32 .npy out;
                                             --int8: X rounded to int8 per 32 columns, integer
                                             kernels (several times faster, ggml-style)
  shoal quant info FILE.shq [--original IN.npy]   bits per weight, relative Frobenius error
  shoal classify [--model FILE] [--labels FILE] [--catalog FILE] [--top K] [--json]
                 [--raw] [--backend auto|cpu|gpu] [--input-raw FILE] IMAGE...
                 [--input-mean M --input-std S]
                                classify photos (JPEG/PNG/BMP); default model: the built-in
                                EfficientNet-Lite0 (Shoal Q8/Q4 + low-rank), or a TFLite model
                                (uint8 input, or float32 input fed (v - M) / S, default 127.5)
  shoal model pack DIR OUT.shm [--pointwise q8|q4] [--classifier q8|q4] [--rank R]
                                pack folded float weights (tools/effnet_lite0.py export) into a .shm
  shoal serve [--dir DIR] [--port P]   serve the web page (default DIR: web) on 127.0.0.1
  shoal embed build --method M [--seed S] TABLE.npy OUT.she    compress an n x d f32 table; M is
                 f32|f16|bf16|int8|int4|int2 (row-wise), pq [--subspaces M] [--bits 8|4],
                 lowrank [--rank R] [--factors CODEC], hash [--buckets B] [--codec CODEC],
                 qr [--modulus M] [--codec CODEC]
  shoal embed lookup FILE.she (--ids FILE | ID...) [--bag-offsets FILE [--weights W.npy]
                 [--mode sum|mean]] [--out ROWS.npy]   rows (or pooled bags), printed or .npy
  shoal embed info FILE.she [--original TABLE.npy]   method, bytes, ratio (and error)
  shoal langid [--model FILE] [--top K] [--json] [TEXT...]   language of TEXT (or of each
                                stdin line) with the built-in fastText lid.176
  shoal help | --help           this text
  shoal --version

Values are printed in the shortest form that reads back to the same number
(`inf`, `-inf`, `NaN` for special values). The GPU path (--backend gpu) runs
the WGSL kernels in f32; without --f32 the CPU computes in f64.
";

/// A failure with the exit code it maps to (2: usage or input, 1: runtime).
pub(crate) struct Fail(u8, String);

pub(crate) fn usage(msg: impl Into<String>) -> Fail {
    Fail(2, msg.into())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("shoal: {msg}");
            ExitCode::from(code)
        }
    }
}

fn run(args: &[String]) -> Result<(), Fail> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        [] | ["help"] | ["--help"] | ["-h"] => {
            print!("{USAGE}");
            Ok(())
        }
        ["--version"] | ["-V"] => {
            println!("shoal {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        ["bessel", which, rest @ ..] => {
            let kind = match *which {
                "log-i" => BesselKind::I,
                "log-k" => BesselKind::K,
                other => {
                    return Err(usage(format!(
                        "unknown bessel function '{other}' (log-i, log-k)"
                    )))
                }
            };
            bessel_cmd(kind, rest)
        }
        ["vmf", "fit", file] => vmf_fit(file),
        ["bench", rest @ ..] => bench(rest),
        ["classify", rest @ ..] => classify(rest),
        ["model", "pack", rest @ ..] => model_pack(rest),
        ["serve", rest @ ..] => serve(rest),
        ["embed", "build", rest @ ..] => cli::embed::build(rest),
        ["embed", "lookup", rest @ ..] => cli::embed::lookup(rest),
        ["embed", "info", rest @ ..] => cli::embed::info(rest),
        ["langid", rest @ ..] => cli::langid::run(rest),
        ["quant", "compress", rest @ ..] => quant_compress(rest),
        ["quant", "matvec", rest @ ..] => quant_matvec(rest),
        ["quant", "info", shq, rest @ ..] => quant_info(shq, rest),
        _ => Err(usage(format!(
            "unrecognised arguments: {}\n\n{USAGE}",
            words.join(" ")
        ))),
    }
}

fn parse_pair(line: &str, lineno: usize) -> Result<(f64, f64), Fail> {
    let mut it = line.split(',');
    let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
        return Err(usage(format!(
            "line {lineno}: expected `v,x`, got `{line}`"
        )));
    };
    let p = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|e| usage(format!("line {lineno}: `{}`: {e}", s.trim())))
    };
    Ok((p(a)?, p(b)?))
}

fn bessel_cmd(kind: BesselKind, flags: &[&str]) -> Result<(), Fail> {
    let a = cli::args::Args::parse(flags, &["--backend"], &["--f32"])?;
    if let Some(extra) = a.positional.first() {
        return Err(usage(format!("unknown argument '{extra}'")));
    }
    let mut f32_mode = a.has("--f32");
    let backend = Backend::from_name(a.value("--backend").unwrap_or("cpu")).map_err(usage)?;
    if matches!(backend, Backend::Gpu(_)) && !f32_mode {
        eprintln!("shoal: the GPU computes in f32 (WGSL has no f64); implying --f32");
        f32_mode = true;
    }
    let stdin = std::io::stdin();
    let mut pairs = Vec::new();
    for (i, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| Fail(1, format!("reading stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        pairs.push(parse_pair(&line, i + 1)?);
    }
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let write_err = |e: std::io::Error| Fail(1, format!("writing stdout: {e}"));
    if f32_mode {
        let v: Vec<f32> = pairs.iter().map(|p| p.0 as f32).collect();
        let x: Vec<f32> = pairs.iter().map(|p| p.1 as f32).collect();
        let y = backend
            .log_bessel(kind, &v, &x)
            .map_err(|e| Fail(1, e.to_string()))?;
        for r in y {
            writeln!(out, "{r}").map_err(write_err)?;
        }
    } else {
        let f = match kind {
            BesselKind::I => bessel::log_bessel_i,
            BesselKind::K => bessel::log_bessel_k,
        };
        for (v, x) in pairs {
            writeln!(out, "{}", f(v, x)).map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)
}

/// Largest `.npy` file read (bytes).
const MAX_NPY_BYTES: u64 = 1 << 32;

/// Reads a whole input file, refusing anything over [`MAX_NPY_BYTES`].
pub(crate) fn read_capped(path: &str) -> Result<Vec<u8>, Fail> {
    let meta = std::fs::metadata(path).map_err(|e| usage(format!("{path}: {e}")))?;
    if meta.len() > MAX_NPY_BYTES {
        return Err(usage(format!(
            "{path}: {} bytes exceeds the 4 GiB cap",
            meta.len()
        )));
    }
    std::fs::read(path).map_err(|e| usage(format!("{path}: {e}")))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, flushed, then renamed over the target. An interrupted run
/// leaves either the old file or none, never a partial one.
pub(crate) fn write_atomic(path: &str, bytes: &[u8]) -> Result<(), Fail> {
    let target = std::path::Path::new(path);
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Fail(1, format!("{path}: {e}"))
    })
}

fn vmf_fit(path: &str) -> Result<(), Fail> {
    let bytes = read_capped(path)?;
    let arr = npy::read(&bytes).map_err(|e| usage(format!("{path}: {e}")))?;
    let [n, p] = arr.shape[..] else {
        return Err(usage(format!(
            "{path}: expected a 2-D array of n x p samples, got shape {:?}",
            arr.shape
        )));
    };
    let data = arr.to_f64();
    let mut mean = vec![0.0; p];
    let t0 = std::time::Instant::now();
    let fit = vmf::fit(&data, p, &mut mean).map_err(|e| usage(format!("{path}: {e}")))?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{{\"n\": {n}, \"p\": {p}, \"kappa\": {}, \"mean_resultant_length\": {}, \"log_normalizer\": {}, \"iterations\": {}, \"fit_seconds\": {secs:e}}}",
        json_num(fit.kappa),
        json_num(fit.mean_resultant_length),
        json_num(fit.log_normalizer),
        fit.iterations
    );
    Ok(())
}

/// JSON has no infinities or NaN: print them as strings.
fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:?}")
    } else {
        format!("\"{x}\"")
    }
}

/// Inputs spread like the reference grid: orders log-uniform in [1e-3, 1e5]
/// (a tenth exactly 0), arguments log-uniform in [1e-8, 1e5].
fn bench_inputs(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = shoal_core::rng::Rng::new(7);
    (0..n)
        .map(|i| {
            let v = if i % 10 == 0 {
                0.0
            } else {
                10f64.powf(-3.0 + 8.0 * rng.next_f64())
            };
            (v, 10f64.powf(-8.0 + 13.0 * rng.next_f64()))
        })
        .unzip()
}

fn rate(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t0 = std::time::Instant::now();
    let mut reps = 0u32;
    while t0.elapsed().as_secs_f64() < 0.5 {
        f();
        reps += 1;
    }
    n as f64 * f64::from(reps) / t0.elapsed().as_secs_f64()
}

fn bench(flags: &[&str]) -> Result<(), Fail> {
    let a = cli::args::Args::parse(
        flags,
        &[
            "--n",
            "--gpu-n",
            "--model",
            "--batch",
            "--gemv",
            "--embed-rows",
            "--only",
        ],
        &[],
    )?;
    if let Some(extra) = a.positional.first() {
        return Err(usage(format!("unknown argument '{extra}'")));
    }
    let positive = |name: &str, default: usize| -> Result<usize, Fail> {
        Some(a.get(name, default)?)
            .filter(|&k| k > 0)
            .ok_or_else(|| usage(format!("{name} needs a positive integer")))
    };
    let (n, gpu_n) = (positive("--n", 1 << 16)?, positive("--gpu-n", 1 << 22)?);
    let batch = positive("--batch", 64)?;
    let embed_rows = positive("--embed-rows", 1 << 18)?;
    let gemv = a.value("--gemv").unwrap_or("4096x4096");
    let shape = gemv
        .split_once('x')
        .and_then(|(r, c)| Some((r.parse::<usize>().ok()?, c.parse::<usize>().ok()?)))
        .filter(|&(r, c)| r > 0 && c > 0 && r.checked_mul(c).is_some_and(|n| n <= 1 << 32))
        .ok_or_else(|| {
            usage(format!(
                "--gemv needs ROWSxCOLS (at most 2^32 weights), not '{gemv}'"
            ))
        })?;
    let model = a.value("--model").map(read_capped).transpose()?;
    let only = a.value("--only");
    if let Some(o) = only.filter(|o| !["bessel", "embed", "gemv", "model"].contains(o)) {
        return Err(usage(format!(
            "--only takes bessel, embed, gemv or model, not '{o}'"
        )));
    }
    let want = |part: &str| only.is_none_or(|o| o == part);
    let gpu = shoal_host_gpu::gpu::Gpu::new();
    // The roofline the memory-bound kernels are compared with, measured
    // now on this device: the WGSL streaming copy of 1 GiB (or one binding's
    // worth), bytes read plus bytes written; the copy command for comparison.
    let copy = match &gpu {
        Ok(g) => {
            let (c, command) = g.bench_copy(1 << 30).map_err(|e| Fail(1, e.to_string()))?;
            println!("GPU: {}", g.adapter_name());
            println!(
                "  copy roofline {:10.1} GB/s (WGSL streaming copy, read + written; the copy command: {:.1} GB/s)",
                c / 1e9,
                command / 1e9
            );
            Some(c)
        }
        Err(e) => {
            println!("GPU: none ({e})");
            None
        }
    };
    let gpu = gpu.ok();
    if want("bessel") {
        bench_bessel(gpu.as_ref(), n, gpu_n)?;
    }
    if want("embed") {
        bench_embed(gpu.as_ref(), embed_rows, copy)?;
    }
    if want("gemv") {
        bench_gemv(gpu.as_ref(), shape, copy)?;
    }
    if want("model") {
        match model {
            Some(bytes) => bench_tflite(&bytes, batch)?,
            None => {
                println!("MobileNet: give --model FILE.tflite (a quantized model) to measure it")
            }
        }
    }
    Ok(())
}

/// log I and log K: `n` inputs on one CPU core (f64, and f32 for log I),
/// `gpu_n` on the GPU (f32) with the inputs resident.
fn bench_bessel(
    gpu: Option<&shoal_host_gpu::gpu::Gpu>,
    n: usize,
    gpu_n: usize,
) -> Result<(), Fail> {
    let (v, x) = bench_inputs(n);
    let v32: Vec<f32> = v.iter().map(|&a| a as f32).collect();
    let x32: Vec<f32> = x.iter().map(|&a| a as f32).collect();
    let mut out = vec![0.0; n];
    let mut out32 = vec![0.0f32; n];
    println!("log-Bessel, {n} inputs (orders 1e-3..1e5, arguments 1e-8..1e5), one CPU core:");
    println!(
        "  SIMD backend of the slice functions: {}",
        bessel::simd_backend()
    );
    let ok = |r: Result<(), bessel::BesselError>| r.map_err(|e| Fail(1, e.to_string()));
    let mut res = Ok(());
    let ci = rate(n, || res = ok(bessel::log_bessel_i_slice(&v, &x, &mut out)));
    let ck = rate(n, || res = ok(bessel::log_bessel_k_slice(&v, &x, &mut out)));
    let fi = rate(n, || {
        res = ok(bessel::log_bessel_i_slice_f32(&v32, &x32, &mut out32))
    });
    res?;
    println!("  cpu  log I f64 {:10.2} M evals/s", ci / 1e6);
    println!("  cpu  log K f64 {:10.2} M evals/s", ck / 1e6);
    println!("  cpu  log I f32 {:10.2} M evals/s", fi / 1e6);
    if let Some(g) = gpu {
        let (v, x) = bench_inputs(gpu_n);
        let v32: Vec<f32> = v.iter().map(|&a| a as f32).collect();
        let x32: Vec<f32> = x.iter().map(|&a| a as f32).collect();
        println!("  log-Bessel with {gpu_n} inputs resident on the device:");
        for (name, kind) in [("log I", BesselKind::I), ("log K", BesselKind::K)] {
            let r = g
                .bench_log_bessel(kind, &v32, &x32, 10)
                .map_err(|e| Fail(1, e.to_string()))?;
            let cpu = if kind == BesselKind::I { fi } else { ck };
            println!(
                "  gpu  {name} f32 {:10.2} M evals/s  ({:.1}x one CPU core)",
                r / 1e6,
                r / cpu
            );
        }
    }
    Ok(())
}

/// The share of the copy roofline (when measured) that `bytes_per_s` is.
fn of_roofline(bytes_per_s: f64, copy: Option<f64>) -> String {
    copy.map_or(String::new(), |c| {
        format!(", {:.0}% of the copy roofline", 100.0 * bytes_per_s / c)
    })
}

/// Q8 and Q4 GEMV (groups of 32, f16 scales) on a `rows x cols` Gaussian
/// matrix: one CPU core against the WGSL kernel with the matrix resident.
fn bench_gemv(
    gpu: Option<&shoal_host_gpu::gpu::Gpu>,
    (rows, cols): (usize, usize),
    copy: Option<f64>,
) -> Result<(), Fail> {
    use shoal_core::quant::{Bits, Format, QuantMatrix, ScaleType, Scheme};
    let mut rng = shoal_core::rng::Rng::new(5);
    let w: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
    let x: Vec<f32> = (0..cols).map(|_| rng.normal() as f32).collect();
    println!("GEMV {rows} x {cols} (groups of 32, f16 scales):");
    for (name, bits) in [("Q8", Bits::Q8), ("Q4", Bits::Q4)] {
        let f = Format::new(bits, Scheme::Symmetric, 32, ScaleType::F16)
            .map_err(|e| Fail(1, e.to_string()))?;
        let q = QuantMatrix::quantize(&w, rows, cols, f).map_err(|e| Fail(1, e.to_string()))?;
        let bytes_per_weight =
            (q.groups_per_row() * f.group_bytes() + 2 * q.groups_per_row()) as f64 / cols as f64;
        let mut y = vec![0.0f32; rows];
        let mut res = Ok(());
        let cpu = rate(rows * cols, || res = q.gemv(&x, &mut y));
        res.map_err(|e| Fail(1, e.to_string()))?;
        print!("  {name} cpu {:8.2} G weights/s", cpu / 1e9);
        if let Some(g) = gpu {
            let r = g
                .bench_quant_gemv(&q, &x, 20)
                .map_err(|e| Fail(1, e.to_string()))?;
            let bw = r * bytes_per_weight;
            print!(
                "   gpu {:8.2} G weights/s ({:.1}x one CPU core; {:.1} GB/s of codes and scales{})",
                r / 1e9,
                r / cpu,
                bw / 1e9,
                of_roofline(bw, copy)
            );
        }
        println!();
    }
    Ok(())
}

/// A quantized TFLite model: images/s on one CPU core (the integer engine)
/// and on the GPU with `batch` images per submission.
fn bench_tflite(bytes: &[u8], batch: usize) -> Result<(), Fail> {
    let model = shoal_core::tflite::Model::parse(bytes).map_err(|e| usage(e.to_string()))?;
    let n = model
        .inputs
        .first()
        .and_then(|&i| model.tensors.get(i))
        .map_or(0, |t| t.len());
    let mut rng = shoal_core::rng::Rng::new(11);
    let input: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
    let mut res = Ok(());
    let cpu = rate(1, || res = model.run_u8(&input).map(|_| ()));
    res.map_err(|e| Fail(1, e.to_string()))?;
    println!("TFLite model ({n} input values):");
    println!("  cpu  {cpu:10.1} images/s (one core)");
    match shoal_host_gpu::gpu::Gpu::new() {
        Ok(g) => {
            let m = g
                .load_tflite(&model, batch)
                .map_err(|e| Fail(1, e.to_string()))?;
            let images: Vec<&[u8]> = vec![&input[..]; m.capacity()];
            let got = m.run(&images).map_err(|e| Fail(1, e.to_string()))?;
            let want = model.run_u8(&input).map_err(|e| Fail(1, e.to_string()))?;
            let same = want
                .output(&model, 0)
                .is_ok_and(|w| got.iter().all(|o| o == w));
            let r = m.bench(5).map_err(|e| Fail(1, e.to_string()))?;
            println!(
                "  gpu  {r:10.1} images/s (batch {}; {:.1}x one CPU core; output equal to the CPU engine's: {same})",
                m.capacity(),
                r / cpu
            );
        }
        Err(e) => println!("  gpu  none ({e})"),
    }
    Ok(())
}

/// Pooled int8 lookups (bags of 20, mean) on a `rows x 64` table: one CPU
/// core against the WGSL kernel with everything resident on the device.
fn bench_embed(
    gpu: Option<&shoal_host_gpu::gpu::Gpu>,
    rows: usize,
    copy: Option<f64>,
) -> Result<(), Fail> {
    use shoal_core::embed::{Method, Pool, Table};
    let (dim, n) = (64usize, 1usize << 20);
    let mut rng = shoal_core::rng::Rng::new(3);
    let e: Vec<f32> = (0..rows * dim).map(|_| rng.normal() as f32).collect();
    let t = Table::encode(&e, rows, dim, Method::Int8).map_err(|e| Fail(1, e.to_string()))?;
    let ids: Vec<u64> = (0..n).map(|_| rng.next_u64() % rows as u64).collect();
    let offsets: Vec<usize> = (0..n / 20).map(|k| 20 * k).collect();
    let ids = &ids[..offsets.len() * 20];
    let mut out = vec![0.0f32; offsets.len() * dim];
    let mut res = Ok(());
    let cpu = rate(ids.len(), || {
        res = t.bag(ids, &offsets, None, Pool::Mean, &mut out)
    });
    res.map_err(|e| Fail(1, e.to_string()))?;
    println!(
        "embedding bags (int8 row-wise, {rows} x {dim}, {} random ids in bags of 20, mean):",
        ids.len()
    );
    println!("  cpu  {:10.2} M ids/s", cpu / 1e6);
    if let Some(g) = gpu {
        let r = g
            .bench_embed_bag(&t, ids, &offsets, 10)
            .map_err(|e| Fail(1, e.to_string()))?;
        let bw = r * (dim + 4) as f64;
        println!(
            "  gpu  {:10.2} M ids/s  ({:.1}x one CPU core; {:.1} GB/s of int8 rows{})",
            r / 1e6,
            r / cpu,
            bw / 1e9,
            of_roofline(bw, copy)
        );
    }
    Ok(())
}

/// Relative Frobenius error (absolute when `orig` is all zeros) and the
/// largest absolute error of a decoded matrix against `orig` (`cols` wide),
/// `decode(r, row)` writing decoded row `r`.
pub(crate) fn reconstruction_error(
    orig: &[f32],
    cols: usize,
    mut decode: impl FnMut(usize, &mut [f32]) -> Result<(), Fail>,
) -> Result<(f64, f64), Fail> {
    let mut row = vec![0.0f32; cols];
    let (mut err, mut norm, mut worst) = (0.0f64, 0.0f64, 0.0f64);
    for (r, want) in orig.chunks_exact(cols).enumerate() {
        decode(r, &mut row)?;
        for (a, b) in want.iter().zip(&row) {
            let d = f64::from(*a) - f64::from(*b);
            err += d * d;
            norm += f64::from(*a) * f64::from(*a);
            worst = worst.max(d.abs());
        }
    }
    let rel = if norm > 0.0 {
        (err / norm).sqrt()
    } else {
        err.sqrt()
    };
    Ok((rel, worst))
}

pub(crate) fn matrix_from_npy(path: &str) -> Result<(Vec<f32>, usize, usize), Fail> {
    let bytes = read_capped(path)?;
    let arr = npy::read(&bytes).map_err(|e| usage(format!("{path}: {e}")))?;
    let (rows, cols) = match arr.shape[..] {
        [r, c] => (r, c),
        [c] => (1, c),
        _ => {
            return Err(usage(format!(
                "{path}: expected a 1-D or 2-D array, got shape {:?}",
                arr.shape
            )))
        }
    };
    Ok((arr.to_f32(), rows, cols))
}

fn quant_compress(flags: &[&str]) -> Result<(), Fail> {
    use shoal_core::quant::{gear::GearMatrix, Bits, Format, ScaleType, Scheme};
    let a = cli::args::Args::parse(
        flags,
        &["--format", "--group", "--scale", "--rank", "--sparse"],
        &["--asym"],
    )?;
    let [input, output] = a.positional[..] else {
        return Err(usage("quant compress needs IN.npy OUT.shq"));
    };
    let bits = match a.value("--format") {
        Some("q8") => Some(Bits::Q8),
        Some("q4") => Some(Bits::Q4),
        Some("q2") => Some(Bits::Q2),
        Some(other) => return Err(usage(format!("unknown format '{other}' (q8, q4, q2)"))),
        None => None,
    };
    let group = a
        .get("--group", 64usize)
        .map_err(|_| usage("--group takes 32, 64 or 128"))?;
    let scheme = if a.has("--asym") {
        Scheme::Asymmetric
    } else {
        Scheme::Symmetric
    };
    let scale = match a.value("--scale").unwrap_or("f16") {
        "f16" => ScaleType::F16,
        "bf16" => ScaleType::Bf16,
        other => return Err(usage(format!("unknown scale type '{other}' (f16, bf16)"))),
    };
    let rank = a
        .get("--rank", 0usize)
        .map_err(|_| usage("--rank takes a non-negative integer"))?;
    let sparse = Some(a.get("--sparse", 0.0f64)?)
        .filter(|s| (0.0..1.0).contains(s))
        .ok_or_else(|| usage("--sparse takes a fraction in [0, 1), e.g. 0.02"))?;
    let bits = bits.ok_or_else(|| usage("quant compress needs --format q8|q4|q2"))?;
    let format = Format::new(bits, scheme, group, scale).map_err(|e| usage(e.to_string()))?;
    let (w, rows, cols) = matrix_from_npy(input)?;
    let q = GearMatrix::compress(&w, rows, cols, format, rank, sparse)
        .map_err(|e| usage(format!("{input}: {e} (rank {rank}, sparse {sparse})")))?;
    write_atomic(output, &q.to_bytes())?;
    eprintln!(
        "{output}: {rows} x {cols}, {:.3} bits per weight",
        q.bits_per_weight()
    );
    Ok(())
}

fn load_shq(path: &str) -> Result<shoal_core::quant::gear::GearMatrix, Fail> {
    let bytes = read_capped(path)?;
    shoal_core::quant::gear::GearMatrix::from_bytes(&bytes)
        .map_err(|e| usage(format!("{path}: {e}")))
}

fn quant_matvec(rest: &[&str]) -> Result<(), Fail> {
    let a = cli::args::Args::parse(rest, &[], &["--int8"])?;
    let [shq, xpath, ypath] = a.positional[..] else {
        return Err(usage(String::from(
            "usage: shoal quant matvec [--int8] FILE.shq X.npy Y.npy",
        )));
    };
    let g = load_shq(shq)?;
    let q = g.backbone();
    let bytes = read_capped(xpath)?;
    let arr = npy::read(&bytes).map_err(|e| usage(format!("{xpath}: {e}")))?;
    let (n, cols, shape_out): (usize, usize, Vec<usize>) = match arr.shape[..] {
        [c] => (1, c, vec![q.rows()]),
        [n, c] => (n, c, vec![n, q.rows()]),
        _ => {
            return Err(usage(format!(
                "{xpath}: expected shape (cols,) or (n, cols), got {:?}",
                arr.shape
            )))
        }
    };
    if cols != q.cols() {
        return Err(usage(format!(
            "{xpath}: {cols} columns, the matrix has {}",
            q.cols()
        )));
    }
    let x = arr.to_f32();
    let mut y = vec![0.0f32; n * q.rows()];
    if a.has("--int8") {
        for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(q.rows())) {
            g.gemv_int8(xr, yr).map_err(|e| Fail(1, e.to_string()))?;
        }
    } else {
        g.gemm(&x, n, &mut y).map_err(|e| Fail(1, e.to_string()))?;
    }
    let out = npy::write_f32(&shape_out, &y).map_err(|e| Fail(1, e.to_string()))?;
    write_atomic(ypath, &out)
}

fn quant_info(shq: &str, flags: &[&str]) -> Result<(), Fail> {
    let g = load_shq(shq)?;
    let q = g.backbone();
    let a = cli::args::Args::parse(flags, &["--original"], &[])?;
    if let Some(extra) = a.positional.first() {
        return Err(usage(format!("unknown argument '{extra}'")));
    }
    let original = a.value("--original");
    let f = q.format();
    let mut json = format!(
        "{{\"rows\": {}, \"cols\": {}, \"bits\": {}, \"scheme\": \"{:?}\", \"group\": {}, \"scale\": \"{:?}\", \"bits_per_weight\": {}",
        q.rows(),
        q.cols(),
        f.bits.count(),
        f.scheme,
        f.group,
        f.scale,
        json_num(g.bits_per_weight())
    );
    json.push_str(&format!(
        ", \"rank\": {}, \"outliers\": {}",
        g.rank(),
        g.outliers()
    ));
    if let Some(path) = original {
        let (w, rows, cols) = matrix_from_npy(path)?;
        if (rows, cols) != (q.rows(), q.cols()) {
            return Err(usage(format!(
                "{path}: shape {rows} x {cols} differs from the matrix's {} x {}",
                q.rows(),
                q.cols()
            )));
        }
        let (rel, _) = reconstruction_error(&w, cols, |r, row| {
            g.dequantize_row(r, row).map_err(|e| Fail(1, e.to_string()))
        })?;
        json.push_str(&format!(
            ", \"relative_frobenius_error\": {}",
            json_num(rel)
        ));
    }
    json.push('}');
    println!("{json}");
    Ok(())
}

/// JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn classify(flags: &[&str]) -> Result<(), Fail> {
    use shoal_host_gpu::classify::{self as cl, ClassifyError};
    let a = cli::args::Args::parse(
        flags,
        &[
            "--model",
            "--labels",
            "--catalog",
            "--top",
            "--backend",
            "--input-raw",
            "--input-mean",
            "--input-std",
        ],
        &["--json", "--raw"],
    )?;
    let input_mean: f32 = a.get("--input-mean", 127.5)?;
    let input_std: f32 = a.get("--input-std", 127.5)?;
    if !(input_std.is_finite() && input_std != 0.0 && input_mean.is_finite()) {
        return Err(usage(
            "--input-mean and --input-std must be finite, the std non-zero",
        ));
    }
    let (model_path, labels_path, catalog_path, input_raw) = (
        a.value("--model"),
        a.value("--labels"),
        a.value("--catalog"),
        a.value("--input-raw"),
    );
    let top = a
        .get("--top", 5usize)
        .ok()
        .filter(|&k| k > 0)
        .ok_or_else(|| usage("--top takes a positive integer"))?;
    let (json, raw) = (a.has("--json"), a.has("--raw"));
    let backend = a.value("--backend").unwrap_or("auto");
    if !matches!(backend, "auto" | "cpu" | "gpu") {
        return Err(usage(format!(
            "unknown backend '{backend}' (cpu, gpu or auto)"
        )));
    }
    let images = a.positional;
    if images.is_empty() && input_raw.is_none() {
        return Err(usage(
            "classify needs at least one IMAGE (or --input-raw FILE)",
        ));
    }
    // The model: --model (TFLite uint8 or Shoal .shm), else the built-in one.
    let model_bytes = match model_path {
        Some(p) => read_capped(p)?,
        None => cl::DEFAULT_MODEL.to_vec(),
    };
    let model_name = model_path.unwrap_or("built-in EfficientNet-Lite0");
    enum Engine<'a> {
        Tflite(shoal_core::tflite::Model<'a>),
        Shm(shoal_core::model::ShmModel),
    }
    let engine = if model_bytes.starts_with(b"SHM1") {
        Engine::Shm(
            shoal_core::model::ShmModel::parse(&model_bytes)
                .map_err(|e| usage(format!("{model_name}: {e}")))?,
        )
    } else {
        Engine::Tflite(
            shoal_core::tflite::Model::parse(&model_bytes)
                .map_err(|e| usage(format!("{model_name}: {e}")))?,
        )
    };
    let (h, w) = match &engine {
        Engine::Tflite(m) => cl::input_size(m).map_err(|e| usage(format!("{model_name}: {e}")))?,
        Engine::Shm(m) => (m.size, m.size),
    };
    // The GPU runs quantized TFLite models; `auto` takes a hardware adapter
    // only (a software rasteriser such as llvmpipe is slower than the CPU
    // engine), `gpu` any adapter or fails.
    let gpu = match (&engine, backend) {
        (_, "cpu") => None,
        (Engine::Shm(_), "gpu") => {
            return Err(Fail(
                1,
                "--backend gpu: the built-in .shm model runs on the CPU only; \
                 give a quantized TFLite model with --model"
                    .into(),
            ))
        }
        (Engine::Shm(_), _) => None,
        (Engine::Tflite(_), "gpu") => Some(
            shoal_host_gpu::gpu::Gpu::new().map_err(|e| Fail(1, format!("--backend gpu: {e}")))?,
        ),
        (Engine::Tflite(_), _) => match shoal_host_gpu::gpu::Gpu::new() {
            Ok(g) if !g.is_software() => Some(g),
            Ok(g) => {
                eprintln!(
                    "shoal: classify on the CPU ({} is a software adapter; --backend gpu uses it)",
                    g.adapter_name()
                );
                None
            }
            Err(e) => {
                eprintln!("shoal: classify on the CPU ({e})");
                None
            }
        },
    };
    let on_gpu = match (&engine, &gpu) {
        (Engine::Tflite(m), Some(g)) => match g.load_tflite(m, 1) {
            Ok(l) => Some(l),
            // `auto` falls back (a float32 model, say); `gpu` is an error.
            Err(e) if backend == "auto" => {
                eprintln!("shoal: classify on the CPU ({model_name}: {e})");
                None
            }
            Err(e) => return Err(Fail(1, format!("--backend gpu: {model_name}: {e}"))),
        },
        _ => None,
    };
    let backend_name = match (&gpu, &on_gpu) {
        (Some(g), Some(_)) => format!("gpu ({})", g.adapter_name()),
        _ => "cpu".to_string(),
    };
    if raw && matches!(engine, Engine::Shm(_)) {
        return Err(usage(
            "--raw needs a uint8 TFLite model (--model FILE.tflite)",
        ));
    }
    // Labels: --labels, else the built-in model's, else a labels file next to the model.
    let label_text = match labels_path {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| usage(format!("{p}: {e}")))?),
        None if model_path.is_none() => Some(cl::DEFAULT_LABELS.to_string()),
        None => {
            let dir = std::path::Path::new(model_path.unwrap_or("."))
                .parent()
                .unwrap_or(std::path::Path::new("."));
            ["imagenet_labels.txt", "labels.txt"]
                .iter()
                .find_map(|n| std::fs::read_to_string(dir.join(n)).ok())
        }
    };
    let labels: Vec<String> = label_text
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default();
    let catalog_text = match catalog_path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| usage(format!("{p}: {e}")))?,
        None => cl::SEA_LIFE_CATALOG.to_string(),
    };
    let catalog = cl::parse_catalog(&catalog_text).map_err(|e| usage(e.to_string()))?;
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(p) = input_raw {
        let bytes = read_capped(p)?;
        let data = match npy::read(&bytes) {
            Ok(a) if a.dtype == npy::Dtype::U8 => a.data.to_vec(),
            Ok(_) => return Err(usage(format!("{p}: expected a uint8 array"))),
            Err(npy::NpyError::BadMagic) => bytes,
            Err(e) => return Err(usage(format!("{p}: {e}"))),
        };
        if data.len() != h * w * 3 {
            return Err(usage(format!(
                "{p}: {} bytes, the model needs {h}x{w}x3 = {}",
                data.len(),
                h * w * 3
            )));
        }
        inputs.push((p.to_string(), data));
    }
    for img in &images {
        let meta = std::fs::metadata(img).map_err(|e| usage(format!("{img}: {e}")))?;
        if meta.len() > cl::MAX_IMAGE_BYTES {
            return Err(usage(format!("{img}: file larger than the 64 MiB cap")));
        }
        let bytes = std::fs::read(img).map_err(|e| usage(format!("{img}: {e}")))?;
        let (iw, ih, px) =
            cl::decode_image(&bytes).map_err(|e: ClassifyError| usage(format!("{img}: {e}")))?;
        inputs.push((
            img.to_string(),
            cl::resize_rgb(&px, iw as usize, ih as usize, w, h),
        ));
    }
    let label_of = |i: usize| -> String {
        labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("class {i}"))
    };
    // The vMF out-of-distribution score, calibrated for the built-in model.
    let ood_model = match &engine {
        Engine::Shm(m) => shoal_core::classify::builtin_ood::scorer(&model_bytes, m),
        Engine::Tflite(_) => None,
    };
    let mut runner = None;
    // The built-in model's activation buffers, kept from image to image.
    let mut shm_ws = shoal_core::model::Workspace::default();
    for (name, input) in inputs {
        let input = match &engine {
            Engine::Tflite(m) => cl::model_input(m, input, input_mean, input_std),
            Engine::Shm(_) => input,
        };
        let mut ood: Option<f64> = None;
        let t0 = std::time::Instant::now();
        let p = match &engine {
            Engine::Tflite(m) => match &on_gpu {
                Some(g) => {
                    let raw = g
                        .run(&[&input])
                        .map_err(|e| Fail(1, format!("{name}: {e}")))?
                        .pop()
                        .unwrap_or_default();
                    cl::rank_raw(m, raw, top)
                }
                None => {
                    let runner = match &mut runner {
                        Some(r) => r,
                        None => runner.insert(
                            shoal_core::tflite::Runner::new(m)
                                .map_err(|e| Fail(1, format!("{name}: {e}")))?,
                        ),
                    };
                    cl::predict(m, runner, &input, top)
                        .map_err(|e| Fail(1, format!("{name}: {e}")))?
                }
            },
            Engine::Shm(m) => {
                let f = m
                    .features_in(&mut shm_ws, &input)
                    .map_err(|e| Fail(1, format!("{name}: {e}")))?;
                let logits = m
                    .classify_features(f)
                    .map_err(|e| Fail(1, format!("{name}: {e}")))?;
                ood = ood_model.as_ref().and_then(|o| o.log_density(f).ok());
                cl::rank_logits(&logits, top)
            }
        };
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        if raw {
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            // uint8 outputs as integers; float32 (DEQUANTIZE) outputs as
            // shortest round-trip floats.
            let float_out = p.raw.len() == 4 * p.scores.len() && !p.raw.is_empty();
            let lines: Vec<String> = if float_out {
                p.scores.iter().map(|v| format!("{v}")).collect()
            } else {
                p.raw.iter().map(|v| format!("{v}")).collect()
            };
            for v in &lines {
                if let Err(e) = writeln!(out, "{v}") {
                    return if e.kind() == std::io::ErrorKind::BrokenPipe {
                        Ok(())
                    } else {
                        Err(Fail(1, format!("writing stdout: {e}")))
                    };
                }
            }
            let _ = out.flush();
            continue;
        }
        let entry = |label: &str| shoal_core::classify::lookup(&catalog, label);
        if json {
            let tops: Vec<String> = p
                .top
                .iter()
                .map(|&i| {
                    let l = label_of(i);
                    let cat = match entry(&l) {
                        Some(c) => format!(
                            "{{\"common\": {}, \"scientific\": {}, \"edible\": {}, \"conservation\": {}}}",
                            json_str(&c.common),
                            json_str(&c.scientific),
                            json_str(&c.edible),
                            json_str(&c.conservation)
                        ),
                        None => "null".to_string(),
                    };
                    format!(
                        "{{\"index\": {i}, \"label\": {}, \"score\": {}, \"catalog\": {cat}}}",
                        json_str(&l),
                        json_num(f64::from(p.scores[i]))
                    )
                })
                .collect();
            println!(
                "{{\"image\": {}, \"backend\": {}, \"latency_ms\": {}, \"margin\": {}, \"entropy\": {}, \"ood\": {}, \"top\": [{}]}}",
                json_str(&name),
                json_str(&backend_name),
                json_num(ms),
                json_num(f64::from(p.margin)),
                json_num(f64::from(p.entropy)),
                match ood {
                    Some(l) => format!(
                        "{{\"log_density\": {}, \"threshold\": {}, \"unusual\": {}}}",
                        json_num(l),
                        json_num(shoal_core::classify::builtin_ood::THRESHOLD),
                        l < shoal_core::classify::builtin_ood::THRESHOLD
                    ),
                    None => "null".to_string(),
                },
                tops.join(", ")
            );
        } else {
            println!("{name}:");
            for (rank, &i) in p.top.iter().enumerate() {
                let l = label_of(i);
                print!(
                    "  {}. {:<40} {:.3}",
                    rank + 1,
                    l.split(',').next().unwrap_or(""),
                    p.scores[i]
                );
                if let Some(c) = entry(&l) {
                    print!(
                        "   [{} ({}); eaten: {}; {}]",
                        c.common, c.scientific, c.edible, c.conservation
                    );
                }
                println!();
            }
            println!(
                "  uncertainty: margin {:.3}, entropy {:.3}; backend {backend_name}; {ms:.1} ms",
                p.margin, p.entropy
            );
            if let Some(l) = ood {
                let t = shoal_core::classify::builtin_ood::THRESHOLD;
                println!(
                    "  out-of-distribution: vMF log-density {l:.1} nats ({}; below {t:.0} reads as unlike the model's photos)",
                    if l < t { "UNUSUAL input" } else { "like a photo the model knows" }
                );
            }
        }
    }
    Ok(())
}

fn model_pack(flags: &[&str]) -> Result<(), Fail> {
    use shoal_core::model::{self, Kind, LayerSpec, Weights};
    use shoal_core::quant::{gear::GearMatrix, Bits, Format, ScaleType, Scheme};
    let a = cli::args::Args::parse(flags, &["--pointwise", "--classifier", "--rank"], &[])?;
    let bits = |v: &str| match v {
        "q8" => Ok(Bits::Q8),
        "q4" => Ok(Bits::Q4),
        other => Err(usage(format!("unknown format '{other}' (q8, q4)"))),
    };
    let pw_bits = bits(a.value("--pointwise").unwrap_or("q8"))?;
    let fc_bits = bits(a.value("--classifier").unwrap_or("q4"))?;
    let rank = a
        .get("--rank", 0usize)
        .map_err(|_| usage("--rank takes an integer"))?;
    let [dir, out] = a.positional[..] else {
        return Err(usage("model pack needs DIR OUT.shm"));
    };
    let manifest = std::fs::read_to_string(format!("{dir}/manifest.txt"))
        .map_err(|e| usage(format!("{dir}/manifest.txt: {e}")))?;
    let load = |n: &str, suffix: &str| -> Result<(Vec<f32>, Vec<usize>), Fail> {
        let path = format!("{dir}/{n}_{suffix}.npy");
        let bytes = read_capped(&path)?;
        let a = npy::read(&bytes).map_err(|e| usage(format!("{path}: {e}")))?;
        Ok((a.to_f32(), a.shape.clone()))
    };
    let mut layers = Vec::new();
    let mut classes = 0u32;
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let (Some(n), Some(kind), Some(_name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(usage(format!("manifest line '{line}'")));
        };
        let kv: std::collections::HashMap<&str, usize> = parts
            .filter_map(|p| p.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        let get = |k: &str| kv.get(k).copied().unwrap_or(0);
        let (w, shape) = load(n, "w")?;
        let (bias, _) = load(n, "b")?;
        let flags = u8::from(get("relu6") == 1 || kind == "conv" || kind == "dw")
            | if get("residual") == 1 { 2 } else { 0 }
            | if get("first") == 1 { 4 } else { 0 };
        let spec = match (kind, &shape[..]) {
            ("conv", &[o, i, k, _]) => {
                // (O, I, k, k) -> [o][ky][kx][i]
                let mut t = vec![0.0f32; w.len()];
                for oo in 0..o {
                    for ii in 0..i {
                        for y in 0..k {
                            for x in 0..k {
                                t[((oo * k + y) * k + x) * i + ii] =
                                    w[((oo * i + ii) * k + y) * k + x];
                            }
                        }
                    }
                }
                LayerSpec {
                    kind: Kind::Conv,
                    stride: get("s") as u8,
                    kernel: k as u8,
                    flags,
                    cin: i as u32,
                    cout: o as u32,
                    weights: Weights::Dense(t),
                    bias,
                }
            }
            ("dw", &[c, 1, k, _]) => {
                let mut t = vec![0.0f32; w.len()];
                for cc in 0..c {
                    for y in 0..k {
                        for x in 0..k {
                            t[(y * k + x) * c + cc] = w[(cc * k + y) * k + x];
                        }
                    }
                }
                LayerSpec {
                    kind: Kind::Depthwise,
                    stride: get("s") as u8,
                    kernel: k as u8,
                    flags,
                    cin: c as u32,
                    cout: c as u32,
                    weights: Weights::Dense(t),
                    bias,
                }
            }
            ("pw", &[o, i, 1, 1]) | ("fc", &[o, i]) => {
                let is_fc = kind == "fc";
                let format = Format::new(
                    if is_fc { fc_bits } else { pw_bits },
                    Scheme::Symmetric,
                    32,
                    ScaleType::F16,
                )
                .map_err(|e| Fail(1, e.to_string()))?;
                let g = GearMatrix::compress(
                    &w,
                    o,
                    i,
                    format,
                    if is_fc { rank.min(o.min(i)) } else { 0 },
                    0.0,
                )
                .map_err(|e| usage(format!("layer {n}: {e}")))?;
                if is_fc {
                    classes = o as u32;
                }
                LayerSpec {
                    kind: if is_fc {
                        Kind::Classifier
                    } else {
                        Kind::Pointwise
                    },
                    stride: 1,
                    kernel: 1,
                    flags,
                    cin: i as u32,
                    cout: o as u32,
                    weights: Weights::Packed(Box::new(g)),
                    bias,
                }
            }
            _ => {
                return Err(usage(format!(
                    "layer {n}: unexpected kind {kind} with shape {shape:?}"
                )))
            }
        };
        layers.push(spec);
    }
    let bytes = model::write(224, classes, 127.0, 128.0, &layers);
    shoal_core::model::ShmModel::parse(&bytes)
        .map_err(|e| Fail(1, format!("packed model does not validate: {e}")))?;
    write_atomic(out, &bytes)?;
    eprintln!("{out}: {} layers, {} bytes", layers.len(), bytes.len());
    Ok(())
}

/// Serves static files from `dir` on 127.0.0.1 (GET and HEAD only; no
/// path escapes the directory). Prints the URL, then serves until killed.
fn serve(flags: &[&str]) -> Result<(), Fail> {
    use std::io::Read;
    let a = cli::args::Args::parse(flags, &["--dir", "--port"], &[])?;
    if let Some(extra) = a.positional.first() {
        return Err(usage(format!("unknown argument '{extra}'")));
    }
    let dir = a.value("--dir").unwrap_or("web");
    let port = a
        .get("--port", 8000u16)
        .map_err(|_| usage("--port takes 0..65535"))?;
    let root = std::fs::canonicalize(dir).map_err(|e| usage(format!("{dir}: {e}")))?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| Fail(1, format!("127.0.0.1:{port}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Fail(1, e.to_string()))?;
    println!("serving {} at http://{addr}/", root.display());
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
        // Read the request head (up to 8 KiB, until the blank line).
        let mut buf = [0u8; 8192];
        let mut n = 0;
        while n < buf.len() {
            match stream.read(&mut buf[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
            if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let req = String::from_utf8_lossy(&buf[..n]);
        let mut parts = req.split_whitespace();
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let path = target.split(['?', '#']).next().unwrap_or("/");
        let rel = if path.ends_with('/') {
            format!("{path}index.html")
        } else {
            path.to_string()
        };
        let file = std::fs::canonicalize(root.join(rel.trim_start_matches('/')))
            .ok()
            .filter(|p| p.starts_with(&root) && p.is_file());
        let (status, body, ctype) = match (method, file) {
            // The built-in language identifier, for the page's langid panel.
            ("GET" | "HEAD", None) if path == "/models/lid.176.ftz" => (
                "200 OK",
                shoal_host_gpu::LID176.to_vec(),
                "application/octet-stream",
            ),
            // The built-in classifier and its labels, for the photo panel.
            ("GET" | "HEAD", None) if path == "/models/efficientnet-lite0.shm" => (
                "200 OK",
                shoal_host_gpu::classify::DEFAULT_MODEL.to_vec(),
                "application/octet-stream",
            ),
            ("GET" | "HEAD", None) if path == "/models/imagenet-labels.txt" => (
                "200 OK",
                shoal_host_gpu::classify::DEFAULT_LABELS.as_bytes().to_vec(),
                "text/plain; charset=utf-8",
            ),
            ("GET" | "HEAD", Some(p)) => {
                let ctype = match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
                    "html" => "text/html; charset=utf-8",
                    "js" | "mjs" => "text/javascript",
                    "css" => "text/css",
                    "wasm" => "application/wasm",
                    "json" => "application/json",
                    "png" => "image/png",
                    "jpg" | "jpeg" => "image/jpeg",
                    "txt" | "tsv" | "wgsl" => "text/plain; charset=utf-8",
                    _ => "application/octet-stream",
                };
                match std::fs::read(&p) {
                    Ok(b) => ("200 OK", b, ctype),
                    Err(_) => ("500 Internal Server Error", Vec::new(), "text/plain"),
                }
            }
            ("GET" | "HEAD", None) => ("404 Not Found", b"not found".to_vec(), "text/plain"),
            _ => ("405 Method Not Allowed", Vec::new(), "text/plain"),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        if method != "HEAD" {
            let _ = stream.write_all(&body);
        }
    }
    Ok(())
}
