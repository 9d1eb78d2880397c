//! Training runs: epochs over the training set (in order, or shuffled as
//! seed 004 does), evaluation after each epoch, and the stop rule of the
//! reference trainer.

use crate::aligned::AlignedF64;
use crate::kernels::{hidden_pre_many, output_many};
use crate::rng::NpRandomState;
use crate::task::{generate, Data, Params, RngKind, Shape};
use crate::train::{predict_with, NoTrace, StepConfig, Stepper, Tracer, Variant};

/// Everything that defines a training run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Bits, secret size, hidden units, samples.
    pub shape: Shape,
    /// Learning rate.
    pub lr: f64,
    /// Weight decay.
    pub wd: f64,
    /// Seed of data and initial weights.
    pub seed: u64,
    /// Which generator reproduces the reference (Python's `random` or numpy's).
    pub rng: RngKind,
    /// Standard, fused or per-layer backprop.
    pub variant: Variant,
    /// Samples per step (1: single-sample SGD).
    pub batch: usize,
    /// Hidden rows per W1 tile; `None` or >= hidden is one tile.
    pub tiles: Option<usize>,
    /// Shuffle the training set every epoch (numpy).
    pub shuffle: bool,
}

impl RunConfig {
    /// A run of seed document 004's table (the reference README's
    /// "Seed 004 published"): hidden 200, 1000 training samples, numpy's
    /// stream, shuffled epochs.
    pub fn seed_004(variant: Variant, batch: usize, seed: u64) -> RunConfig {
        RunConfig {
            shape: Shape { n_bits: 20, k: 3, hidden: 200, n_train: 1000, n_test: 200 },
            lr: 0.1,
            wd: 0.01,
            seed,
            rng: RngKind::Numpy,
            variant,
            batch,
            tiles: None,
            shuffle: true,
        }
    }
}

/// Accuracy and mean hinge loss over one set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eval {
    /// Accuracy, 0 to 1.
    pub acc: f64,
    /// Mean hinge loss.
    pub loss: f64,
}

/// The per-epoch record of a run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct History {
    /// Training accuracy after each epoch.
    pub train_accs: Vec<f64>,
    /// Test accuracy after each epoch.
    pub test_accs: Vec<f64>,
    /// Training loss after each epoch.
    pub train_losses: Vec<f64>,
    /// Test loss after each epoch.
    pub test_losses: Vec<f64>,
}

/// A training run: data, parameters and the steps of one variant.
pub struct Trainer {
    /// The run's configuration.
    pub cfg: RunConfig,
    data: Data,
    params: Params,
    /// The steps, with the parameters.
    pub stepper: Stepper,
    shuffler: Option<NpRandomState>,
    /// Accuracy and loss by epoch so far.
    pub history: History,
    /// Counts the steps that changed the parameters: outputs computed under
    /// the same version are the same bits, so they are computed once.
    version: u64,
    /// Each training sample's last computed output and its version.
    known: Vec<(u64, f64)>,
}

impl Trainer {
    /// Generates the data and initial weights of `cfg`.
    pub fn new(cfg: RunConfig) -> Trainer {
        let (data, params) = generate(&cfg.shape, cfg.seed, cfg.rng);
        let stepper = Stepper::new(StepConfig {
            n_bits: cfg.shape.n_bits,
            hidden: cfg.shape.hidden,
            lr: cfg.lr,
            wd: cfg.wd,
            variant: cfg.variant,
            tile: cfg.tiles.unwrap_or(cfg.shape.hidden).clamp(1, cfg.shape.hidden),
        });
        let shuffler = cfg.shuffle.then(|| NpRandomState::new(0));
        let known = vec![(u64::MAX, 0.0); cfg.shape.n_train];
        Trainer { cfg, data, params, stepper, shuffler, history: History::default(), version: 0, known }
    }

    /// The data set, as generated.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The current parameters (changed only by steps, which keeps the
    /// outputs this trainer remembers honest).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The output of training sample `s`, if known under the current parameters.
    fn known_output(&self, s: usize) -> Option<f64> {
        let (version, out) = self.known[s];
        (version == self.version).then_some(out)
    }

    /// The order in which the next epoch visits the training samples.
    pub fn epoch_order(&mut self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.cfg.shape.n_train).collect();
        if let Some(rng) = &mut self.shuffler {
            rng.shuffle(&mut order);
        }
        order
    }

    /// One training step on `samples` (one sample, or a batch).
    pub fn step<T: Tracer>(&mut self, samples: &[usize], t: &mut T) {
        let n = self.cfg.shape.n_bits;
        // A mini-batch run stays a mini-batch run for a short last batch of one.
        let changed = if self.cfg.batch <= 1 {
            let s = samples[0];
            let x = &self.data.x_train[s * n..(s + 1) * n];
            self.stepper.single_step(&mut self.params, x, self.data.y_train[s], t)
        } else {
            self.stepper.batch_step(&mut self.params, &self.data.x_train, &self.data.y_train, samples, t) > 0
        };
        self.version += changed as u64;
        t.end_step();
    }

    /// One epoch; `t` sees every step.
    pub fn epoch<T: Tracer>(&mut self, t: &mut T) {
        let order = self.epoch_order();
        if self.cfg.batch > 1 {
            for chunk in order.chunks(self.cfg.batch) {
                self.step(chunk, t);
                if t.interrupted() {
                    return;
                }
            }
            return;
        }
        // Single samples. A step whose margin is >= 1 changes nothing, so
        // outputs stay valid across such steps, which is most steps once
        // training fits most samples. Two ways to compute less, neither
        // changing a bit:
        // - an output already known under the current parameters (from the
        //   last evaluation, or earlier in this epoch) is not recomputed
        //   when it shows the step changes nothing;
        // - otherwise the next sample's forward pass is made in the same
        //   pass over W1 and used if this step changes nothing.
        let n = self.cfg.shape.n_bits;
        let x_of = |s: usize| s * n..(s + 1) * n;
        let mut ahead: Option<f64> = None;
        for (k, &s) in order.iter().enumerate() {
            let x = &self.data.x_train[x_of(s)];
            let y = self.data.y_train[s];
            let out = match (ahead.take(), self.known_output(s), order.get(k + 1)) {
                (Some(out), _, _) => {
                    self.stepper.take_ahead();
                    out
                }
                // The step will change nothing: no forward values are needed.
                (None, Some(out), _) if out * y >= 1.0 => out,
                (None, Some(_), _) | (None, None, None) => self.stepper.forward_values(&self.params, x),
                (None, None, Some(&next)) => {
                    let [out, next_out] = self.stepper.forward_pair(&self.params, [x, &self.data.x_train[x_of(next)]]);
                    self.known[next] = (self.version, next_out);
                    ahead = Some(next_out);
                    out
                }
            };
            self.known[s] = (self.version, out);
            if self.stepper.single_step_after_forward(&mut self.params, x, y, out, t) {
                self.version += 1;
                ahead = None;
            }
            t.end_step();
            if t.interrupted() {
                return;
            }
        }
    }

    /// Accuracy and loss over one set, given the outputs.
    fn score(outs: &[f64], y: &[f64]) -> Eval {
        let (mut correct, mut loss) = (0usize, 0.0);
        for (&out, &ys) in outs.iter().zip(y) {
            let pred = if out >= 0.0 { 1.0 } else { -1.0 };
            if pred == ys {
                correct += 1;
            }
            loss += f64::max(0.0, 1.0 - out * ys);
        }
        let count = y.len().max(1) as f64;
        Eval { acc: correct as f64 / count, loss: loss / count }
    }

    /// Evaluates the network on any set.
    pub fn evaluate(&self, x: &[f64], y: &[f64]) -> Eval {
        Self::score(&outputs(&self.params, x, self.cfg.shape.n_bits), y)
    }

    /// The output of every training sample, computing only those not known
    /// under the current parameters.
    fn training_outputs(&mut self) -> Vec<f64> {
        let n = self.cfg.shape.n_bits;
        let stale: Vec<usize> = (0..self.cfg.shape.n_train).filter(|&s| self.known_output(s).is_none()).collect();
        let xs: Vec<f64> = stale.iter().flat_map(|&s| self.data.x_train[s * n..(s + 1) * n].iter().copied()).collect();
        for (&s, out) in stale.iter().zip(outputs(&self.params, &xs, n)) {
            self.known[s] = (self.version, out);
        }
        self.known.iter().map(|&(_, out)| out).collect()
    }

    /// Evaluates both sets and appends to the history; returns the test accuracy.
    pub fn record_epoch(&mut self) -> f64 {
        let train = Self::score(&self.training_outputs(), &self.data.y_train);
        let test = self.evaluate(&self.data.x_test, &self.data.y_test);
        self.history.train_accs.push(train.acc);
        self.history.train_losses.push(train.loss);
        self.history.test_accs.push(test.acc);
        self.history.test_losses.push(test.loss);
        test.acc
    }

    /// Trains until test accuracy reaches `until_acc` or `max_epochs` pass;
    /// returns the 1-based epoch that reached it. `on_epoch` sees each epoch.
    pub fn train(&mut self, max_epochs: usize, until_acc: f64, mut on_epoch: impl FnMut(&Trainer)) -> Option<usize> {
        for e in 1..=max_epochs {
            self.epoch(&mut NoTrace);
            let acc = self.record_epoch();
            on_epoch(self);
            if acc >= until_acc {
                return Some(e);
            }
        }
        None
    }
}

/// The network's output for every sample of `x`, each computed exactly as
/// [`crate::train::predict`] does. Samples go four at a time: each block of
/// W1 is loaded once for all four, and their output sums are independent
/// chains that overlap, each still summed in order.
pub fn outputs(p: &Params, x: &[f64], n: usize) -> Vec<f64> {
    const GROUP: usize = 4;
    let hidden = p.hidden();
    let mut outs = Vec::with_capacity(x.len() / n.max(1));
    let mut bufs: [AlignedF64; GROUP] = std::array::from_fn(|_| AlignedF64::zeros(hidden));
    let mut groups = x.chunks_exact(GROUP * n);
    for xs in &mut groups {
        let xs: [&[f64]; GROUP] = std::array::from_fn(|k| &xs[k * n..(k + 1) * n]);
        let mut h_pre = bufs.each_mut().map(|b| b.as_mut_slice());
        hidden_pre_many(&p.w1t, &p.b1, xs, 0, hidden, &mut h_pre);
        outs.extend(output_many(&p.w2, p.b2, bufs.each_ref().map(|b| b.as_slice())));
    }
    for x in groups.remainder().chunks_exact(n) {
        outs.push(predict_with(p, x, n, &mut bufs[0]));
    }
    outs
}
