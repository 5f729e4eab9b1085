use shoal_tests::unescape_python;
fn main() {
    let b = std::fs::read("host-gpu/models/lid.176.ftz").unwrap();
    let m = shoal_core::fasttext::FastText::from_bytes(&b).unwrap();
    let refs = std::fs::read_to_string("tests/ref/langid/lid176_ref.tsv").unwrap();
    let (mut bad_a, mut bad_b, mut n) = (0, 0, 0);
    for line in refs.lines() {
        let mut cols = line.split('\t');
        let text = unescape_python(cols.next().unwrap()).unwrap();
        let got = m.predict(&text, 5, 0.0).unwrap();
        for (g, c) in got.iter().zip(cols) {
            let p: f64 = c.rsplit_once(':').unwrap().1.parse().unwrap();
            let a = g.prob;
            let b2 = g.log_prob.exp();
            n += 1;
            if a.to_bits() != (p as f32).to_bits() {
                bad_a += 1;
            }
            if b2.to_bits() != (p as f32).to_bits() {
                bad_b += 1;
            }
        }
    }
    println!("{n} probs: libm expf mismatches {bad_a}, f64 exp {bad_b}");
}
