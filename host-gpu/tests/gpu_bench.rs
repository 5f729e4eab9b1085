//! The pieces `shoal bench` measures with: the streaming-copy kernel behind
//! the copy roofline moves every word, and the bench command runs end to end
//! on small sizes (its figures are not checked: they are measurements).
//! Skips the GPU part without an adapter unless `SHOAL_REQUIRE_GPU=1`.

mod common;

use common::gpu;
use shoal_host_gpu::gpu::GpuError;

#[test]
fn stream_copy_moves_every_word() {
    let Some(g) = gpu() else { return };
    let mut rng = shoal_core::rng::Rng::new(41);
    // One vec4; two workgroups, the second ragged; 274 workgroups. (The
    // grid-stride step needs over 65,535 workgroups' worth, 268 MB: not
    // at test sizes.)
    for n in [4usize, 4 * 257, 4 * 70_001] {
        let src: Vec<u32> = (0..n).map(|_| rng.next_u64() as u32).collect();
        assert_eq!(g.stream_copy(&src).unwrap(), src, "{n} words");
    }
    for bad in [&[][..], &[1, 2, 3][..]] {
        assert!(matches!(g.stream_copy(bad), Err(GpuError::Unsupported(_))));
    }
    let (kernel, command) = g.bench_copy(1 << 20).unwrap();
    assert!(kernel > 0.0 && command > 0.0);
}

#[test]
fn bench_runs_on_small_sizes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args([
            "bench",
            "--n",
            "512",
            "--gpu-n",
            "4096",
            "--gemv",
            "64x160",
            "--embed-rows",
            "1000",
        ])
        .output()
        .expect("shoal runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in ["log I f64", "embedding bags", "GEMV 64 x 160", "Q4 cpu"] {
        assert!(text.contains(line), "missing '{line}' in:\n{text}");
    }
    for args in [["--gemv", "64by160"], ["--only", "everything"]] {
        let bad = std::process::Command::new(env!("CARGO_BIN_EXE_shoal"))
            .arg("bench")
            .args(args)
            .output()
            .expect("shoal runs");
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
    }
}
