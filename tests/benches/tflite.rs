//! MobileNet uint8 latency on one core: Shoal (vectorised integer kernels)
//! against LiteRT measured in the same run (XNNPACK and reference kernels),
//! on the Coral models; and the built-in EfficientNet-Lite0 against
//! onnxruntime on the same network. `cargo bench -p shoal-tests --bench tflite`.

use std::time::Instant;

use shoal_core::{npy, tflite::Model};
use shoal_tests::{json_number, python_peer, shared_dir, workspace_root};

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
        let shoal = median(&mut || {
            std::hint::black_box(
                model
                    .run_in_prepared(&plan, &prepared, &input, &mut arena)
                    .unwrap(),
            );
        });
        let keep_all = median(&mut || {
            std::hint::black_box(model.run_prepared(&prepared, &input).unwrap());
        });
        let peer = python_peer("tests/benches/litert_peer.py", &[&path, &input_path]);
        match peer {
            Some(p) => {
                let (x, r) = (
                    json_number(&p, "xnnpack").unwrap_or(f64::NAN),
                    json_number(&p, "reference").unwrap_or(f64::NAN),
                );
                println!(
                    "{m:<30} Shoal {shoal:8.2} ms | LiteRT XNNPACK {x:8.2} ms ({:.2}x) | LiteRT reference {r:8.2} ms ({:.2}x) | Shoal keeping every tensor {keep_all:.2} ms",
                    shoal / x,
                    shoal / r
                );
            }
            None => println!("{m:<30} Shoal {shoal:8.2} ms | LiteRT peer unavailable (pip install ai-edge-litert)"),
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
    match OrtPeer::start(&input_path) {
        Some(mut peer) => {
            let mut ratios = Vec::new();
            let mut best = (f64::INFINITY, f64::INFINITY);
            for round in 1..=9 {
                let (p, (s, top)) = if round % 2 == 1 {
                    let ours = shoal_median();
                    (peer.measure(), ours)
                } else {
                    let theirs = peer.measure();
                    (theirs, shoal_median())
                };
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

/// `tests/benches/ort_peer.py --serve`: one onnxruntime measurement (JSON)
/// per request, the session kept.
struct OrtPeer {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl OrtPeer {
    fn start(input: &std::path::Path) -> Option<Self> {
        use std::process::{Command, Stdio};
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/benches/ort_peer.py"))
            .arg(input)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let out = std::io::BufReader::new(child.stdout.take()?);
        let mut peer = OrtPeer { child, out };
        // The first answer also shows the peer works (onnxruntime present).
        peer.measure().map(|_| peer)
    }

    fn measure(&mut self) -> Option<String> {
        use std::io::{BufRead, Write};
        let stdin = self.child.stdin.as_mut()?;
        stdin.write_all(b"run\n").ok()?;
        stdin.flush().ok()?;
        let mut line = String::new();
        self.out.read_line(&mut line).ok()?;
        line.contains("onnxruntime").then_some(line)
    }
}

impl Drop for OrtPeer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
