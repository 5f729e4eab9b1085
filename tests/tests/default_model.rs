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

/// One kept `Workspace` over several images (in an order that changes the
/// buffers' roles) gives what a fresh run gives, bit for bit; a wrong input
/// size through it is the same typed error and leaves it usable.
#[test]
fn kept_workspace_equals_fresh_runs() {
    use shoal_core::model::{ShmError, Workspace};
    let bytes =
        std::fs::read(workspace_root().join("host-gpu/models/efficientnet-lite0.shm")).unwrap();
    let m = ShmModel::parse(&bytes).unwrap();
    let n = m.size * m.size * 3;
    let images: Vec<Vec<u8>> = (0..3u32)
        .map(|s| {
            (0..n as u32)
                .map(|i| ((i * (7 + 6 * s) + s * 91) % 256) as u8)
                .collect()
        })
        .collect();
    let fresh: Vec<Vec<f32>> = images.iter().map(|x| m.run(x).unwrap()).collect();
    let mut ws = Workspace::default();
    for &k in &[2usize, 0, 1, 0, 2] {
        let got = m.run_in(&mut ws, &images[k]).unwrap();
        assert!(
            got.iter()
                .zip(&fresh[k])
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "image {k}"
        );
        assert!(matches!(
            m.run_in(&mut ws, &images[k][..n - 3]),
            Err(ShmError::InputSize { .. })
        ));
    }
    let f = m.features_in(&mut ws, &images[1]).unwrap().to_vec();
    assert_eq!(f, m.features(&images[1]).unwrap());
}

/// The vMF out-of-distribution score of the built-in model: κ fitted on the
/// six bundled reference photos reproduces the constant the CLI uses, and
/// photos score above synthetic inputs that are no ImageNet class (noise,
/// flat grey, a ramp, stripes).
#[test]
fn vmf_ood_score_separates_photos_from_synthetic_inputs() {
    use shoal_core::classify::VmfOod;
    let root = workspace_root();
    let bytes = std::fs::read(root.join("host-gpu/models/efficientnet-lite0.shm")).unwrap();
    let model = ShmModel::parse(&bytes).unwrap();
    let protos = model.prototypes().unwrap();
    let p = protos.len() / model.classes;
    let dir = root.join("tests/ref/effl");
    let mut photos = Vec::new();
    for n in [
        "cat",
        "cat_flip",
        "grace_hopper",
        "grace_hopper_flip",
        "parrot",
        "parrot_flip",
    ] {
        let x = npy::read(&std::fs::read(dir.join(format!("{n}.input.npy"))).unwrap())
            .unwrap()
            .data
            .to_vec();
        photos.push((n, model.features(&x).unwrap()));
    }
    let feats: Vec<&[f32]> = photos.iter().map(|(_, f)| &f[..]).collect();
    let kappa = VmfOod::fit_kappa(&protos, model.classes, p, &feats).unwrap();
    let ood = VmfOod::new(&protos, model.classes, p, kappa).unwrap();
    println!("p = {p}, kappa = {kappa}");
    let mut low = f64::INFINITY;
    for (n, f) in &photos {
        let l = ood.log_density(f).unwrap();
        println!("{n:<20} {l:10.2}");
        low = low.min(l);
    }
    let s = model.size;
    let mut rng = shoal_core::rng::Rng::new(3);
    let synthetic: Vec<(&str, Vec<u8>)> = vec![
        (
            "uniform noise",
            (0..s * s * 3).map(|_| rng.next_u64() as u8).collect(),
        ),
        ("flat grey", vec![128; s * s * 3]),
        (
            "ramp",
            (0..s * s * 3)
                .map(|i| ((i / 3) % s * 255 / s) as u8)
                .collect(),
        ),
        (
            "stripes",
            (0..s * s * 3)
                .map(|i| if (i / 3 / 8) % 2 == 0 { 0 } else { 255 })
                .collect(),
        ),
    ];
    let mut high = f64::NEG_INFINITY;
    for (n, x) in &synthetic {
        let l = ood.log_density(&model.features(x).unwrap()).unwrap();
        println!("{n:<20} {l:10.2}");
        high = high.max(l);
    }
    use shoal_core::classify::builtin_ood as b;
    assert!(low > high + 10.0, "photos {low} vs synthetic {high}");
    assert!(
        (kappa / b::KAPPA - 1.0).abs() < 1e-5,
        "KAPPA constant is stale: {kappa}"
    );
    assert!(
        (low - b::REFERENCE_MIN).abs() < 0.01,
        "REFERENCE_MIN is stale: {low}"
    );
    assert!(high < b::THRESHOLD && b::THRESHOLD < low);
    assert_eq!(
        shoal_core::quant::file::fnv1a64(&bytes),
        b::MODEL_FNV1A64,
        "the built-in model changed: recalibrate"
    );
    let scorer = b::scorer(&bytes, &model).expect("built-in model recognised");
    assert_eq!(scorer.kappa(), b::KAPPA);
    assert!(b::scorer(&bytes[..bytes.len() - 1], &model).is_none());
    // The scores of the synthetic inputs are outside the reference range,
    // and an error for features of the wrong size.
    assert!(ood.log_density(&[1.0; 3]).is_err());
}
