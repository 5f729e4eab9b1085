//! The built-in default model (EfficientNet-Lite0 in Shoal's compressed
//! format) against the float32 NumPy forward pass of the unquantized network
//! (tools/effnet_lite0.py reference), on the same input tensors.

use shoal_core::{model::ShmModel, npy};
use shoal_tests::workspace_root;

#[test]
fn compressed_default_model_agrees_with_the_f32_original() {
    let root = workspace_root();
    let bytes =
        std::fs::read(root.join("host-gpu/models/efficientnet-lite0.shm")).expect("built-in model");
    let model = ShmModel::parse(&bytes).expect("parses");
    println!(
        "model file: {} bytes, {} layers",
        bytes.len(),
        model.layers.len()
    );
    let dir = root.join("tests/ref/effl");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".input.npy").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 6);
    let (mut agree, mut top5_overlap) = (0, 0);
    for n in &names {
        let x = npy::read(&std::fs::read(dir.join(format!("{n}.input.npy"))).unwrap())
            .unwrap()
            .data
            .to_vec();
        let want = npy::read(&std::fs::read(dir.join(format!("{n}.logits.npy"))).unwrap())
            .unwrap()
            .to_f32();
        let got = model.run(&x).unwrap();
        let rank = |z: &[f32]| {
            let mut i: Vec<usize> = (0..z.len()).collect();
            i.sort_by(|&a, &b| z[b].total_cmp(&z[a]));
            i
        };
        let (rg, rw) = (rank(&got), rank(&want));
        let max_diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let overlap = rg[..5].iter().filter(|i| rw[..5].contains(i)).count();
        println!(
            "{n}: top-1 {} vs f32 {}, top-5 overlap {overlap}/5, max |logit diff| {max_diff:.3}",
            rg[0], rw[0]
        );
        agree += usize::from(rg[0] == rw[0]);
        top5_overlap += overlap;
        assert!(max_diff < 1.0, "{n}: logits drifted by {max_diff}");
    }
    println!(
        "top-1 agreement {agree}/{}, top-5 overlap {top5_overlap}/{}",
        names.len(),
        5 * names.len()
    );
    assert_eq!(
        agree,
        names.len(),
        "top-1 must agree with the f32 original on every reference input"
    );
}

#[test]
fn malformed_shm_files_are_typed_errors() {
    use shoal_core::model::ShmError;
    let bytes =
        std::fs::read(workspace_root().join("host-gpu/models/efficientnet-lite0.shm")).unwrap();
    assert_eq!(ShmModel::parse(b"SHM1").unwrap_err(), ShmError::Truncated);
    assert_eq!(
        ShmModel::parse(&[b"XXXX", &bytes[4..]].concat()).unwrap_err(),
        ShmError::BadMagic
    );
    let mut bad = bytes.clone();
    bad[100] ^= 1;
    assert_eq!(ShmModel::parse(&bad).unwrap_err(), ShmError::Checksum);
    assert_eq!(
        ShmModel::parse(&bytes[..bytes.len() - 9]).unwrap_err(),
        ShmError::Checksum
    );
    let m = ShmModel::parse(&bytes).unwrap();
    assert!(matches!(m.run(&[0u8; 12]), Err(ShmError::InputSize { .. })));
}
