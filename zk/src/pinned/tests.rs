//! The pinned table against the circuit: every supported shape is pinned, every key
//! loads with its digest, and a sample is re-derived here (all of them:
//! `make pinned-keys-check`).

use super::*;
use crate::keys::{load_srs, SrsSource};

#[test]
fn every_supported_shape_has_a_test_setup_key_and_the_keys_tile_keys_bin() {
    let mut at = 0;
    for entry in table() {
        assert_eq!(entry.at, at, "{entry:?}");
        at += entry.len;
        let vk = load(entry).unwrap();
        let shape = supported()
            .into_iter()
            .find(|s| s.id() == entry.shape)
            .unwrap_or_else(|| panic!("{}: not a supported shape", entry.shape));
        assert_eq!(vk.get_domain().k(), shape.k(), "{}", entry.shape);
    }
    assert_eq!(at, KEYS.len(), "keys.bin holds bytes no entry names");
    // A digest names one key, hence one shape.
    let digests: std::collections::HashSet<_> = table().iter().map(|e| e.sha256).collect();
    assert_eq!(digests.len(), table().len());
    for e in table() {
        let mut d = [0u8; 32];
        hex::decode_to_slice(e.sha256, &mut d).unwrap();
        assert_eq!(
            shape_of_digest(&d).map(|s| s.id()).as_deref(),
            Some(e.shape)
        );
    }
    for shape in supported() {
        let e = entries(&shape, true);
        assert!(
            e.iter().any(|(s, _)| s.is_unsafe_test()),
            "{}: no key on the test setup",
            shape.id()
        );
        // The test setup's key only when asked for, and always last.
        assert!(entries(&shape, false)
            .iter()
            .all(|(s, _)| !s.is_unsafe_test()));
        assert!(e.last().unwrap().0.is_unsafe_test());
    }
}

#[test]
fn a_sample_of_pinned_keys_is_what_the_circuit_derives() {
    let sample = [(1, 1), (28, 2), (17, 3), (32, 4)].map(|(depth, currencies)| Shape {
        layout: Layout::V1,
        depth,
        currencies,
        n_bytes: summa_agg::layout::DEFAULT_N_BYTES,
    });
    let k = sample.iter().map(Shape::k).max().unwrap();
    let (params, _) = load_srs(&SrsSource::UnsafeTest, k).unwrap();
    for shape in &sample {
        check(Setup::UnsafeTest, &params, shape).unwrap();
    }
    // A key changed by one byte, or its digest, is refused.
    let (_, entry) = entries(&sample[0], true).pop().unwrap();
    let changed = Entry {
        sha256: "00",
        ..*entry
    };
    assert!(load(&changed)
        .unwrap_err()
        .to_string()
        .contains("not the one its digest pins"));
    let mut bytes =
        miniz_oxide::inflate::decompress_to_vec(&KEYS[entry.at..entry.at + entry.len]).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    let read = VerifyingKey::<G1Affine>::read::<_, InclusionCircuit>(
        &mut &bytes[..],
        SerdeFormat::Processed,
        (),
    );
    assert!(read.map_or(true, |vk| hex::encode(vk_digest(&vk)) != entry.sha256));
}

#[test]
fn a_shape_outside_the_set_has_no_pinned_key() {
    let legacy = Shape {
        layout: Layout::Legacy,
        depth: 4,
        currencies: 2,
        n_bytes: 14,
    };
    assert!(entries(&legacy, true).is_empty());
    assert!(!only_unsafe_test(&legacy));
    let many = Shape {
        currencies: MAX_PINNED_CURRENCIES + 1,
        ..supported()[0]
    };
    assert!(entries(&many, true).is_empty());
}

#[test]
fn verifier_params_hold_the_generators_and_the_setups_tau_only() {
    let p = verifier_params(Setup::UnsafeTest, 13);
    assert_eq!(p.k(), 13);
    assert_eq!(p.get_g(), &[G1Affine::generator()]);
    assert_eq!(p.g2(), ceremony::g2_generator());
    assert_eq!(p.s_g2(), ceremony::unsafe_test_s_g2());
    for c in CEREMONIES {
        assert_eq!(
            verifier_params(Setup::Ceremony(c), 13).s_g2(),
            c.s_g2().unwrap()
        );
    }
}

#[test]
fn the_warm_up_runs() {
    assert!(warm_up());
}

#[test]
fn the_v1_and_agg2023_layouts_share_one_key_and_legacy_has_its_own() {
    // What the page's chain read relies on (verifier/src/chain.rs): a key binds the
    // legacy layout, not the choice between v1 and agg2023 (the username's
    // encoding, which the verifier computes outside the circuit).
    let shape = |layout| Shape {
        layout,
        depth: 3,
        currencies: 2,
        n_bytes: 14,
    };
    let (params, _) = load_srs(&SrsSource::UnsafeTest, shape(Layout::Legacy).k()).unwrap();
    let digest =
        |layout| vk_digest(&derive_vk(&cut(&params, shape(layout).k()), &shape(layout)).unwrap());
    assert_eq!(digest(Layout::V1), digest(Layout::Agg2023));
    assert_ne!(digest(Layout::V1), digest(Layout::Legacy));
}
