//! Plateau detection on synthetic step tables (it needs `satlab_testkit::synth`, so it is an
//! integration test).

use satlab_diagnosis::model::StepRow;
use satlab_diagnosis::plateau::detect;
use satlab_testkit::synth::{SynthStep, steps_run};

fn rows(xs: &[(f64, f64)]) -> Vec<StepRow> {
    let steps: Vec<SynthStep> = xs
        .iter()
        .map(|&(n, x)| SynthStep::new(n, x, n / x * 1000.0))
        .collect();
    satlab_diagnosis::steps::build_rows(&steps_run(&steps, false))
}

#[test]
fn knee_noise_and_resumed_growth() {
    // Flat from N = 1 with a noisy last step: still a plateau at the first step.
    let r = rows(&[
        (1.0, 631.0),
        (2.0, 669.0),
        (4.0, 661.0),
        (8.0, 531.0),
        (16.0, 775.0),
    ]);
    assert_eq!(detect(&r), Some(0));
    // A pause in growth followed by efficient growth is no plateau.
    let r = rows(&[(1.0, 100.0), (2.0, 105.0), (4.0, 380.0), (8.0, 760.0)]);
    assert_eq!(detect(&r), None);
    // Linear growth: none.
    let r = rows(&[(1.0, 100.0), (2.0, 200.0), (4.0, 400.0)]);
    assert_eq!(detect(&r), None);
}
