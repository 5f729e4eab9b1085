//! `shoal`: the command-line front end. Run `shoal help` for usage.

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
  shoal help | --help           this text
  shoal --version

Values are printed in the shortest form that reads back to the same number
(`inf`, `-inf`, `NaN` for special values). The GPU path (--backend gpu) runs
the WGSL kernels in f32; without --f32 the CPU computes in f64.
";

/// A failure with the exit code it maps to (2: usage or input, 1: runtime).
struct Fail(u8, String);

fn usage(msg: impl Into<String>) -> Fail {
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
    let mut f32_mode = false;
    let mut backend_name = "cpu";
    let mut it = flags.iter();
    while let Some(&f) = it.next() {
        match f {
            "--f32" => f32_mode = true,
            "--backend" => {
                backend_name = it.next().ok_or_else(|| usage("--backend needs a value"))?;
            }
            other => return Err(usage(format!("unknown flag '{other}'"))),
        }
    }
    let backend = Backend::from_name(backend_name).map_err(usage)?;
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

fn vmf_fit(path: &str) -> Result<(), Fail> {
    let meta = std::fs::metadata(path).map_err(|e| usage(format!("{path}: {e}")))?;
    if meta.len() > MAX_NPY_BYTES {
        return Err(usage(format!(
            "{path}: {} bytes exceeds the 4 GiB cap",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| usage(format!("{path}: {e}")))?;
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
