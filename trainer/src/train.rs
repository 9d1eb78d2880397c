//! Training steps of every variant, computing in the reference order (f64,
//! sums left to right from 0) and announcing each memory access to a
//! [`Tracer`] in the order the algorithm makes it. The untraced tracer is a
//! no-op the compiler removes, so training without a trace pays nothing.
//!
//! Access orders are documented in `docs/variants.md`; for the protocols
//! of `tests/data/reference/streams/` they are exactly the seeds'.

// Index loops mirror the reference's loops element for element, which keeps
// the summation order (and so every bit) easy to check against it.
#![allow(clippy::needless_range_loop)]

use memtrace::Op;

use crate::aligned::AlignedF64;
use crate::kernels::{self, hidden_pre, hidden_pre_many, output_many, output_sum, relu, update, update_w1};
use crate::task::Params;

/// The symbolic buffers of the network. Per-sample temporaries of a
/// mini-batch are distinct buffers, one per sample of the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Buf {
    /// First-layer weights.
    W1,
    /// First-layer biases.
    B1,
    /// Output weights.
    W2,
    /// Output bias.
    B2,
    /// A sample's input.
    X,
    /// A sample's label.
    Y,
    /// Hidden pre-activations.
    HPre,
    /// Hidden activations.
    H,
    /// The output.
    Out,
    /// Gradient at the output.
    Dout,
    /// Gradient of W2.
    DW2,
    /// Gradient of b2.
    DB2,
    /// Gradient at the hidden activations.
    Dh,
    /// Gradient at the hidden pre-activations.
    DhPre,
    /// Batch sum of W1's gradients.
    AccDW1,
    /// Batch sum of b1's gradients.
    AccDB1,
    /// Batch sum of W2's gradients.
    AccDW2,
    /// Batch sum of b2's gradients.
    AccDB2,
}

impl Buf {
    /// Every buffer, in trace order.
    pub const ALL: [Buf; 18] = [
        Buf::W1,
        Buf::B1,
        Buf::W2,
        Buf::B2,
        Buf::X,
        Buf::Y,
        Buf::HPre,
        Buf::H,
        Buf::Out,
        Buf::Dout,
        Buf::DW2,
        Buf::DB2,
        Buf::Dh,
        Buf::DhPre,
        Buf::AccDW1,
        Buf::AccDB1,
        Buf::AccDW2,
        Buf::AccDB2,
    ];

    /// The seeds' buffer name.
    pub fn name(self) -> &'static str {
        match self {
            Buf::W1 => "W1",
            Buf::B1 => "b1",
            Buf::W2 => "W2",
            Buf::B2 => "b2",
            Buf::X => "x",
            Buf::Y => "y",
            Buf::HPre => "h_pre",
            Buf::H => "h",
            Buf::Out => "out",
            Buf::Dout => "dout",
            Buf::DW2 => "dW2",
            Buf::DB2 => "db2",
            Buf::Dh => "dh",
            Buf::DhPre => "dh_pre",
            Buf::AccDW1 => "acc_dW1",
            Buf::AccDB1 => "acc_db1",
            Buf::AccDW2 => "acc_dW2",
            Buf::AccDB2 => "acc_db2",
        }
    }

    /// True for buffers that exist once per sample of a batch.
    pub fn per_sample(self) -> bool {
        matches!(
            self,
            Buf::X | Buf::Y | Buf::HPre | Buf::H | Buf::Out | Buf::Dout | Buf::DW2 | Buf::DB2 | Buf::Dh | Buf::DhPre
        )
    }

    /// What the buffer holds.
    pub fn role(self) -> memtrace::Role {
        use memtrace::Role;
        match self {
            Buf::W1 | Buf::B1 | Buf::W2 | Buf::B2 => Role::Parameter,
            Buf::X | Buf::Y => Role::Input,
            Buf::HPre | Buf::H | Buf::Out => Role::Activation,
            Buf::Dout | Buf::DW2 | Buf::DB2 | Buf::Dh | Buf::DhPre => Role::Gradient,
            Buf::AccDW1 | Buf::AccDB1 | Buf::AccDW2 | Buf::AccDB2 => Role::Accumulator,
        }
    }
}

/// Receives every access, in order: element range `[offset, offset + len)`
/// of buffer `buf` (of batch sample `sample` for per-sample buffers).
pub trait Tracer {
    /// `len` elements from `offset` of `buf` (of sample `sample` in a batch) are read or written.
    fn access(&mut self, buf: Buf, sample: usize, op: Op, offset: usize, len: usize);
    /// A training step ends.
    fn end_step(&mut self) {}
    /// Whether the run is being abandoned (Ctrl-C): an epoch then returns
    /// after the current step, so a stop takes one step, not one epoch.
    /// Never true in a run that completes, so it changes no number.
    fn interrupted(&self) -> bool {
        false
    }
}

/// Training without a trace.
pub struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn access(&mut self, _: Buf, _: usize, _: Op, _: usize, _: usize) {}
}

/// How a step orders its work (`docs/variants.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Forward, full backward, then all updates.
    Standard,
    /// Layer 2 is updated as soon as its gradient and dh exist.
    Fused,
    /// Each layer is updated right after its gradient, without gradient buffers.
    Perlayer,
}

impl Variant {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Standard => "standard",
            Variant::Fused => "fused",
            Variant::Perlayer => "perlayer",
        }
    }
}

/// Hyper-parameters of a step.
#[derive(Debug, Clone, Copy)]
pub struct StepConfig {
    /// Input bits.
    pub n_bits: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Learning rate.
    pub lr: f64,
    /// Weight decay.
    pub wd: f64,
    /// The variant.
    pub variant: Variant,
    /// Hidden rows per tile of W1 (>= hidden: one tile).
    pub tile: usize,
}

/// Per-sample scratch of the forward and backward passes.
#[derive(Clone)]
pub struct Scratch {
    h_pre: AlignedF64,
    h: AlignedF64,
    dh: AlignedF64,
    dh_pre: AlignedF64,
    /// The nonzero terms of the output sum.
    terms: Vec<f64>,
}

impl Scratch {
    fn new(hidden: usize) -> Scratch {
        Scratch {
            h_pre: AlignedF64::zeros(hidden),
            h: AlignedF64::zeros(hidden),
            dh: AlignedF64::zeros(hidden),
            dh_pre: AlignedF64::zeros(hidden),
            terms: vec![0.0; hidden],
        }
    }

    /// `dh = W2 dout` (the old W2) and `dh_pre = dh where h_pre > 0, else 0`;
    /// a select without branches, since the sign of `h_pre` is a coin flip.
    fn backprop_hidden(&mut self, w2: &[f64], dout: f64) {
        let rows = self.dh.iter_mut().zip(&mut self.dh_pre).zip(&self.h_pre).zip(w2);
        for (((dh, dh_pre), &h_pre), &w2) in rows {
            *dh = w2 * dout;
            *dh_pre = if h_pre > 0.0 { *dh } else { 0.0 };
        }
    }
}

/// Reusable state of the trainer's steps.
pub struct Stepper {
    /// The configuration.
    pub cfg: StepConfig,
    scratch: Vec<Scratch>,
    /// Column-major like `Params::w1t`.
    acc_w1: AlignedF64,
    acc_b1: Vec<f64>,
    acc_w2: Vec<f64>,
}

#[inline(always)]
fn r<T: Tracer>(t: &mut T, b: Buf, s: usize, off: usize, len: usize) {
    t.access(b, s, Op::Read, off, len)
}
#[inline(always)]
fn w<T: Tracer>(t: &mut T, b: Buf, s: usize, off: usize, len: usize) {
    t.access(b, s, Op::Write, off, len)
}

/// The output of the network for one input (no tracing; evaluation).
/// `h_pre` is scratch of length `hidden`.
pub fn predict_with(p: &Params, x: &[f64], n_bits: usize, h_pre: &mut [f64]) -> f64 {
    hidden_pre(&p.w1t, &p.b1, x, n_bits, 0, p.hidden(), h_pre);
    output_many(&p.w2, p.b2, [h_pre])[0]
}

/// [`predict_with`] with its own scratch.
pub fn predict(p: &Params, x: &[f64], n_bits: usize) -> f64 {
    predict_with(p, x, n_bits, &mut vec![0.0; p.b1.len()])
}

impl Stepper {
    /// Steps of `cfg` over zeroed parameters.
    pub fn new(cfg: StepConfig) -> Stepper {
        Stepper {
            cfg,
            scratch: vec![Scratch::new(cfg.hidden); 2],
            acc_w1: AlignedF64::zeros(cfg.hidden * cfg.n_bits),
            acc_b1: vec![0.0; cfg.hidden],
            acc_w2: vec![0.0; cfg.hidden],
        }
    }

    /// The tiles of the hidden dimension: `(first row, rows)`.
    fn tiles(&self) -> impl Iterator<Item = (usize, usize)> {
        let (h, t) = (self.cfg.hidden, self.cfg.tile.max(1));
        (0..h.div_ceil(t)).map(move |i| (i * t, t.min(h - i * t)))
    }

    /// Announces the parameters being loaded (the start of a traced window).
    pub fn write_params<T: Tracer>(&self, t: &mut T) {
        let n = self.cfg.n_bits;
        for (j0, len) in self.tiles() {
            w(t, Buf::W1, 0, j0 * n, len * n);
            w(t, Buf::B1, 0, j0, len);
        }
        w(t, Buf::W2, 0, 0, self.cfg.hidden);
        w(t, Buf::B2, 0, 0, 1);
    }

    /// The numbers of a forward pass of `x` into scratch slot 0, ready for
    /// [`Stepper::single_step_after_forward`]; returns `out`.
    pub fn forward_values(&mut self, p: &Params, x: &[f64]) -> f64 {
        self.compute_forward(p, x, 0)
    }

    /// The numbers of a forward pass into scratch slot `s`; returns `out`.
    /// Rows are independent sums, so tiles change no number and are left
    /// to [`Stepper::trace_forward`].
    fn compute_forward(&mut self, p: &Params, x: &[f64], s: usize) -> f64 {
        let sc = &mut self.scratch[s];
        hidden_pre(&p.w1t, &p.b1, x, self.cfg.n_bits, 0, self.cfg.hidden, &mut sc.h_pre);
        for (h, &h_pre) in sc.h.iter_mut().zip(&sc.h_pre) {
            *h = relu(h_pre);
        }
        output_sum(&p.w2, p.b2, &sc.h, &mut sc.terms)
    }

    /// The numbers of the forward passes of a batch's samples (`x_of(s)` for
    /// `s` in `0..count`) into scratch slots `0..count`, four samples per
    /// pass over W1; returns the outputs. The parameters are the same for
    /// every sample of a batch's pass, so this is what `count` calls of
    /// [`Stepper::compute_forward`] compute.
    fn compute_forward_batch<'x>(&mut self, p: &Params, count: usize, x_of: impl Fn(usize) -> &'x [f64]) -> Vec<f64> {
        let mut outs = Vec::with_capacity(count);
        let mut s = 0;
        while s + 4 <= count {
            outs.extend(self.forward_many(p, [x_of(s), x_of(s + 1), x_of(s + 2), x_of(s + 3)], s));
            s += 4;
        }
        for s in s..count {
            outs.push(self.compute_forward(p, x_of(s), s));
        }
        outs
    }

    /// The accesses of a forward pass of sample `s`, tile by tile.
    fn trace_forward<T: Tracer>(&self, s: usize, t: &mut T) {
        let (n, hd) = (self.cfg.n_bits, self.cfg.hidden);
        for (j0, len) in self.tiles() {
            r(t, Buf::X, s, 0, n);
            r(t, Buf::W1, 0, j0 * n, len * n);
            r(t, Buf::B1, 0, j0, len);
            w(t, Buf::HPre, s, j0, len);
            r(t, Buf::HPre, s, j0, len);
            w(t, Buf::H, s, j0, len);
        }
        for (j0, len) in self.tiles() {
            r(t, Buf::H, s, j0, len);
        }
        r(t, Buf::W2, 0, 0, hd);
        r(t, Buf::B2, 0, 0, 1);
        w(t, Buf::Out, s, 0, 1);
    }

    /// Forward passes of two samples under the same parameters, into
    /// scratch slots 0 and 1, in one pass over W1; returns both outputs.
    /// The second is what a single step on `xs[1]` would compute as long as
    /// the step on `xs[0]` changes nothing (see [`Stepper::take_ahead`]).
    pub fn forward_pair(&mut self, p: &Params, xs: [&[f64]; 2]) -> [f64; 2] {
        self.forward_many(p, xs, 0)
    }

    /// Forward passes of `S` samples under the same parameters into scratch
    /// slots `first..first + S`, in one pass over W1; returns the outputs.
    fn forward_many<const S: usize>(&mut self, p: &Params, xs: [&[f64]; S], first: usize) -> [f64; S] {
        let n = self.cfg.n_bits;
        let slots = &mut self.scratch[first..first + S];
        let mut each = slots.iter_mut();
        let mut h_pre: [&mut [f64]; S] =
            std::array::from_fn(|_| each.next().map_or(&mut [][..], |sc| sc.h_pre.as_mut_slice()));
        hidden_pre_many(&p.w1t, &p.b1, xs.map(|x| &x[..n]), 0, self.cfg.hidden, &mut h_pre);
        for sc in slots.iter_mut() {
            for (h, &h_pre) in sc.h.iter_mut().zip(&sc.h_pre) {
                *h = relu(h_pre);
            }
        }
        output_many(&p.w2, p.b2, std::array::from_fn(|k| slots[k].h.as_slice()))
    }

    /// Makes slot 1 of [`Stepper::forward_pair`] the current forward pass.
    pub fn take_ahead(&mut self) {
        self.scratch.swap(0, 1);
    }

    fn update_layer2<T: Tracer>(&self, p: &mut Params, dout: f64, s: usize, t: &mut T) {
        let (lr, wd, hd) = (self.cfg.lr, self.cfg.wd, self.cfg.hidden);
        r(t, Buf::DW2, s, 0, hd);
        r(t, Buf::W2, 0, 0, hd);
        let h = &self.scratch[s].h;
        for j in 0..hd {
            p.w2[j] = update(p.w2[j], dout * h[j], lr, wd);
        }
        w(t, Buf::W2, 0, 0, hd);
        r(t, Buf::DB2, s, 0, 1);
        r(t, Buf::B2, 0, 0, 1);
        p.b2 = update(p.b2, dout, lr, wd);
        w(t, Buf::B2, 0, 0, 1);
    }

    /// One single-sample SGD step; true if the margin was < 1 (parameters changed).
    pub fn single_step<T: Tracer>(&mut self, p: &mut Params, x: &[f64], y: f64, t: &mut T) -> bool {
        let out = self.compute_forward(p, x, 0);
        self.single_step_after_forward(p, x, y, out, t)
    }

    /// [`Stepper::single_step`] whose forward pass, with output `out`, is
    /// already in scratch slot 0 (computed under the current parameters).
    pub fn single_step_after_forward<T: Tracer>(
        &mut self,
        p: &mut Params,
        x: &[f64],
        y: f64,
        out: f64,
        t: &mut T,
    ) -> bool {
        let (n, hd, lr, wd) = (self.cfg.n_bits, self.cfg.hidden, self.cfg.lr, self.cfg.wd);
        let variant = self.cfg.variant;
        let tiles: Vec<(usize, usize)> = self.tiles().collect();
        w(t, Buf::X, 0, 0, n);
        w(t, Buf::Y, 0, 0, 1);
        self.trace_forward(0, t);
        if variant != Variant::Perlayer {
            r(t, Buf::Out, 0, 0, 1);
            r(t, Buf::Y, 0, 0, 1);
        }
        if out * y >= 1.0 {
            return false;
        }
        let dout = -y;
        self.scratch[0].backprop_hidden(&p.w2, dout);
        match variant {
            Variant::Standard | Variant::Fused => {
                w(t, Buf::Dout, 0, 0, 1);
                r(t, Buf::Dout, 0, 0, 1);
                for &(j0, len) in &tiles {
                    r(t, Buf::H, 0, j0, len);
                }
                w(t, Buf::DW2, 0, 0, hd);
                w(t, Buf::DB2, 0, 0, 1);
                r(t, Buf::W2, 0, 0, hd);
                r(t, Buf::Dout, 0, 0, 1);
                w(t, Buf::Dh, 0, 0, hd);
                if variant == Variant::Fused {
                    self.update_layer2(p, dout, 0, t);
                }
                for &(j0, len) in &tiles {
                    r(t, Buf::Dh, 0, j0, len);
                    r(t, Buf::HPre, 0, j0, len);
                    w(t, Buf::DhPre, 0, j0, len);
                    r(t, Buf::DhPre, 0, j0, len);
                    r(t, Buf::X, 0, 0, n);
                    r(t, Buf::W1, 0, j0 * n, len * n);
                    self.update_w1_rows(p, x, j0, len);
                    w(t, Buf::W1, 0, j0 * n, len * n);
                    r(t, Buf::DhPre, 0, j0, len);
                    r(t, Buf::B1, 0, j0, len);
                    self.update_b1_rows(p, j0, len);
                    w(t, Buf::B1, 0, j0, len);
                }
                if variant == Variant::Standard {
                    self.update_layer2(p, dout, 0, t);
                }
            }
            Variant::Perlayer => {
                for &(j0, len) in &tiles {
                    r(t, Buf::H, 0, j0, len);
                }
                r(t, Buf::W2, 0, 0, hd); // dh from the old W2
                r(t, Buf::W2, 0, 0, hd);
                let h = &self.scratch[0].h;
                for j in 0..hd {
                    p.w2[j] = update(p.w2[j], dout * h[j], lr, wd);
                }
                w(t, Buf::W2, 0, 0, hd);
                r(t, Buf::B2, 0, 0, 1);
                p.b2 = update(p.b2, dout, lr, wd);
                w(t, Buf::B2, 0, 0, 1);
                for &(j0, len) in &tiles {
                    r(t, Buf::HPre, 0, j0, len);
                    r(t, Buf::X, 0, 0, n);
                    r(t, Buf::W1, 0, j0 * n, len * n);
                    self.update_w1_rows(p, x, j0, len);
                    w(t, Buf::W1, 0, j0 * n, len * n);
                    r(t, Buf::B1, 0, j0, len);
                    self.update_b1_rows(p, j0, len);
                    w(t, Buf::B1, 0, j0, len);
                }
            }
        }
        true
    }

    fn update_w1_rows(&self, p: &mut Params, x: &[f64], j0: usize, len: usize) {
        let (n, hd, lr, wd) = (self.cfg.n_bits, self.cfg.hidden, self.cfg.lr, self.cfg.wd);
        update_w1(&mut p.w1t, &self.scratch[0].dh_pre[j0..j0 + len], &x[..n], hd, j0, lr, wd);
    }

    fn update_b1_rows(&self, p: &mut Params, j0: usize, len: usize) {
        let (lr, wd) = (self.cfg.lr, self.cfg.wd);
        let dh_pre = &self.scratch[0].dh_pre;
        for j in j0..j0 + len {
            p.b1[j] = update(p.b1[j], dh_pre[j], lr, wd);
        }
    }

    /// One mini-batch step over `samples` (indices into `xs`/`ys`); gradients
    /// of the samples with margin < 1 are summed and divided by the batch
    /// length (the last batch of an epoch may be short). A batch (or, for
    /// per-layer, a pass) without such a sample updates nothing, which is
    /// what reproduces seed 004's published epochs for every seed.
    /// Returns how many samples had margin < 1.
    pub fn batch_step<T: Tracer>(
        &mut self,
        p: &mut Params,
        xs: &[f64],
        ys: &[f64],
        samples: &[usize],
        t: &mut T,
    ) -> usize {
        let (n, hd, lr, wd) = (self.cfg.n_bits, self.cfg.hidden, self.cfg.lr, self.cfg.wd);
        let variant = self.cfg.variant;
        let bsz = samples.len();
        if self.scratch.len() < bsz {
            self.scratch.resize(bsz, Scratch::new(hd));
        }
        let tiles: Vec<(usize, usize)> = self.tiles().collect();
        let x_of = |i: usize| &xs[samples[i] * n..(samples[i] + 1) * n];
        // Parameters are read once at the start of the batch.
        for &(j0, len) in &tiles {
            r(t, Buf::W1, 0, j0 * n, len * n);
            r(t, Buf::B1, 0, j0, len);
        }
        r(t, Buf::W2, 0, 0, hd);
        r(t, Buf::B2, 0, 0, 1);
        self.acc_w1.iter_mut().for_each(|v| *v = 0.0);
        self.acc_b1.iter_mut().for_each(|v| *v = 0.0);
        self.acc_w2.iter_mut().for_each(|v| *v = 0.0);
        let mut acc_b2 = 0.0;
        w(t, Buf::AccDW1, 0, 0, hd * n);
        w(t, Buf::AccDB1, 0, 0, hd);
        if variant != Variant::Perlayer {
            w(t, Buf::AccDW2, 0, 0, hd);
            w(t, Buf::AccDB2, 0, 0, 1);
        }
        let mut active = 0;
        let mut active2 = 0;
        let outs = self.compute_forward_batch(p, bsz, x_of);
        for s in 0..bsz {
            let x = x_of(s);
            let y = ys[samples[s]];
            w(t, Buf::X, s, 0, n);
            w(t, Buf::Y, s, 0, 1);
            let out = outs[s];
            self.trace_forward(s, t);
            r(t, Buf::Out, s, 0, 1);
            r(t, Buf::Y, s, 0, 1);
            if out * y >= 1.0 {
                continue;
            }
            active += 1;
            let dout = -y;
            self.scratch[s].backprop_hidden(&p.w2, dout);
            if variant == Variant::Perlayer {
                r(t, Buf::W2, 0, 0, hd);
            } else {
                w(t, Buf::Dout, s, 0, 1);
                r(t, Buf::Dout, s, 0, 1);
                for &(j0, len) in &tiles {
                    r(t, Buf::H, s, j0, len);
                }
                w(t, Buf::DW2, s, 0, hd);
                w(t, Buf::DB2, s, 0, 1);
                r(t, Buf::W2, 0, 0, hd);
                r(t, Buf::Dout, s, 0, 1);
                w(t, Buf::Dh, s, 0, hd);
                if variant == Variant::Fused {
                    self.accumulate_layer2(dout, s, &mut acc_b2, t);
                }
            }
            for &(j0, len) in &tiles {
                if variant == Variant::Perlayer {
                    r(t, Buf::HPre, s, j0, len);
                } else {
                    r(t, Buf::Dh, s, j0, len);
                    r(t, Buf::HPre, s, j0, len);
                    w(t, Buf::DhPre, s, j0, len);
                    r(t, Buf::DhPre, s, j0, len);
                }
                r(t, Buf::X, s, 0, n);
                r(t, Buf::AccDW1, 0, j0 * n, len * n);
                let dh_pre = &self.scratch[s].dh_pre;
                kernels::accumulate_w1(&mut self.acc_w1, &dh_pre[j0..j0 + len], &x[..n], hd, j0);
                w(t, Buf::AccDW1, 0, j0 * n, len * n);
                r(t, Buf::AccDB1, 0, j0, len);
                for j in j0..j0 + len {
                    self.acc_b1[j] += dh_pre[j];
                }
                w(t, Buf::AccDB1, 0, j0, len);
            }
            if variant == Variant::Standard {
                self.accumulate_layer2(dout, s, &mut acc_b2, t);
            }
        }
        let b = bsz as f64;
        // As with a single sample, a batch without a sample of margin < 1 changes nothing.
        if active == 0 {
            return 0;
        }
        // Layer 1.
        for &(j0, len) in &tiles {
            r(t, Buf::AccDW1, 0, j0 * n, len * n);
            r(t, Buf::W1, 0, j0 * n, len * n);
            for i in 0..n {
                let col = i * hd + j0..i * hd + j0 + len;
                kernels::update_mean(&mut p.w1t[col.clone()], &self.acc_w1[col], b, lr, wd);
            }
            w(t, Buf::W1, 0, j0 * n, len * n);
            r(t, Buf::AccDB1, 0, j0, len);
            r(t, Buf::B1, 0, j0, len);
            kernels::update_mean(&mut p.b1[j0..j0 + len], &self.acc_b1[j0..j0 + len], b, lr, wd);
            w(t, Buf::B1, 0, j0, len);
        }
        if variant == Variant::Perlayer {
            // Per-layer re-runs the forward pass with the new layer 1 and
            // takes the layer-2 gradient from that second pass.
            w(t, Buf::AccDW2, 0, 0, hd);
            w(t, Buf::AccDB2, 0, 0, 1);
            let outs = self.compute_forward_batch(p, bsz, x_of);
            for s in 0..bsz {
                let y = ys[samples[s]];
                let out = outs[s];
                self.trace_forward(s, t);
                r(t, Buf::Out, s, 0, 1);
                r(t, Buf::Y, s, 0, 1);
                if out * y >= 1.0 {
                    continue;
                }
                let dout = -y;
                active2 += 1;
                for &(j0, len) in &tiles {
                    r(t, Buf::H, s, j0, len);
                }
                r(t, Buf::AccDW2, 0, 0, hd);
                kernels::axpy(&mut self.acc_w2, dout, &self.scratch[s].h);
                w(t, Buf::AccDW2, 0, 0, hd);
                r(t, Buf::AccDB2, 0, 0, 1);
                acc_b2 += dout;
                w(t, Buf::AccDB2, 0, 0, 1);
            }
        }
        if variant == Variant::Perlayer && active2 == 0 {
            // Nothing in the second pass has margin < 1: layer 2 stays.
            return active;
        }
        r(t, Buf::AccDW2, 0, 0, hd);
        r(t, Buf::W2, 0, 0, hd);
        kernels::update_mean(&mut p.w2, &self.acc_w2, b, lr, wd);
        w(t, Buf::W2, 0, 0, hd);
        r(t, Buf::AccDB2, 0, 0, 1);
        r(t, Buf::B2, 0, 0, 1);
        p.b2 = update(p.b2, acc_b2 / b, lr, wd);
        w(t, Buf::B2, 0, 0, 1);
        active
    }

    fn accumulate_layer2<T: Tracer>(&mut self, dout: f64, s: usize, acc_b2: &mut f64, t: &mut T) {
        let hd = self.cfg.hidden;
        r(t, Buf::DW2, s, 0, hd);
        r(t, Buf::AccDW2, 0, 0, hd);
        kernels::axpy(&mut self.acc_w2, dout, &self.scratch[s].h[..hd]);
        w(t, Buf::AccDW2, 0, 0, hd);
        r(t, Buf::DB2, s, 0, 1);
        r(t, Buf::AccDB2, 0, 0, 1);
        *acc_b2 += dout;
        w(t, Buf::AccDB2, 0, 0, 1);
    }
}
