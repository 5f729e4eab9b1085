//! `shoal embed build | lookup | info`.

use shoal_core::embed::{Codec, Method, Pool, Progress, Table};
use shoal_core::npy;

use super::args::Args;
use super::{read_capped, usage, write_atomic, Fail};

fn codec(name: &str) -> Result<Codec, Fail> {
    Ok(match name {
        "f32" => Codec::F32,
        "f16" => Codec::F16,
        "bf16" => Codec::Bf16,
        "int8" => Codec::Int8,
        "int4" => Codec::Int4,
        "int2" => Codec::Int2,
        other => {
            return Err(usage(format!(
                "codec '{other}' is not one of f32, f16, bf16, int8, int4, int2"
            )))
        }
    })
}

fn method(a: &Args, rows: usize, dim: usize) -> Result<Method, Fail> {
    let name = a
        .value("--method")
        .ok_or_else(|| usage("embed build needs --method"))?;
    Ok(match name {
        "pq" => Method::Pq {
            subspaces: a.get("--subspaces", dim.div_ceil(4))?,
            bits: a.get("--bits", 8)?,
        },
        "lowrank" => Method::LowRank {
            rank: a.get("--rank", (dim / 4).max(1))?,
            factors: codec(a.value("--factors").unwrap_or("int8"))?,
        },
        "hash" => Method::Hashed {
            buckets: a.get("--buckets", (rows / 8).max(1))?,
            codec: codec(a.value("--codec").unwrap_or("f16"))?,
        },
        "qr" => Method::QuotientRemainder {
            modulus: a.get("--modulus", (rows as f64).sqrt().ceil() as usize)?,
            codec: codec(a.value("--codec").unwrap_or("f16"))?,
        },
        other => codec(other)
            .map_err(|_| {
                usage(format!(
                    "--method takes f32, f16, bf16, int8, int4, int2, pq, lowrank, hash or qr (got {other})"
                ))
            })?
            .into(),
    })
}

/// `shoal embed build --method M [options] TABLE.npy OUT.she`
pub fn build(flags: &[&str]) -> Result<(), Fail> {
    let a = Args::parse(
        flags,
        &[
            "--method",
            "--subspaces",
            "--bits",
            "--rank",
            "--factors",
            "--buckets",
            "--modulus",
            "--codec",
            "--seed",
        ],
        &[],
    )?;
    let [input, output] = a.positional[..] else {
        return Err(usage("embed build needs TABLE.npy OUT.she"));
    };
    let (e, rows, dim) = crate::matrix_from_npy(input)?;
    let m = method(&a, rows, dim)?;
    let seed = a.get("--seed", 0u64)?;
    let t = Table::encode_with(&e, rows, dim, m, seed, &mut |p: Progress| {
        eprint!("\r{}: {}/{}", p.stage, p.done, p.total);
        if p.done == p.total {
            eprintln!();
        }
    })
    .map_err(|e| usage(format!("{input}: {e}")))?;
    let bytes = t.to_bytes();
    write_atomic(output, &bytes)?;
    eprintln!(
        "{output}: {rows} x {dim}, {m}, {} bytes, {:.2}x smaller than f32",
        bytes.len(),
        t.compression()
    );
    Ok(())
}

/// Ids from a `.npy` integer array or a text file of whitespace-separated integers.
fn read_ids(path: &str) -> Result<Vec<u64>, Fail> {
    let bytes = read_capped(path)?;
    if bytes.starts_with(b"\x93NUMPY") {
        let arr = npy::read(&bytes).map_err(|e| usage(format!("{path}: {e}")))?;
        return arr.to_ids().map_err(|e| usage(format!("{path}: {e}")));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| usage(format!("{path}: not UTF-8")))?;
    text.split_whitespace()
        .map(|s| {
            s.parse()
                .map_err(|_| usage(format!("{path}: '{s}' is not an id")))
        })
        .collect()
}

fn open(file: &str, bytes: &[u8]) -> Result<Table<'static>, Fail> {
    Table::from_bytes(bytes)
        .map(Table::into_owned)
        .map_err(|e| usage(format!("{file}: {e}")))
}

/// `shoal embed lookup FILE.she (--ids FILE | ID...) [--bag-offsets FILE
/// [--weights FILE] --mode sum|mean] [--out ROWS.npy]`
pub fn lookup(flags: &[&str]) -> Result<(), Fail> {
    let a = Args::parse(
        flags,
        &["--ids", "--bag-offsets", "--weights", "--mode", "--out"],
        &[],
    )?;
    let Some((&file, rest)) = a.positional.split_first() else {
        return Err(usage("embed lookup needs FILE.she"));
    };
    let bytes = read_capped(file)?;
    let t = open(file, &bytes)?;
    let ids: Vec<u64> = match a.value("--ids") {
        Some(p) => read_ids(p)?,
        None => rest
            .iter()
            .map(|s| s.parse().map_err(|_| usage(format!("'{s}' is not an id"))))
            .collect::<Result<_, _>>()?,
    };
    let (out, n) = match a.value("--bag-offsets") {
        None => {
            let mut out = vec![0.0f32; ids.len() * t.dim()];
            t.lookup_batch(&ids, &mut out)
                .map_err(|e| usage(e.to_string()))?;
            (out, ids.len())
        }
        Some(p) => {
            let offsets: Vec<usize> = read_ids(p)?.into_iter().map(|o| o as usize).collect();
            let weights = match a.value("--weights") {
                Some(w) => Some(crate::matrix_from_npy(w)?.0),
                None => None,
            };
            let mode = match a.value("--mode").unwrap_or("sum") {
                "sum" => Pool::Sum,
                "mean" => Pool::Mean,
                other => return Err(usage(format!("--mode takes sum or mean (got {other})"))),
            };
            let mut out = vec![0.0f32; offsets.len() * t.dim()];
            t.bag(&ids, &offsets, weights.as_deref(), mode, &mut out)
                .map_err(|e| usage(e.to_string()))?;
            (out, offsets.len())
        }
    };
    match a.value("--out") {
        Some(path) => {
            let npy = npy::write_f32(&[n, t.dim()], &out).map_err(|e| usage(e.to_string()))?;
            write_atomic(path, &npy)?;
        }
        None => {
            for row in out.chunks_exact(t.dim()) {
                let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                println!("{}", line.join(" "));
            }
        }
    }
    Ok(())
}

/// `shoal embed info FILE.she [--original TABLE.npy]`
pub fn info(flags: &[&str]) -> Result<(), Fail> {
    let a = Args::parse(flags, &["--original"], &[])?;
    let [file] = a.positional[..] else {
        return Err(usage("embed info needs FILE.she"));
    };
    let bytes = read_capped(file)?;
    let t = open(file, &bytes)?;
    println!("file: {file}");
    println!("method: {}", t.method());
    println!("rows: {}", t.rows());
    println!("dim: {}", t.dim());
    println!("bytes: {} ({} of data)", bytes.len(), t.stored_bytes());
    println!("bytes per row: {:.2}", t.row_bytes());
    println!("ratio: {:.2}x smaller than f32", t.compression());
    if let Some(orig) = a.value("--original") {
        let (e, rows, dim) = crate::matrix_from_npy(orig)?;
        if (rows, dim) != (t.rows(), t.dim()) {
            return Err(usage(format!(
                "{orig}: {rows} x {dim} does not match the table's {} x {}",
                t.rows(),
                t.dim()
            )));
        }
        let (rel, worst) = crate::reconstruction_error(&e, dim, |i, row| {
            t.lookup(i as u64, row).map_err(|e| usage(e.to_string()))
        })?;
        println!("relative Frobenius error: {rel:.6}");
        println!("max abs error: {worst:.6}");
    }
    Ok(())
}
