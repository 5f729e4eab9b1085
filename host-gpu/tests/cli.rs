//! The `shoal` binary end to end.

use std::io::Write;
use std::process::{Command, Stdio};

fn shoal(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(args)
        .env("SHOAL_REQUIRE_GPU", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shoal runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("shoal exits");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bessel_prints_shortest_round_trip_values() {
    let (code, out, _) = shoal(&["bessel", "log-i"], "0,1\n5000,1000\n\n1,0\n-1,2\n");
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4);
    let v: f64 = lines[0].parse().unwrap();
    assert_eq!(v, shoal_core::bessel::log_bessel_i(0.0, 1.0));
    assert_eq!(
        lines[1].parse::<f64>().unwrap(),
        shoal_core::bessel::log_bessel_i(5000.0, 1000.0)
    );
    assert_eq!(lines[2], "-inf");
    assert_eq!(lines[3], "NaN");
    let (code, out, _) = shoal(&["bessel", "log-k", "--f32"], "2.5,3\n");
    assert_eq!(code, 0);
    assert_eq!(
        out.trim().parse::<f32>().unwrap(),
        shoal_core::bessel::log_bessel_k_f32(2.5, 3.0)
    );
}

#[test]
fn bessel_rejects_bad_lines_with_the_line_number() {
    let (code, _, err) = shoal(&["bessel", "log-k"], "1,2\n1;2\n");
    assert_eq!(code, 2);
    assert!(err.contains("line 2"), "{err}");
    let (code, _, err) = shoal(&["bessel", "log-j"], "");
    assert_eq!(code, 2);
    assert!(err.contains("log-j"));
}

#[test]
fn vmf_fit_reads_npy_and_prints_json() {
    let dir = std::env::temp_dir().join(format!("shoal-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = 64;
    let n = 500;
    let mut mu = vec![0.0; p];
    mu[5] = 1.0;
    let mut rng = shoal_core::rng::Rng::new(1);
    let mut data = vec![0.0f32; n * p];
    let mut row = vec![0.0; p];
    for r in data.chunks_exact_mut(p) {
        shoal_core::vmf::sample(&mut rng, &mu, 50.0, &mut row).unwrap();
        for (d, s) in r.iter_mut().zip(&row) {
            *d = *s as f32;
        }
    }
    let file = dir.join("s.npy");
    std::fs::write(&file, shoal_core::npy::write_f32(&[n, p], &data).unwrap()).unwrap();
    let (code, out, err) = shoal(&["vmf", "fit", file.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    for key in [
        "\"kappa\"",
        "\"mean_resultant_length\"",
        "\"log_normalizer\"",
        "\"iterations\"",
    ] {
        assert!(out.contains(key), "{out}");
    }
    let kappa: f64 = out
        .split("\"kappa\": ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    assert!((kappa / 50.0 - 1.0).abs() < 0.1, "kappa {kappa}");
    // Malformed file: clear error, exit 2.
    std::fs::write(&file, b"\x93NUMPY\x01\x00\xff\xff{").unwrap();
    let (code, _, err) = shoal(&["vmf", "fit", file.to_str().unwrap()], "");
    assert_eq!(code, 2);
    assert!(err.contains("npy"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn quant_compress_matvec_info() {
    let dir = std::env::temp_dir().join(format!("shoal-quant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (rows, cols) = (40, 70);
    let mut rng = shoal_core::rng::Rng::new(4);
    let w: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
    let x: Vec<f32> = (0..2 * cols).map(|_| rng.normal() as f32).collect();
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    std::fs::write(
        p("w.npy"),
        shoal_core::npy::write_f32(&[rows, cols], &w).unwrap(),
    )
    .unwrap();
    std::fs::write(
        p("x.npy"),
        shoal_core::npy::write_f32(&[2, cols], &x).unwrap(),
    )
    .unwrap();
    let (code, _, err) = shoal(
        &[
            "quant",
            "compress",
            "--format",
            "q8",
            "--group",
            "32",
            &p("w.npy"),
            &p("w.shq"),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = shoal(
        &["quant", "info", &p("w.shq"), "--original", &p("w.npy")],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let rel: f64 = out
        .split("\"relative_frobenius_error\": ")
        .nth(1)
        .and_then(|s| s.trim_end_matches(['}', '\n']).parse().ok())
        .unwrap();
    assert!(rel > 1e-4 && rel < 0.01, "{out}");
    let (code, _, err) = shoal(
        &["quant", "matvec", &p("w.shq"), &p("x.npy"), &p("y.npy")],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let yb = std::fs::read(p("y.npy")).unwrap();
    let y = shoal_core::npy::read(&yb).unwrap();
    assert_eq!(y.shape, vec![2, rows]);
    let q =
        shoal_core::quant::QuantMatrix::from_bytes(&std::fs::read(p("w.shq")).unwrap()).unwrap();
    let mut want = vec![0.0f32; 2 * rows];
    q.gemm(&x, 2, &mut want).unwrap();
    assert_eq!(y.to_f32(), want);
    // --int8: the integer kernel, row by row.
    let (code, _, err) = shoal(
        &[
            "quant",
            "matvec",
            "--int8",
            &p("w.shq"),
            &p("x.npy"),
            &p("y8.npy"),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let y8 = shoal_core::npy::read(&std::fs::read(p("y8.npy")).unwrap())
        .unwrap()
        .to_f32();
    for (xr, yr) in x.chunks_exact(cols).zip(want.chunks_exact_mut(rows)) {
        q.gemv_int8(xr, yr).unwrap();
    }
    assert_eq!(y8, want);
    // GEAR: --rank and --sparse, read back by info and matvec.
    let (code, _, err) = shoal(
        &[
            "quant",
            "compress",
            "--format",
            "q4",
            "--rank",
            "2",
            "--sparse",
            "0.05",
            &p("w.npy"),
            &p("g.shq"),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = shoal(
        &["quant", "info", &p("g.shq"), "--original", &p("w.npy")],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"rank\": 2") && out.contains("\"outliers\": 80"),
        "{out}"
    );
    let (code, _, err) = shoal(
        &["quant", "matvec", &p("g.shq"), &p("x.npy"), &p("yg.npy")],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = shoal(
        &[
            "quant",
            "compress",
            "--format",
            "q4",
            "--sparse",
            "2",
            &p("w.npy"),
            &p("h.shq"),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("fraction"), "{err}");
    // Bad input: clear error, exit 2, and no output file left behind.
    std::fs::write(p("bad.npy"), b"\x93NUMPY\x01\x00").unwrap();
    let (code, _, err) = shoal(
        &[
            "quant",
            "compress",
            "--format",
            "q4",
            &p("bad.npy"),
            &p("bad.shq"),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("npy"), "{err}");
    assert!(!dir.join("bad.shq").exists());
    let (code, _, err) = shoal(
        &[
            "quant",
            "compress",
            "--format",
            "q4",
            "--group",
            "48",
            &p("w.npy"),
            &p("o.shq"),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("48"), "{err}");
    std::fs::write(p("trunc.shq"), &std::fs::read(p("w.shq")).unwrap()[..30]).unwrap();
    let (code, _, err) = shoal(&["quant", "info", &p("trunc.shq")], "");
    assert_eq!(code, 2);
    assert!(err.contains("truncated"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn classify_raw_output_is_bit_exact_and_errors_are_clean() {
    let Some(shared) = shoal_tests::shared_dir() else {
        println!("SKIPPED: ../shared/models/coral not present");
        return;
    };
    let coral = shared.join("models/coral");
    let model = coral.join("mobilenet_v1_0.25_128_quant.tflite");
    let m = model.to_str().unwrap();
    let refdir = shoal_tests::workspace_root().join("tests/ref/tflite");
    let input = refdir.join("input_128_grace_hopper.npy");
    let (code, out, err) = shoal(
        &[
            "classify",
            "--model",
            m,
            "--raw",
            "--input-raw",
            input.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let want = shoal_core::npy::read(
        &std::fs::read(refdir.join("mobilenet_v1_0.25_128_quant__grace_hopper.probs.npy")).unwrap(),
    )
    .unwrap()
    .data
    .to_vec();
    let got: Vec<u8> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(got, want);
    // The same through the GPU path (any adapter, llvmpipe included), when
    // one exists; without one `--backend gpu` is a clear error.
    let (code, out, err) = shoal(
        &[
            "classify",
            "--model",
            m,
            "--backend",
            "gpu",
            "--raw",
            "--input-raw",
            input.to_str().unwrap(),
        ],
        "",
    );
    if code == 0 {
        let got: Vec<u8> = out.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(got, want, "GPU raw output");
        let (code, out, err) = shoal(
            &[
                "classify",
                "--model",
                m,
                "--backend",
                "gpu",
                "--json",
                coral.join("cat.bmp").to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("\"backend\": \"gpu (") && out.contains("cat"),
            "{out}"
        );
    } else {
        assert!(err.contains("--backend gpu: no GPU adapter"), "{err}");
        assert!(
            std::env::var("SHOAL_REQUIRE_GPU").as_deref() != Ok("1"),
            "{err}"
        );
    }
    // A real photo, JSON out, the label file found next to the model.
    let (code, out, err) = shoal(
        &[
            "classify",
            "--model",
            m,
            "--json",
            "--top",
            "3",
            coral.join("cat.bmp").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"backend\": \"cpu\"") && out.contains("cat"),
        "{out}"
    );
    // The built-in model, no --model.
    let (code, out, err) = shoal(
        &[
            "classify",
            "--top",
            "3",
            coral.join("cat.bmp").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Egyptian cat"), "{out}");
    assert!(out.contains("like a photo the model knows"), "{out}");
    // The vMF out-of-distribution score flags uniform noise.
    let dir = std::env::temp_dir().join(format!("shoal-ood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = shoal_core::rng::Rng::new(5);
    let noise: Vec<u8> = (0..224 * 224 * 3).map(|_| rng.next_u64() as u8).collect();
    let npy_path = dir.join("noise.raw");
    std::fs::write(&npy_path, &noise).unwrap();
    let (code, out, err) = shoal(
        &[
            "classify",
            "--json",
            "--input-raw",
            npy_path.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"unusual\": true"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
    // Errors: corrupt image, corrupt model, unknown backend, --raw on a float model.
    let (code, _, err) = shoal(
        &["classify", "--raw", coral.join("cat.bmp").to_str().unwrap()],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("--raw"), "{err}");
    let dir = std::env::temp_dir().join(format!("shoal-classify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    let (code, _, err) = shoal(&["classify", "--model", m, bad.to_str().unwrap()], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.jpg"), "{err}");
    let badm = dir.join("bad.tflite");
    std::fs::write(&badm, &std::fs::read(&model).unwrap()[..5000]).unwrap();
    let (code, _, err) = shoal(
        &[
            "classify",
            "--model",
            badm.to_str().unwrap(),
            coral.join("cat.bmp").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("tflite"), "{err}");
    let (code, _, _) = shoal(
        &[
            "classify",
            "--model",
            m,
            "--backend",
            "tpu",
            coral.join("cat.bmp").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 2);
    std::fs::remove_dir_all(&dir).ok();
}

/// The bundled sea-life photos (web/images, GPL-2+ from Debian's Tux Paint
/// stamps): transparent backgrounds composited over white, the built-in
/// model finds the spiny lobster first and the lionfish in its top 3, each
/// with its catalogue entry.
#[test]
fn classify_bundled_sea_life_photos() {
    let images = shoal_tests::workspace_root().join("web/images");
    let (code, out, err) = shoal(
        &[
            "classify",
            "--json",
            "--top",
            "3",
            images.join("lobster.png").to_str().unwrap(),
            images.join("lionfish.png").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    // One JSON line per image; the first entry of "top" is top-1.
    let first = |l: &str| l.split("\"top\": [").nth(1).unwrap_or("").to_string();
    let lobster = first(lines[0]);
    assert!(
        lobster.starts_with("{\"index\": 123, \"label\": \"spiny lobster")
            && lobster.contains("\"edible\": \"yes\""),
        "{out}"
    );
    assert!(
        first(lines[1]).contains("\"index\": 396, \"label\": \"lionfish\""),
        "{out}"
    );
}

#[test]
fn catalogue_parses_and_covers_the_imagenet_fish() {
    use shoal_host_gpu::classify::{parse_catalog, SEA_LIFE_CATALOG};
    let c = parse_catalog(SEA_LIFE_CATALOG).unwrap();
    for fish in [
        "tench",
        "goldfish",
        "great white shark",
        "tiger shark",
        "hammerhead",
        "electric ray",
        "stingray",
        "barracouta",
        "eel",
        "coho",
        "rock beauty",
        "anemone fish",
        "sturgeon",
        "gar",
        "lionfish",
        "puffer",
        "American lobster",
    ] {
        assert!(c.iter().any(|e| e.label == fish), "{fish} missing");
    }
    assert!(c
        .iter()
        .all(|e| ["yes", "no", "caution"].contains(&e.edible.as_str())));
    assert!(parse_catalog("a\tb\tc\n").is_err());
}

#[test]
fn serve_gives_files_and_refuses_escapes() {
    use std::io::{BufRead, BufReader, Read};
    let dir = std::env::temp_dir().join(format!("shoal-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>shoal</h1>").unwrap();
    /// Kills the server even when an assertion fails.
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
    let mut child = Server(
        Command::new(env!("CARGO_BIN_EXE_shoal"))
            .args(["serve", "--port", "0", "--dir", dir.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let ok = get("/");
    assert!(
        ok.starts_with("HTTP/1.1 200") && ok.contains("<h1>shoal</h1>"),
        "{ok}"
    );
    assert!(get("/../../etc/passwd").starts_with("HTTP/1.1 404"));
    assert!(get("/missing.js").starts_with("HTTP/1.1 404"));
    drop(child);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn embed_build_and_lookup() {
    let dir = std::env::temp_dir().join(format!("shoal-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (rows, dim) = (30, 8);
    let e: Vec<f32> = (0..rows * dim)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    std::fs::write(
        p("e.npy"),
        shoal_core::npy::write_f32(&[rows, dim], &e).unwrap(),
    )
    .unwrap();
    let (code, _, err) = shoal(
        &[
            "embed",
            "build",
            "--method",
            "int8",
            &p("e.npy"),
            &p("e.she"),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = shoal(&["embed", "lookup", &p("e.she"), "3", "29"], "");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Vec<f32>> = out
        .lines()
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(lines.len(), 2);
    for (a, b) in lines[0].iter().zip(&e[3 * dim..4 * dim]) {
        assert!((a - b).abs() < 0.01, "{a} vs {b}");
    }
    let (code, _, err) = shoal(&["embed", "lookup", &p("e.she"), "30"], "");
    assert_eq!(code, 2);
    assert!(err.contains("id 30"), "{err}");
    let (code, _, err) = shoal(
        &[
            "embed",
            "build",
            "--method",
            "int3",
            &p("e.npy"),
            &p("x.she"),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("int3"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn embed_methods_info_ids_files_and_bags() {
    let dir = std::env::temp_dir().join(format!("shoal-embed2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let (rows, dim) = (300, 16);
    let mut rng = shoal_core::rng::Rng::new(8);
    let e: Vec<f32> = (0..rows * dim).map(|_| rng.normal() as f32).collect();
    std::fs::write(
        p("e.npy"),
        shoal_core::npy::write_f32(&[rows, dim], &e).unwrap(),
    )
    .unwrap();
    for (m, extra) in [
        ("pq", vec!["--subspaces", "4", "--bits", "8"]),
        ("lowrank", vec!["--rank", "4"]),
        ("hash", vec!["--buckets", "64"]),
        ("qr", vec![]),
        ("int4", vec![]),
    ] {
        let mut args = vec!["embed", "build", "--method", m];
        args.extend(extra);
        let (a, b) = (p("e.npy"), p(&format!("{m}.she")));
        args.extend([a.as_str(), b.as_str()]);
        let (code, _, err) = shoal(&args, "");
        assert_eq!(code, 0, "{m}: {err}");
        let (code, out, err) = shoal(&["embed", "info", &b, "--original", &a], "");
        assert_eq!(code, 0, "{m}: {err}");
        assert!(
            out.contains("ratio:") && out.contains("relative Frobenius error"),
            "{out}"
        );
    }
    // Ids from an int64 .npy, rows out as .npy, equal to the printed lookup.
    let ids: Vec<u8> = {
        let v: [i64; 3] = [5, 0, 299];
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        let dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
        let pad = 64 - (10 + dict.len() + 1) % 64;
        b.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b.extend(std::iter::repeat_n(b' ', pad));
        b.push(b'\n');
        v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
        b
    };
    std::fs::write(p("ids.npy"), ids).unwrap();
    let she = p("pq.she");
    let (code, _, err) = shoal(
        &[
            "embed",
            "lookup",
            &she,
            "--ids",
            &p("ids.npy"),
            "--out",
            &p("rows.npy"),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let rows_npy = std::fs::read(p("rows.npy")).unwrap();
    let got = shoal_core::npy::read(&rows_npy).unwrap();
    assert_eq!(got.shape, vec![3, dim]);
    let (_, printed, _) = shoal(&["embed", "lookup", &she, "5", "0", "299"], "");
    let printed: Vec<f32> = printed
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(got.to_f32(), printed);
    // A bag (mean of ids 5 and 0, then 299 alone) from a text offsets file.
    std::fs::write(p("off.txt"), "0 2\n").unwrap();
    let (code, out, err) = shoal(
        &[
            "embed",
            "lookup",
            &she,
            "--ids",
            &p("ids.npy"),
            "--bag-offsets",
            &p("off.txt"),
            "--mode",
            "mean",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let bags: Vec<f32> = out.split_whitespace().map(|v| v.parse().unwrap()).collect();
    for j in 0..dim {
        let want = (printed[j] + printed[dim + j]) * 0.5;
        assert!((bags[j] - want).abs() < 1e-6, "{} vs {want}", bags[j]);
        assert_eq!(bags[dim + j], printed[2 * dim + j]);
    }
    // Out-of-range id inside the ids file: typed error, no output file written.
    std::fs::write(p("bad.txt"), "1 300").unwrap();
    let (code, _, err) = shoal(
        &[
            "embed",
            "lookup",
            &she,
            "--ids",
            &p("bad.txt"),
            "--out",
            &p("none.npy"),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("id 300"), "{err}");
    assert!(!dir.join("none.npy").exists());
    let (code, _, err) = shoal(
        &[
            "embed",
            "build",
            "--method",
            "pq",
            "--subspaces",
            "17",
            &p("e.npy"),
            &p("x.she"),
        ],
        "",
    );
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn langid_built_in_and_from_stdin() {
    let (code, out, err) = shoal(
        &[
            "langid", "--top", "2", "Der", "schnelle", "braune", "Fuchs", "springt",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    // fastText gives de 0.9470201134681702, en 0.022168276831507683 (tests/ref/langid).
    assert_eq!(out.trim(), "de 0.9470  en 0.0222");
    let (code, out, err) = shoal(
        &["langid", "--json"],
        "Bonjour tout le monde\nhello world this is english\n",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("\"label\":\"fr\""), "{out}");
    assert!(lines[1].contains("\"label\":\"en\""), "{out}");
    let (code, _, err) = shoal(&["langid", "--model", "/nonexistent.ftz", "x"], "");
    assert_eq!(code, 2);
    assert!(err.contains("nonexistent"), "{err}");
}

#[test]
fn classify_runs_float32_models_with_the_input_normalisation() {
    use shoal_core::tflite::Model;
    let dir = std::env::temp_dir().join(format!("shoal-float-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = shoal_tests::flatbuf::tflite::tiny4();
    let model_path = dir.join("tiny4.tflite");
    std::fs::write(&model_path, &bytes).unwrap();
    let rgb: Vec<u8> = (0..75u32).map(|i| (i * 41 % 256) as u8).collect();
    let raw_path = dir.join("in.raw");
    std::fs::write(&raw_path, &rgb).unwrap();
    let m = Model::parse(&bytes).unwrap();
    for (mean, std) in [(127.5f32, 127.5f32), (0.0, 255.0)] {
        let (code, out, err) = shoal(
            &[
                "classify",
                "--model",
                model_path.to_str().unwrap(),
                "--raw",
                "--input-raw",
                raw_path.to_str().unwrap(),
                "--input-mean",
                &mean.to_string(),
                "--input-std",
                &std.to_string(),
            ],
            "",
        );
        assert_eq!(code, 0, "{err}");
        let x: Vec<u8> = rgb
            .iter()
            .flat_map(|&v| ((f32::from(v) - mean) / std).to_le_bytes())
            .collect();
        let want = m.run_u8(&x).unwrap().output(&m, 0).unwrap().to_vec();
        let got: Vec<u8> = out.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(got, want, "mean {mean} std {std}");
    }
    let (code, _, err) = shoal(
        &[
            "classify",
            "--model",
            model_path.to_str().unwrap(),
            "--input-std",
            "0",
            "--input-raw",
            raw_path.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
