//! Property tests of the request decoder: arbitrary bytes never panic and always map to a
//! 4xx error or a result; well-formed requests always add up.

use proptest::prelude::*;
use target_api::decode::{Operand, add, decode, encode};

proptest! {
    // Saved failures (decoder_props.proptest-regressions, beside this file) are replayed
    // before any new case.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        match decode(&bytes, 64).and_then(|r| add(&r)) {
            Ok(out) => { let _ = encode(&out); }
            Err(e) => prop_assert!(e.status.is_client_error(), "{e}"),
        }
    }

    #[test]
    fn json_shaped_noise_never_panics(s in r#"\{("[ab]":(-?[0-9.eE+]{0,8}|\[[-0-9., e]{0,20}\]|null|"x"|\{\}),?){0,3}\}"#) {
        match decode(s.as_bytes(), 4).and_then(|r| add(&r)) {
            Ok(out) => { let _ = encode(&out); }
            Err(e) => prop_assert!(e.status.is_client_error(), "{s}: {e}"),
        }
    }

    #[test]
    fn valid_vectors_add_elementwise(pairs in proptest::collection::vec((-1e6f64..1e6, -1e6f64..1e6), 0..50)) {
        let a: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let b: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let body = serde_json::json!({"a": a, "b": b}).to_string();
        let out = add(&decode(body.as_bytes(), 1000).unwrap()).unwrap();
        let Operand::Vector(sum) = &out else { panic!("vector expected") };
        prop_assert_eq!(sum.len(), a.len());
        for i in 0..a.len() {
            prop_assert_eq!(sum[i], a[i] + b[i]);
        }
        // The encoding is valid JSON that reads back to the same numbers.
        let back: serde_json::Value = serde_json::from_str(&encode(&out)).unwrap();
        let back: Vec<f64> = back["result"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        prop_assert_eq!(&back, sum);
    }

    #[test]
    fn integer_scalars_add_exactly(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
        let body = format!(r#"{{"a":{a},"b":{b}}}"#);
        let out = encode(&add(&decode(body.as_bytes(), 1).unwrap()).unwrap());
        prop_assert_eq!(out, format!(r#"{{"result":{}}}"#, a + b));
    }
}
