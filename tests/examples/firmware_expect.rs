//! Prints, on the host, what tests/firmware prints under QEMU (same model,
//! same input), so that tests/firmware/check.sh can compare them line by line.

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn main() {
    let shared =
        shoal_tests::shared_dir().expect("../shared (or SHOAL_SHARED) with the Coral models");
    let model_path = std::env::var("SHOAL_FW_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| shared.join("models/coral/mobilenet_v1_0.25_128_quant.tflite"));
    let bytes = std::fs::read(model_path).expect("model");
    let model = shoal_core::tflite::Model::parse(&bytes).expect("model parses");
    let npy =
        std::fs::read(shoal_tests::workspace_root().join("tests/ref/tflite/input_128_cat.npy"))
            .unwrap();
    let input = shoal_core::npy::read(&npy).unwrap().data.to_vec();
    let run = model.run_u8(&input).expect("runs");
    let probs = run.output(&model, 0).unwrap();
    println!("output bytes {} fnv1a {:016x}", probs.len(), fnv1a(probs));
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].cmp(&probs[a]).then(a.cmp(&b)));
    for &i in order.iter().take(5) {
        println!("top {} {}", i, probs[i]);
    }
    println!(
        "log_bessel_i(5000, 1000) {:016x}",
        shoal_core::bessel::log_bessel_i(5000.0, 1000.0).to_bits()
    );
    println!(
        "log_bessel_k(0.5, 2) {:016x}",
        shoal_core::bessel::log_bessel_k(0.5, 2.0).to_bits()
    );
    let lid =
        std::fs::read(shoal_tests::workspace_root().join("host-gpu/models/lid.176.ftz")).unwrap();
    let lid = shoal_core::fasttext::FastText::from_bytes(&lid).unwrap();
    for t in [
        "Der Fang wird morgen früh im Hafen gewogen",
        "the nets are full of mackerel",
        "la merluza está prohibida este mes",
    ] {
        let p = lid.predict(t, 1, 0.0).unwrap();
        println!(
            "langid {} {:08x}",
            lid.label(p[0].label).unwrap(),
            p[0].prob.to_bits()
        );
    }
}
