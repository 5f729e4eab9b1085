//! MobileNet uint8 latency on one core: Shoal (vectorised integer kernels)
//! against LiteRT measured in the same run (XNNPACK and reference kernels),
//! on the Coral models; and the built-in EfficientNet-Lite0 against
//! onnxruntime on the same network. `cargo bench -p shoal-tests --bench tflite`.

use std::time::Instant;

use shoal_core::{npy, tflite::Model};
use shoal_tests::{json_number, shared_dir, workspace_root};

/// The built-in model's bytes (the same file `shoal` embeds).
fn shoal_host_gpu_default_model() -> &'static [u8] {
    include_bytes!("../../host-gpu/models/efficientnet-lite0.shm")
}

fn main() {
    let shared = shared_dir();
    if shared.is_none() {
        println!("../shared/models/coral not present: the MobileNets are not measured");
    }
    let refdir = workspace_root().join("tests/ref/tflite");
    for m in shared.iter().flat_map(|_| {
        [
            "mobilenet_v1_0.25_128_quant",
            "mobilenet_v1_0.5_160_quant",
            "mobilenet_v1_0.75_192_quant",
            "mobilenet_v2_1.0_224_quant",
        ]
    }) {
        let Some(shared) = &shared else { break };
        let path = shared.join(format!("models/coral/{m}.tflite"));
        let bytes = std::fs::read(&path).expect("model");
        let model = Model::parse(&bytes).expect("parses");
        let size = model.tensors[model.inputs[0]].shape[1];
        let input_path = refdir.join(format!("input_{size}_cat.npy"));
        let input = npy::read(&std::fs::read(&input_path).unwrap())
            .unwrap()
            .data
            .to_vec();
        // As LiteRT's interpreter does: filters packed and the activation
        // arena allocated once, then `invoke` per image (the median of 15,
        // after three warm-up runs). The run that keeps every tensor (`run_prepared`,
        // for debugging) is shown alongside.
        let prepared = model.prepare();
        let plan = model.plan().expect("plan");
        let mut arena = vec![0u8; plan.arena_bytes()];
        let median = |f: &mut dyn FnMut()| {
            for _ in 0..3 {
                f();
            }
            let mut times: Vec<f64> = (0..15)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        };
        let mut shoal = || {
            median(&mut || {
                std::hint::black_box(
                    model
                        .run_in_prepared(&plan, &prepared, &input, &mut arena)
                        .unwrap(),
                );
            })
        };
        let keep_all = median(&mut || {
            std::hint::black_box(model.run_prepared(&prepared, &input).unwrap());
        });
        // Five rounds against XNNPACK (one peer process, its interpreter
        // made once), Shoal's median of 15 and LiteRT's right after each
        // other, in turn Shoal first and LiteRT first; the median ratio.
        let peer = Peer::start(
            "tests/benches/litert_peer.py",
            &[path.as_os_str(), input_path.as_os_str(), "--serve".as_ref()],
        );
        match peer {
            Some((mut peer, first)) => {
                let r = json_number(&first, "reference").unwrap_or(f64::NAN);
                let mut rounds = Vec::new();
                for round in 0..5 {
                    let (x, s) = peer.in_turn("xnnpack", round % 2 == 0, &mut shoal);
                    let Some(x) = x else { break };
                    rounds.push((s, json_number(&x, "xnnpack").unwrap_or(f64::NAN)));
                }
                let mut ratios: Vec<f64> = rounds.iter().map(|(s, x)| s / x).collect();
                ratios.sort_by(f64::total_cmp);
                let (s, x) = rounds.last().copied().unwrap_or((f64::NAN, f64::NAN));
                let at = |i: usize| ratios.get(i).copied().unwrap_or(f64::NAN);
                let (med, lo, hi) = (
                    at(ratios.len() / 2),
                    at(0),
                    at(ratios.len().wrapping_sub(1)),
                );
                println!(
                    "{m:<30} Shoal {s:8.2} ms | LiteRT XNNPACK {x:8.2} ms | median ratio {med:.2}x over {} rounds ({lo:.2}-{hi:.2}x) | LiteRT reference {r:8.2} ms ({:.2}x) | Shoal keeping every tensor {keep_all:.2} ms",
                    ratios.len(),
                    s / r
                );
            }
            None => println!(
                "{m:<30} Shoal {:8.2} ms | LiteRT peer unavailable (pip install ai-edge-litert)",
                shoal()
            ),
        }
    }
    // The built-in model (.shm EfficientNet-Lite0) against onnxruntime on
    // the same network exported to ONNX, same input.
    let shm = shoal_core::model::ShmModel::parse(shoal_host_gpu_default_model()).expect("parses");
    let input_path = workspace_root().join("tests/ref/effl/cat.input.npy");
    let input = npy::read(&std::fs::read(&input_path).unwrap())
        .unwrap()
        .data
        .to_vec();
    // As for the MobileNets: the activation buffers kept (made by the
    // warm-up runs), then one run per image.
    let mut ws = shoal_core::model::Workspace::default();
    for _ in 0..3 {
        shm.run_in(&mut ws, &input).unwrap();
    }
    let mut shoal_median = || {
        let (mut times, mut top) = (Vec::new(), 0);
        for _ in 0..15 {
            let t = Instant::now();
            let z = shm.run_in(&mut ws, &input).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            top = (0..z.len())
                .max_by(|&a, &b| z[a].total_cmp(&z[b]))
                .unwrap_or(0);
        }
        times.sort_by(f64::total_cmp);
        (times[times.len() / 2], top)
    };
    // Nine rounds, each Shoal's median of 15 and onnxruntime's (one peer
    // process, its session made once) right after each other, in turn
    // Shoal first and onnxruntime first: this machine's speed drifts by
    // tens of percent within a minute, so each ratio compares measurements
    // taken a second apart, and the median ratio is reported.
    let name = "efficientnet-lite0 (.shm)";
    match Peer::start("tests/benches/ort_peer.py", &[input_path.as_path(), "--serve".as_ref()]) {
        Some((mut peer, _)) => {
            let mut ratios = Vec::new();
            let mut best = (f64::INFINITY, f64::INFINITY);
            for round in 1..=9 {
                let (p, (s, top)) = peer.in_turn("onnxruntime", round % 2 == 1, &mut shoal_median);
                let Some(p) = p else { break };
                let o = json_number(&p, "onnxruntime").unwrap_or(f64::NAN);
                let t1 = json_number(&p, "top1").unwrap_or(f64::NAN);
                println!(
                    "{name:<30} Shoal {s:8.2} ms | onnxruntime f32 {o:8.2} ms ({:.2}x) | top-1 {top} / {t1} (round {round})",
                    s / o
                );
                ratios.push(s / o);
                best = (best.0.min(s), best.1.min(o));
            }
            ratios.sort_by(f64::total_cmp);
            if let Some(m) = ratios.get(ratios.len() / 2) {
                println!(
                    "{name:<30} median ratio over the rounds: {m:.2}x; fastest rounds: Shoal {:.2} ms, onnxruntime {:.2} ms ({:.2}x)",
                    best.0,
                    best.1,
                    best.0 / best.1
                );
            }
        }
        None => println!("{name:<30} Shoal {:8.2} ms | onnxruntime peer unavailable (pip install onnx onnxruntime)", shoal_median().0),
    }
    println!("(ratios are Shoal time / peer time: below 1 means Shoal is faster)");
}

/// A Python peer kept running (`--serve`): its first JSON line when it
/// starts, then one measurement per request, its session or interpreter
/// made once.
struct Peer {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Peer {
    /// Starts `script` (relative to the workspace root) with `args` and
    /// reads its first line (which shows that the peer's packages are
    /// present); `None` when it does not start or answer.
    fn start<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> Option<(Self, String)> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let mut child = Command::new("python3")
            .arg(workspace_root().join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut out = std::io::BufReader::new(child.stdout.take()?);
        let mut first = String::new();
        out.read_line(&mut first).ok()?;
        let peer = Peer { child, out };
        (!first.trim().is_empty()).then_some((peer, first))
    }

    /// `ours()` and one measurement of the peer, `ours` first when
    /// `ours_first` (rounds alternate which side runs first).
    fn in_turn<T>(
        &mut self,
        key: &str,
        ours_first: bool,
        ours: &mut dyn FnMut() -> T,
    ) -> (Option<String>, T) {
        if ours_first {
            let t = ours();
            (self.measure(key), t)
        } else {
            let p = self.measure(key);
            (p, ours())
        }
    }

    /// One measurement: a line whose JSON has `key`.
    fn measure(&mut self, key: &str) -> Option<String> {
        use std::io::{BufRead, Write};
        let stdin = self.child.stdin.as_mut()?;
        stdin.write_all(b"run\n").ok()?;
        stdin.flush().ok()?;
        let mut line = String::new();
        self.out.read_line(&mut line).ok()?;
        line.contains(key).then_some(line)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
