//! Writes the tiny TFLite test model built by `shoal_tests::flatbuf` (every
//! operator the engine runs, 8x8x3 input) to the given path; LiteRT's
//! outputs for it come from `tests/ref/gen_tiny_tflite_ref.py`.
//!
//!     cargo run -p shoal-tests --example tiny_tflite -- tests/ref/tflite/tiny.tflite

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tests/ref/tflite/tiny.tflite".into());
    let bytes = shoal_tests::flatbuf::tflite::tiny(0);
    std::fs::write(&path, &bytes).expect("write model");
    println!("{path}: {} bytes", bytes.len());
}
