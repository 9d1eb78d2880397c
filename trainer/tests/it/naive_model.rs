//! The trainer against a naive model of the reference trainer: row-major
//! W1, plain loops written straight from `reference/README.md`, no SIMD,
//! no blocking, no speculation. Every parameter (not just the few that
//! `training.json` publishes) and every epoch's accuracy and loss must be
//! bit-identical, on shapes chosen to hit every remainder of the trainer's
//! SIMD blocks, for every variant, single-sample and mini-batch, tiled and
//! not. This is what keeps the trainer's fast paths honest.

// Index loops on purpose: they read like the reference's formulas.
#![allow(clippy::needless_range_loop)]

use memtrace_trainer::rng::NpRandomState;
use memtrace_trainer::run::{RunConfig, Trainer};
use memtrace_trainer::task::{RngKind, Shape};
use memtrace_trainer::train::Variant;

/// The reference network, W1 row-major (`w1[j][i]`).
#[derive(Clone)]
struct Net {
    w1: Vec<Vec<f64>>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: f64,
}

struct Pass {
    h_pre: Vec<f64>,
    h: Vec<f64>,
    out: f64,
}

fn relu(v: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}

fn upd(p: f64, g: f64, lr: f64, wd: f64) -> f64 {
    p - lr * (g + wd * p)
}

impl Net {
    fn forward(&self, x: &[f64]) -> Pass {
        let mut h_pre = Vec::new();
        for j in 0..self.b1.len() {
            let mut s = 0.0;
            for i in 0..x.len() {
                s += self.w1[j][i] * x[i];
            }
            h_pre.push(s + self.b1[j]);
        }
        let h: Vec<f64> = h_pre.iter().map(|&v| relu(v)).collect();
        let mut s = 0.0;
        for j in 0..h.len() {
            s += self.w2[j] * h[j];
        }
        Pass { h_pre, h, out: s + self.b2 }
    }

    fn dh_pre(&self, pass: &Pass, dout: f64) -> Vec<f64> {
        (0..self.b1.len()).map(|j| if pass.h_pre[j] > 0.0 { self.w2[j] * dout } else { 0.0 }).collect()
    }

    fn single_step(&mut self, x: &[f64], y: f64, lr: f64, wd: f64) {
        let pass = self.forward(x);
        if pass.out * y >= 1.0 {
            return;
        }
        let dout = -y;
        let dh_pre = self.dh_pre(&pass, dout);
        for j in 0..self.b1.len() {
            for i in 0..x.len() {
                self.w1[j][i] = upd(self.w1[j][i], dh_pre[j] * x[i], lr, wd);
            }
            self.b1[j] = upd(self.b1[j], dh_pre[j], lr, wd);
            self.w2[j] = upd(self.w2[j], dout * pass.h[j], lr, wd);
        }
        self.b2 = upd(self.b2, dout, lr, wd);
    }

    /// Seed 004's mini-batch step, with the rules `docs/variants.md` gives:
    /// averages over the full batch length; nothing changes without an
    /// active sample; per-layer takes layer 2 from a second forward pass.
    fn batch_step(&mut self, xs: &[&[f64]], ys: &[f64], perlayer: bool, lr: f64, wd: f64) {
        let (hd, n) = (self.b1.len(), xs[0].len());
        let b = xs.len() as f64;
        let mut a_w1 = vec![vec![0.0; n]; hd];
        let mut a_b1 = vec![0.0; hd];
        let mut a_w2 = vec![0.0; hd];
        let mut a_b2 = 0.0;
        let mut active = 0;
        for (x, &y) in xs.iter().zip(ys) {
            let pass = self.forward(x);
            if pass.out * y >= 1.0 {
                continue;
            }
            active += 1;
            let dout = -y;
            let dh_pre = self.dh_pre(&pass, dout);
            for j in 0..hd {
                for i in 0..n {
                    a_w1[j][i] += dh_pre[j] * x[i];
                }
                a_b1[j] += dh_pre[j];
                if !perlayer {
                    a_w2[j] += dout * pass.h[j];
                }
            }
            if !perlayer {
                a_b2 += dout;
            }
        }
        if active == 0 {
            return;
        }
        for j in 0..hd {
            for i in 0..n {
                self.w1[j][i] = upd(self.w1[j][i], a_w1[j][i] / b, lr, wd);
            }
            self.b1[j] = upd(self.b1[j], a_b1[j] / b, lr, wd);
        }
        if perlayer {
            let mut active2 = 0;
            for (x, &y) in xs.iter().zip(ys) {
                let pass = self.forward(x);
                if pass.out * y >= 1.0 {
                    continue;
                }
                active2 += 1;
                for j in 0..hd {
                    a_w2[j] += -y * pass.h[j];
                }
                a_b2 += -y;
            }
            if active2 == 0 {
                return;
            }
        }
        for j in 0..hd {
            self.w2[j] = upd(self.w2[j], a_w2[j] / b, lr, wd);
        }
        self.b2 = upd(self.b2, a_b2 / b, lr, wd);
    }

    /// (accuracy, mean hinge loss)
    fn evaluate(&self, x: &[f64], y: &[f64], n: usize) -> (f64, f64) {
        let (mut correct, mut loss) = (0usize, 0.0);
        for (s, &ys) in y.iter().enumerate() {
            let out = self.forward(&x[s * n..(s + 1) * n]).out;
            if (if out >= 0.0 { 1.0 } else { -1.0 }) == ys {
                correct += 1;
            }
            loss += f64::max(0.0, 1.0 - out * ys);
        }
        (correct as f64 / y.len() as f64, loss / y.len() as f64)
    }
}

/// Trains `cfg` for `epochs` epochs both ways and compares everything.
fn compare(cfg: RunConfig, epochs: usize) {
    let what = format!(
        "{} hidden {} n_bits {} batch {} tiles {:?}",
        cfg.variant.name(),
        cfg.shape.hidden,
        cfg.shape.n_bits,
        cfg.batch,
        cfg.tiles
    );
    let mut fast = Trainer::new(cfg.clone());
    let n = cfg.shape.n_bits;
    let data = fast.data().clone();
    let mut net = Net {
        w1: (0..cfg.shape.hidden).map(|j| fast.params().w1_row(j)).collect(),
        b1: fast.params().b1.clone(),
        w2: fast.params().w2.clone(),
        b2: fast.params().b2,
    };
    let mut shuffler = cfg.shuffle.then(|| NpRandomState::new(0));
    let mut changed = false;
    for e in 0..epochs {
        fast.epoch(&mut memtrace_trainer::train::NoTrace);
        fast.record_epoch();
        let mut order: Vec<usize> = (0..cfg.shape.n_train).collect();
        if let Some(r) = &mut shuffler {
            r.shuffle(&mut order);
        }
        for chunk in order.chunks(cfg.batch.max(1)) {
            let x_of = |s: usize| &data.x_train[s * n..(s + 1) * n];
            if cfg.batch <= 1 {
                net.single_step(x_of(chunk[0]), data.y_train[chunk[0]], cfg.lr, cfg.wd);
            } else {
                let xs: Vec<&[f64]> = chunk.iter().map(|&s| x_of(s)).collect();
                let ys: Vec<f64> = chunk.iter().map(|&s| data.y_train[s]).collect();
                net.batch_step(&xs, &ys, cfg.variant == Variant::Perlayer, cfg.lr, cfg.wd);
            }
        }
        let train = net.evaluate(&data.x_train, &data.y_train, n);
        let test = net.evaluate(&data.x_test, &data.y_test, n);
        let h = &fast.history;
        assert_eq!((h.train_accs[e], h.train_losses[e]), train, "{what}: epoch {e} train");
        assert_eq!((h.test_accs[e], h.test_losses[e]), test, "{what}: epoch {e} test");
        for j in 0..cfg.shape.hidden {
            assert_eq!(fast.params().w1_row(j), net.w1[j], "{what}: epoch {e} W1 row {j}");
        }
        assert_eq!(fast.params().b1, net.b1, "{what}: epoch {e} b1");
        assert_eq!(fast.params().w2, net.w2, "{what}: epoch {e} W2");
        assert_eq!(fast.params().b2, net.b2, "{what}: epoch {e} b2");
        changed |= net.b2 != 0.0;
    }
    // Guards the comparison itself: a run that never trains proves nothing.
    assert!(changed, "{what}: the parameters never changed");
}

fn config(hidden: usize, n_bits: usize, variant: Variant, batch: usize, tiles: Option<usize>) -> RunConfig {
    RunConfig {
        shape: Shape { n_bits, k: 3.min(n_bits), hidden, n_train: 120, n_test: 37 },
        lr: 0.1,
        wd: 0.01,
        seed: 11,
        rng: if batch > 1 { RngKind::Numpy } else { RngKind::Python },
        variant,
        batch,
        tiles,
        shuffle: batch > 1,
    }
}

const VARIANTS: [Variant; 3] = [Variant::Standard, Variant::Fused, Variant::Perlayer];

#[test]
fn single_sample_training_equals_the_naive_model_on_every_block_remainder() {
    // 1..=3 rows, one short of and one past the SIMD blocks of 4, 16 and 32,
    // and a size with every remainder at once.
    for hidden in [1, 3, 15, 17, 31, 33, 63, 100, 203] {
        for variant in VARIANTS {
            compare(config(hidden, 20, variant, 1, None), 4);
        }
    }
    for n_bits in [3, 7, 33] {
        compare(config(45, n_bits, Variant::Standard, 1, None), 4);
    }
}

#[test]
fn long_single_sample_runs_equal_the_naive_model() {
    // Late epochs, where most steps change nothing and the trainer reuses
    // outputs computed under the same parameters.
    for variant in VARIANTS {
        compare(config(64, 20, variant, 1, None), 16);
    }
    compare(config(200, 20, Variant::Standard, 1, Some(64)), 12);
}

#[test]
fn mini_batch_training_equals_the_naive_model() {
    // 120 samples in batches of 7 leave a short last batch of 1.
    for hidden in [5, 37, 64] {
        for variant in VARIANTS {
            compare(config(hidden, 20, variant, 7, None), 5);
            compare(config(hidden, 20, variant, 32, None), 5);
        }
    }
}

#[test]
fn tiled_training_equals_the_naive_model() {
    for variant in VARIANTS {
        for batch in [1, 7] {
            compare(config(50, 20, variant, batch, Some(13)), 3);
        }
    }
}
