//! The WGSL pooled lookups (int8 row-wise and 8-bit PQ, with and without row
//! norms) against the CPU core, whose scalar kernels are the specification:
//! bit-identical on llvmpipe, within 2^-20 of Σ|terms| on any adapter.
//! Skips without an adapter unless `SHOAL_REQUIRE_GPU=1`.

mod common;

use common::gpu;
use shoal_core::embed::{Method, Pool, Table};
use shoal_core::fasttext::FastText;
use shoal_core::rng::Rng;
use shoal_host_gpu::gpu::GpuError;

fn check(g: &shoal_host_gpu::gpu::Gpu, t: &Table, rng: &mut Rng) -> usize {
    check_with(g, t, rng, g.adapter_name().contains("llvmpipe"))
}

/// As [`check`]; `exact` demands bit-identical results.
fn check_with(g: &shoal_host_gpu::gpu::Gpu, t: &Table, rng: &mut Rng, exact: bool) -> usize {
    let ids: Vec<u64> = (0..500).map(|_| rng.next_u64() % t.rows() as u64).collect();
    let mut offsets = vec![0usize];
    while *offsets.last().unwrap() < ids.len() {
        let next = *offsets.last().unwrap() + (rng.next_u64() % 12) as usize;
        offsets.push(next.min(ids.len()));
    }
    let mut identical = 0;
    for mode in [Pool::Sum, Pool::Mean] {
        let got = g.embed_bag(t, &ids, &offsets, mode).unwrap();
        let mut want = vec![0.0f32; offsets.len() * t.dim()];
        t.bag(&ids, &offsets, None, mode, &mut want).unwrap();
        // Σ|terms| per output, from the decoded rows.
        let mut row = vec![0.0f32; t.dim()];
        for (k, (gb, wb)) in got.chunks(t.dim()).zip(want.chunks(t.dim())).enumerate() {
            let end = offsets.get(k + 1).copied().unwrap_or(ids.len());
            let mut mag = vec![0.0f64; t.dim()];
            for &id in &ids[offsets[k]..end] {
                t.lookup(id, &mut row).unwrap();
                mag.iter_mut()
                    .zip(&row)
                    .for_each(|(m, v)| *m += f64::from(v.abs()));
            }
            for j in 0..t.dim() {
                if gb[j].to_bits() == wb[j].to_bits() {
                    identical += 1;
                    continue;
                }
                assert!(
                    !exact,
                    "{:?} bag {k} col {j}: gpu {} cpu {}",
                    t.method(),
                    gb[j],
                    wb[j]
                );
                let e = (f64::from(gb[j]) - f64::from(wb[j])).abs();
                assert!(e <= 2f64.powi(-20) * mag[j] + 1e-30, "bag {k} col {j}");
            }
        }
    }
    identical
}

/// Batched lookups (bags of one) equal the CPU's rows.
#[test]
fn batched_lookups_equal_the_cpu_rows() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(31);
    let (rows, dim) = (700, 20);
    let e: Vec<f32> = (0..rows * dim).map(|_| rng.normal() as f32).collect();
    let t = Table::encode(&e, rows, dim, Method::Int8).unwrap();
    let ids: Vec<u64> = (0..300).map(|_| rng.next_u64() % rows as u64).collect();
    let got = g.embed_lookup(&t, &ids).unwrap();
    let mut want = vec![0.0f32; ids.len() * dim];
    t.lookup_batch(&ids, &mut want).unwrap();
    let exact = g.adapter_name().contains("llvmpipe");
    for (a, b) in got.iter().zip(&want) {
        assert!(if exact {
            a.to_bits() == b.to_bits()
        } else {
            (a - b).abs() <= 1e-6 * b.abs().max(1.0)
        });
    }
    assert!(g.embed_lookup(&t, &[rows as u64]).is_err());
}

/// A table larger than the storage binding (capped here at 8 KiB) is split
/// into row ranges, one dispatch each; the passes' partial sums are added,
/// so results stay within the float bound (not bit-identical).
#[test]
fn tables_larger_than_a_binding_are_split() {
    let Some(mut g) = gpu() else { return };
    g.limit_storage_binding(8 << 10);
    let mut rng = Rng::new(29);
    let (rows, dim) = (3000, 37);
    let e: Vec<f32> = (0..rows * dim).map(|_| rng.normal() as f32).collect();
    for m in [
        Method::Int8,
        Method::Pq {
            subspaces: 10,
            bits: 8,
        },
    ] {
        let t = Table::encode(&e, rows, dim, m).unwrap();
        let n = check_with(&g, &t, &mut rng, false);
        println!("{m}: split table, {n} outputs bit-identical, the rest within the bound");
    }
    let e: Vec<f32> = (0..rows * 64).map(|_| rng.normal() as f32).collect();
    let t = Table::encode(&e, rows, 64, Method::Int8).unwrap();
    let n = check_with(&g, &t, &mut rng, false);
    println!("int8, 64 columns: split table, {n} outputs bit-identical, the rest within the bound");
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/lid.176.ftz")).unwrap();
    let ft = FastText::from_bytes(&bytes).unwrap();
    let n = check_with(&g, ft.input(), &mut rng, false);
    println!("lid.176 (PQ with norms), split: {n} outputs bit-identical");
}

#[test]
fn wgsl_bags_match_the_cpu() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(23);
    let (rows, dim) = (3000, 37);
    let e: Vec<f32> = (0..rows * dim).map(|_| rng.normal() as f32).collect();
    for m in [
        Method::Int8,
        Method::Pq {
            subspaces: 10,
            bits: 8,
        },
        Method::Pq {
            subspaces: 37,
            bits: 8,
        },
    ] {
        let t = Table::encode(&e, rows, dim, m).unwrap();
        let n = check(&g, &t, &mut rng);
        println!("{m}: {n} outputs bit-identical to the CPU");
    }
    // int8 rows a multiple of 4 wide take the word-wide kernel (16 and 64
    // columns: one word per thread, and all 16 threads busy).
    for dim in [16, 64] {
        let e: Vec<f32> = (0..rows * dim).map(|_| rng.normal() as f32).collect();
        let t = Table::encode(&e, rows, dim, Method::Int8).unwrap();
        let n = check(&g, &t, &mut rng);
        println!("int8, {dim} columns: {n} outputs bit-identical to the CPU");
    }
    // The real PQ table with row norms: fastText lid.176's input matrix.
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/lid.176.ftz")).unwrap();
    let ft = FastText::from_bytes(&bytes).unwrap();
    let n = check(&g, ft.input(), &mut rng);
    println!("lid.176 input (PQ with norms): {n} outputs bit-identical to the CPU");
    // Errors: out-of-range ids, bad offsets, unsupported methods.
    let t = Table::encode(&e, rows, dim, Method::Int8).unwrap();
    assert!(matches!(
        g.embed_bag(&t, &[1, 3000], &[0], Pool::Sum),
        Err(GpuError::Embed(_))
    ));
    assert!(matches!(
        g.embed_bag(&t, &[1, 2], &[1, 0], Pool::Sum),
        Err(GpuError::Embed(_))
    ));
    let f16 = Table::encode(&e, rows, dim, Method::F16).unwrap();
    assert!(matches!(
        g.embed_bag(&f16, &[1], &[0], Pool::Sum),
        Err(GpuError::Unsupported(_))
    ));
}
