//! Writes the tiny TFLite test models built by `shoal_tests::flatbuf`
//! (`tiny.tflite`: CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D,
//! RESHAPE, SOFTMAX; `tiny2.tflite`: PAD, MEAN, FULLY_CONNECTED;
//! `tiny3.tflite`: HARD_SWISH, CONCATENATION, DEQUANTIZE; `tiny4.tflite`: the
//! float32 operators) into the
//! given folder; LiteRT's outputs for them come from
//! `tests/ref/gen_tiny_tflite_ref.py`.
//!
//!     cargo run -p shoal-tests --example tiny_tflite -- tests/ref/tflite

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tests/ref/tflite".into());
    for (name, bytes) in [
        ("tiny.tflite", shoal_tests::flatbuf::tflite::tiny(0)),
        ("tiny2.tflite", shoal_tests::flatbuf::tflite::tiny2()),
        ("tiny3.tflite", shoal_tests::flatbuf::tflite::tiny3(true)),
        ("tiny4.tflite", shoal_tests::flatbuf::tflite::tiny4()),
    ] {
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, &bytes).expect("write model");
        println!("{}: {} bytes", path.display(), bytes.len());
    }
}
