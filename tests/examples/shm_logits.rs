//! Prints the top-5 logits of a `.shm` model on `.npy` uint8 inputs
//! (`cargo run --example shm_logits -- MODEL.shm INPUT.npy...`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bytes = std::fs::read(&args[0]).expect("model");
    let m = shoal_core::model::ShmModel::parse(&bytes).expect("parses");
    for p in &args[1..] {
        let b = std::fs::read(p).expect("input");
        let a = shoal_core::npy::read(&b).expect("npy");
        let t = std::time::Instant::now();
        let z = m.run(a.data).expect("runs");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let mut idx: Vec<usize> = (0..z.len()).collect();
        idx.sort_by(|&i, &j| z[j].total_cmp(&z[i]));
        let top: Vec<String> = idx
            .iter()
            .take(5)
            .map(|&i| format!("{i}:{:.3}", z[i]))
            .collect();
        println!("{p}: {} ({ms:.0} ms)", top.join(" "));
    }
}
