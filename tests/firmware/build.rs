//! Puts memory.x on the linker path and embeds the model and input chosen by
//! the environment (defaults: the Coral MobileNetV1 0.25 128 and the project's
//! resized test image), so that no model is committed.
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let shared = std::env::var("SHOAL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("../../../shared"));
    let model = std::env::var("SHOAL_FW_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|_| shared.join("models/coral/mobilenet_v1_0.25_128_quant.tflite"));
    let input = root.join("../ref/tflite/input_128_cat.npy");
    // The model is copied into OUT_DIR, 8-byte aligned by the include below.
    std::fs::copy(&model, out.join("model.tflite"))
        .unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let npy = std::fs::read(&input).unwrap();
    // The .npy header is 128 bytes for these files; the pixels follow.
    std::fs::write(out.join("input.u8"), &npy[128..]).unwrap();
    println!("cargo:rerun-if-changed={}", model.display());
    println!("cargo:rerun-if-env-changed=SHOAL_FW_MODEL");
    println!("cargo:rerun-if-env-changed=SHOAL_SHARED");
}
