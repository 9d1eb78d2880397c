//! The trainer against `training.json`: secret, samples, initial weights,
//! every epoch's accuracies and losses and the weights after training, all
//! exactly equal, for all three variants; and seed 004's published epochs.

use crate::common;

use memtrace_trainer::run::{RunConfig, Trainer};
use memtrace_trainer::task::{RngKind, Shape};
use memtrace_trainer::train::Variant;
use serde_json::Value;

fn config(c: &Value, variant: Variant) -> RunConfig {
    let u = |k: &str| c[k].as_u64().unwrap() as usize;
    RunConfig {
        shape: Shape {
            n_bits: u("n_bits"),
            k: u("k"),
            hidden: u("hidden"),
            n_train: u("n_train"),
            n_test: u("n_test"),
        },
        lr: c["lr"].as_f64().unwrap(),
        wd: c["wd"].as_f64().unwrap(),
        seed: c["seed"].as_u64().unwrap(),
        rng: RngKind::Python,
        variant,
        batch: 1,
        tiles: None,
        shuffle: false,
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn data_and_initial_weights_are_bit_identical() {
    let reference = common::read_json(common::reference().join("training.json"));
    for (name, run) in reference.as_object().unwrap() {
        let t = Trainer::new(config(&run["config"], Variant::Standard));
        let n = t.cfg.shape.n_bits;
        let secret: Vec<usize> =
            run["secret"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(t.data().secret, secret, "{name}");
        for (s, row) in run["x_train_first3"].as_array().unwrap().iter().enumerate() {
            assert_eq!(t.data().x_train[s * n..(s + 1) * n], floats(row)[..], "{name} x_train[{s}]");
        }
        assert_eq!(t.data().y_train[..3], floats(&run["y_train_first3"])[..], "{name}");
        assert_eq!(t.data().x_test[..n], floats(&run["x_test_first1"][0])[..], "{name}");
        assert_eq!(t.params().w1_row(0), floats(&run["W1_row0"]), "{name}");
        let last = t.params().w1_row(t.cfg.shape.hidden - 1);
        assert_eq!(last[..4], floats(&run["W1_row_last_first4"])[..], "{name}");
        assert_eq!(t.params().w2[..5], floats(&run["W2_first5"])[..], "{name}");
    }
}

#[test]
fn every_variant_trains_bit_identically() {
    let reference = common::read_json(common::reference().join("training.json"));
    for (name, run) in reference.as_object().unwrap() {
        for variant in [Variant::Standard, Variant::Fused, Variant::Perlayer] {
            let expected = &run[variant.name()];
            let mut t = Trainer::new(config(&run["config"], variant));
            let max = run["config"]["max_epochs"].as_u64().unwrap() as usize;
            let solved = t.train(max, 1.0, |_| {});
            let what = format!("{name} {}", variant.name());
            assert_eq!(solved, Some(expected["epochs"].as_u64().unwrap() as usize), "{what}");
            assert_eq!(t.history.test_accs, floats(&expected["test_accs"]), "{what}");
            assert_eq!(t.history.train_accs, floats(&expected["train_accs"]), "{what}");
            assert_eq!(t.history.train_losses, floats(&expected["train_losses"]), "{what}");
            assert_eq!(t.history.test_losses, floats(&expected["test_losses"]), "{what}");
            assert_eq!(t.params().w1_row(0)[..5], floats(&expected["W1_row0_after"])[..], "{what}");
            assert_eq!(t.params().b2, expected["b2_after"].as_f64().unwrap(), "{what}");
        }
    }
}

fn seed004(variant: Variant, batch: usize, seed: u64) -> Option<usize> {
    Trainer::new(RunConfig::seed_004(variant, batch, seed)).train(200, 1.0, |_| {})
}

#[test]
fn seed_004_epochs_match_the_published_table_per_seed() {
    let published = common::read_json(common::reference().join("exp_perlayer_batch.published.json"));
    let mut failures = Vec::new();
    for (key, variant, batch) in [
        ("standard+single", Variant::Standard, 1),
        ("perlayer+single", Variant::Perlayer, 1),
        ("standard+batch", Variant::Standard, 32),
        ("perlayer+batch", Variant::Perlayer, 32),
    ] {
        for entry in published["variants"][key]["per_seed"].as_array().unwrap() {
            let seed = entry["seed"].as_u64().unwrap();
            let want = entry["solve_epoch"].as_u64().unwrap() as usize;
            let got = seed004(variant, batch, seed);
            if got != Some(want) {
                failures.push(format!("{key} seed {seed}: {got:?}, published {want}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
