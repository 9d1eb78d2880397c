//! The sparse-parity task and the initial weights, generated exactly as the
//! reference trainer does with Python's `random` (seed documents 000-003)
//! or numpy's legacy `RandomState` (seed document 004).

use crate::aligned::AlignedF64;
use crate::rng::{NpRandomState, PyRandom};

/// Which random stream generates data and weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RngKind {
    /// Python's `random` (the seeds' reference trainer).
    Python,
    /// numpy's legacy `RandomState` (seed 004).
    Numpy,
}

/// The problem and network sizes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shape {
    /// Input bits.
    pub n_bits: usize,
    /// Bits of the secret parity.
    pub k: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Training samples.
    pub n_train: usize,
    /// Test samples.
    pub n_test: usize,
}

impl Shape {
    /// Checks the shape can be trained (a clear message when not).
    pub fn validate(&self) -> Result<(), String> {
        if self.n_bits == 0 {
            return Err("--n-bits must be at least 1".into());
        }
        if self.k == 0 || self.k > self.n_bits {
            return Err(format!("--k must be from 1 to --n-bits ({}); got {}", self.n_bits, self.k));
        }
        if self.hidden == 0 {
            return Err("--hidden must be at least 1".into());
        }
        if self.n_train == 0 {
            return Err("--n-train must be at least 1".into());
        }
        if self.n_bits > u32::MAX as usize / 2 || self.hidden.checked_mul(self.n_bits).is_none_or(|p| p > 1 << 34) {
            return Err("the network is too large (hidden x n-bits must stay below 2^34)".into());
        }
        Ok(())
    }

    /// The bytes a run of this shape holds, roughly (within a small factor
    /// of what it allocates): the samples, three copies of W1 (as generated,
    /// transposed, and a batch's gradient) and the per-sample temporaries of
    /// a batch of `batch`. `None` when that does not fit in a u64.
    pub fn bytes_needed(&self, batch: usize) -> Option<u64> {
        let f = |v: usize| u64::try_from(v).ok();
        let (n, hidden) = (f(self.n_bits)?, f(self.hidden)?);
        let samples = f(self.n_train)?.checked_add(f(self.n_test)?)?;
        let data = samples.checked_mul(n + 1)?;
        let network = hidden.checked_mul(n)?.checked_mul(3)?.checked_add(hidden.checked_mul(10)?)?;
        let temporaries = f(batch.clamp(2, self.n_train.max(2)))?.checked_mul(hidden)?.checked_mul(5)?;
        data.checked_add(network)?.checked_add(temporaries)?.checked_mul(8)
    }
}

/// Samples row-major: `x[s * n_bits + i]`, labels in {-1, +1}.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// The secret bit indices.
    pub secret: Vec<usize>,
    /// Training inputs, row-major, +1/-1.
    pub x_train: Vec<f64>,
    /// Training labels, +1/-1.
    pub y_train: Vec<f64>,
    /// Test inputs.
    pub x_test: Vec<f64>,
    /// Test labels.
    pub y_test: Vec<f64>,
}

/// The network's parameters. W1 is stored column-major (`w1t[i * hidden + j]`
/// is W1[j][i]) so that the forward pass runs along contiguous memory; the
/// traces address W1 row-major, as the seeds do.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Cache-line aligned: the kernels' four-double loads then never
    /// straddle two lines (hidden a multiple of 4).
    pub w1t: AlignedF64,
    /// Hidden biases.
    pub b1: Vec<f64>,
    /// Output weights.
    pub w2: Vec<f64>,
    /// Output bias.
    pub b2: f64,
}

fn label(x: &[f64], secret: &[usize]) -> f64 {
    secret.iter().fold(1.0, |p, &i| p * x[i])
}

/// The data and initial parameters of `shape` from `seed`, bit for bit as the reference draws them.
pub fn generate(shape: &Shape, seed: u64, rng: RngKind) -> (Data, Params) {
    let n = shape.n_bits;
    let mut x_train = Vec::with_capacity(shape.n_train * n);
    let mut x_test = Vec::with_capacity(shape.n_test * n);
    let secret: Vec<usize>;
    let mut w1 = Vec::with_capacity(shape.hidden * n);
    let mut w2 = Vec::with_capacity(shape.hidden);
    let s1 = (2.0 / n as f64).sqrt();
    let s2 = (2.0 / shape.hidden as f64).sqrt();
    match rng {
        RngKind::Python => {
            let mut r = PyRandom::new(seed);
            let mut s: Vec<usize> = r.sample_range(n as u32, shape.k as u32).into_iter().map(|v| v as usize).collect();
            s.sort_unstable();
            secret = s;
            for _ in 0..shape.n_train * n {
                x_train.push(r.choice(&[-1.0, 1.0]));
            }
            for _ in 0..shape.n_test * n {
                x_test.push(r.choice(&[-1.0, 1.0]));
            }
            let mut w = PyRandom::new(seed + 1);
            for _ in 0..shape.hidden * n {
                w1.push(w.gauss(s1));
            }
            for _ in 0..shape.hidden {
                w2.push(w.gauss(s2));
            }
        }
        RngKind::Numpy => {
            let mut r = NpRandomState::new(seed as u32);
            let mut perm: Vec<usize> = (0..n).collect();
            r.shuffle(&mut perm);
            let mut s = perm[..shape.k].to_vec();
            s.sort_unstable();
            secret = s;
            let pm = [-1.0, 1.0];
            for _ in 0..shape.n_train * n {
                x_train.push(pm[(r.next_u32() & 1) as usize]);
            }
            for _ in 0..shape.n_test * n {
                x_test.push(pm[(r.next_u32() & 1) as usize]);
            }
            let mut w = NpRandomState::new((seed + 1) as u32);
            for _ in 0..shape.hidden * n {
                w1.push(w.standard_normal() * s1);
            }
            for _ in 0..shape.hidden {
                w2.push(w.standard_normal() * s2);
            }
        }
    }
    let y_train = x_train.chunks_exact(n).map(|x| label(x, &secret)).collect();
    let y_test = x_test.chunks_exact(n).map(|x| label(x, &secret)).collect();
    // Drawn row by row (W1[0][0], W1[0][1], ...), stored column-major.
    let mut w1t = AlignedF64::zeros(w1.len());
    for (k, v) in w1.into_iter().enumerate() {
        w1t[(k % n) * shape.hidden + k / n] = v;
    }
    let params = Params { w1t, b1: vec![0.0; shape.hidden], w2, b2: 0.0 };
    (Data { secret, x_train, y_train, x_test, y_test }, params)
}

impl Params {
    /// Hidden units.
    pub fn hidden(&self) -> usize {
        self.b1.len()
    }

    /// Row `j` of W1 (the weights into hidden unit `j`).
    pub fn w1_row(&self, j: usize) -> Vec<f64> {
        let h = self.hidden();
        (0..self.w1t.len() / h).map(|i| self.w1t[i * h + j]).collect()
    }
}
