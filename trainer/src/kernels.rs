//! The numeric inner loops of training and evaluation, where all the time
//! goes: the hidden pre-activations of one or several samples, the output
//! sums, and the W1 update. Each has a portable version, written as plainly
//! as the reference, and an AVX2 version chosen at run time that gives the
//! same bits: every sum still runs left to right from 0, and multiply and
//! add stay separate instructions (Rust never fuses them into an FMA).
//!
//! W1 is column-major here (`w1t[i * hidden + j]` is W1[j][i]), so that the
//! rows of the network are contiguous lanes of SIMD registers.

/// `max(0, v)` as Python computes it.
#[inline(always)]
pub fn relu(v: f64) -> f64 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}

/// `p - lr (g + wd p)`.
#[inline(always)]
pub fn update(p: f64, g: f64, lr: f64, wd: f64) -> f64 {
    p - lr * (g + wd * p)
}

/// True when the running CPU has AVX2 (checked once, then cached by std).
#[inline(always)]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `h_pre[k][j] = (sum_i W1[j][i] xs[k][i]) + b1[j]` for rows `j0..j0 + len`
/// of `S` samples at once. Every `xs[k]` holds the `n` inputs (`n` =
/// `w1t.len() / hidden`); every `h_pre[k]` has `hidden` rows.
///
/// Several samples at once matter because W1 outgrows L1 at a few hundred
/// hidden units: a block of W1 loaded once serves all `S` samples.
///
/// # Panics
/// If the lengths disagree (a bug of the caller, never a property of data).
#[inline]
pub fn hidden_pre_many<const S: usize>(
    w1t: &[f64],
    b1: &[f64],
    xs: [&[f64]; S],
    j0: usize,
    len: usize,
    h_pre: &mut [&mut [f64]; S],
) {
    let hidden = b1.len();
    let n = w1t.len().checked_div(hidden).unwrap_or(0);
    assert!(
        w1t.len() == n * hidden
            && xs.iter().all(|x| x.len() == n)
            && h_pre.iter().all(|h| h.len() == hidden)
            && j0 + len <= hidden,
        "hidden_pre_many: inconsistent shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked), and the shapes were checked above.
        return unsafe { avx2::hidden_pre(w1t, b1, &xs, j0, len, h_pre) };
    }
    portable::hidden_pre(w1t, b1, &xs, j0, len, h_pre)
}

/// [`hidden_pre_many`] for one sample: `x` holds (at least) `n` inputs.
#[inline]
pub fn hidden_pre(w1t: &[f64], b1: &[f64], x: &[f64], n: usize, j0: usize, len: usize, h_pre: &mut [f64]) {
    hidden_pre_many(w1t, b1, [&x[..n]], j0, len, &mut [h_pre])
}

/// `(sum_j W2[j] relu(h_pre[k][j])) + b2` for `S` samples, each summed in
/// order. The sum is a chain of dependent additions; `S` independent chains
/// overlap their latencies.
#[inline]
pub fn output_many<const S: usize>(w2: &[f64], b2: f64, h_pre: [&[f64]; S]) -> [f64; S] {
    // Slices of one length up front: with no bounds check left in the loop,
    // the accumulators stay in registers instead of round-tripping through
    // the stack on every addition.
    let h_pre = h_pre.map(|h| &h[..w2.len()]);
    let mut acc = [0.0f64; S];
    for (j, &w) in w2.iter().enumerate() {
        for k in 0..S {
            acc[k] += w * relu(h_pre[k][j]);
        }
    }
    acc.map(|a| a + b2)
}

/// `(sum_j W2[j] h[j]) + b2` in order, with `h` already rectified, for one
/// sample; `terms` is scratch of `h.len()`.
///
/// The sum is a chain of dependent additions, and about half its terms are
/// zeros from the ReLU. Those are left out, which changes no bit: the sum
/// starts at +0, `v + ±0 == v` for every `v != 0`, `+0 + ±0 == +0`, and an
/// exact sum of nonzero terms is +0, never -0, so the running sum is never
/// -0. (A term that is NaN, from an infinite weight, is not zero and stays.)
#[inline]
pub fn output_sum(w2: &[f64], b2: f64, h: &[f64], terms: &mut [f64]) -> f64 {
    let terms = &mut terms[..h.len()];
    let mut kept = 0;
    for (&w, &h) in w2.iter().zip(h) {
        let term = w * h;
        // Written unconditionally, kept by advancing: no branch to mispredict.
        terms[kept] = term;
        kept += (term != 0.0) as usize;
        // Never taken before the last term (kept <= j); it tells the
        // compiler that the next write is in bounds, which measured faster.
        if kept == terms.len() {
            break;
        }
    }
    let mut acc = 0.0;
    for &term in &terms[..kept] {
        acc += term;
    }
    acc + b2
}

/// `W1[j][i] = p - lr (dh_pre[j] x[i] + wd p)` for rows `j0..j0 + dh_pre.len()`:
/// the per-sample W1 update over one tile.
///
/// # Panics
/// If the lengths disagree.
#[inline]
pub fn update_w1(w1t: &mut [f64], dh_pre: &[f64], x: &[f64], hidden: usize, j0: usize, lr: f64, wd: f64) {
    assert!(w1t.len() == x.len() * hidden && j0 + dh_pre.len() <= hidden, "update_w1: inconsistent shapes");
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked), and the shapes were checked above.
        return unsafe { avx2::update_w1(w1t, dh_pre, x, hidden, j0, lr, wd) };
    }
    portable::update_w1(w1t, dh_pre, x, hidden, j0, lr, wd)
}

/// `acc[i][j] += dh_pre[j] x[i]` for rows `j0..j0 + dh_pre.len()` of the
/// column-major `acc` (W1's shape): a batch's W1 gradient, one sample at a
/// time, as the reference sums it.
///
/// # Panics
/// If the lengths disagree.
#[inline]
pub fn accumulate_w1(acc: &mut [f64], dh_pre: &[f64], x: &[f64], hidden: usize, j0: usize) {
    assert!(acc.len() == x.len() * hidden && j0 + dh_pre.len() <= hidden, "accumulate_w1: inconsistent shapes");
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked).
        return unsafe { avx2::elementwise(|| portable::accumulate_w1(acc, dh_pre, x, hidden, j0)) };
    }
    portable::accumulate_w1(acc, dh_pre, x, hidden, j0)
}

/// `acc[j] += a v[j]`.
#[inline]
pub fn axpy(acc: &mut [f64], a: f64, v: &[f64]) {
    assert_eq!(acc.len(), v.len(), "axpy: inconsistent lengths");
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked).
        return unsafe { avx2::elementwise(|| portable::axpy(acc, a, v)) };
    }
    portable::axpy(acc, a, v)
}

/// `p[k] = p[k] - lr (acc[k] / b + wd p[k])`: a mini-batch update from
/// summed gradients (divided, never multiplied by `1 / b`, as the reference).
#[inline]
pub fn update_mean(p: &mut [f64], acc: &[f64], b: f64, lr: f64, wd: f64) {
    assert_eq!(p.len(), acc.len(), "update_mean: inconsistent lengths");
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has AVX2 (checked).
        return unsafe { avx2::elementwise(|| portable::update_mean(p, acc, b, lr, wd)) };
    }
    portable::update_mean(p, acc, b, lr, wd)
}

/// The plain loops, for CPUs without AVX2 and as the model the AVX2 loops
/// are tested against.
mod portable {
    use super::update;

    // Element-wise loops: compiled inside `avx2::elementwise` they become
    // AVX2 loops with the same operations per element, so the same bits.
    #[inline(always)]
    pub fn accumulate_w1(acc: &mut [f64], dh_pre: &[f64], x: &[f64], hidden: usize, j0: usize) {
        let len = dh_pre.len();
        for (i, &xi) in x.iter().enumerate() {
            let col = &mut acc[i * hidden + j0..i * hidden + j0 + len];
            for (a, &g) in col.iter_mut().zip(dh_pre) {
                *a += g * xi;
            }
        }
    }

    #[inline(always)]
    pub fn axpy(acc: &mut [f64], a: f64, v: &[f64]) {
        for (s, &e) in acc.iter_mut().zip(v) {
            *s += a * e;
        }
    }

    #[inline(always)]
    pub fn update_mean(p: &mut [f64], acc: &[f64], b: f64, lr: f64, wd: f64) {
        for (v, &g) in p.iter_mut().zip(acc) {
            *v = update(*v, g / b, lr, wd);
        }
    }

    pub fn hidden_pre<const S: usize>(
        w1t: &[f64],
        b1: &[f64],
        xs: &[&[f64]; S],
        j0: usize,
        len: usize,
        h_pre: &mut [&mut [f64]; S],
    ) {
        let hidden = b1.len();
        for k in 0..S {
            for j in j0..j0 + len {
                let mut acc = 0.0;
                for (i, &xi) in xs[k].iter().enumerate() {
                    acc += w1t[i * hidden + j] * xi;
                }
                h_pre[k][j] = acc + b1[j];
            }
        }
    }

    pub fn update_w1(w1t: &mut [f64], dh_pre: &[f64], x: &[f64], hidden: usize, j0: usize, lr: f64, wd: f64) {
        for (i, &xi) in x.iter().enumerate() {
            let col = &mut w1t[i * hidden + j0..i * hidden + j0 + dh_pre.len()];
            for (wv, &g) in col.iter_mut().zip(dh_pre) {
                *wv = update(*wv, g * xi, lr, wd);
            }
        }
    }
}

/// AVX2 versions: four rows to a register, enough independent accumulators
/// to cover the latency of an addition, and the same operations in the
/// same order per element as [`portable`].
#[cfg(target_arch = "x86_64")]
// Registers are indexed in step across parallel arrays (`w[v]`, `acc[k][v]`):
// index loops show that layout; iterator chains would hide it.
#[allow(clippy::needless_range_loop)]
mod avx2 {
    use std::arch::x86_64::*;

    /// Safety: AVX2 present; `w1t.len() == n * hidden` with `n = xs[k].len()`,
    /// `h_pre[k].len() == hidden == b1.len()`, `j0 + len <= hidden`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn hidden_pre<const S: usize>(
        w1t: &[f64],
        b1: &[f64],
        xs: &[&[f64]; S],
        j0: usize,
        len: usize,
        h_pre: &mut [&mut [f64]; S],
    ) {
        let end = j0 + len;
        let mut j = j0;
        // Eight accumulators of four lanes: 32 rows of one sample, 16 of
        // two, 8 of four or more.
        match S {
            1 => blocks::<S, 8>(w1t, b1, xs, &mut j, end, h_pre),
            2 | 3 => blocks::<S, 4>(w1t, b1, xs, &mut j, end, h_pre),
            _ => blocks::<S, 2>(w1t, b1, xs, &mut j, end, h_pre),
        }
        blocks::<S, 1>(w1t, b1, xs, &mut j, end, h_pre);
        if j < end {
            super::portable::hidden_pre(w1t, b1, xs, j, end - j, h_pre);
        }
    }

    /// Rows from `*j` in blocks of `4 V`, while whole blocks fit before `end`.
    #[inline(always)]
    unsafe fn blocks<const S: usize, const V: usize>(
        w1t: &[f64],
        b1: &[f64],
        xs: &[&[f64]; S],
        j: &mut usize,
        end: usize,
        h_pre: &mut [&mut [f64]; S],
    ) {
        let hidden = b1.len();
        let n = xs[0].len();
        let x: [*const f64; S] = std::array::from_fn(|k| xs[k].as_ptr());
        while *j + 4 * V <= end {
            let mut acc = [[_mm256_setzero_pd(); V]; S];
            let mut col = w1t.as_ptr().add(*j);
            for i in 0..n {
                let mut w = [_mm256_setzero_pd(); V];
                for v in 0..V {
                    w[v] = _mm256_loadu_pd(col.add(4 * v));
                }
                for k in 0..S {
                    let xi = _mm256_broadcast_sd(&*x[k].add(i));
                    for v in 0..V {
                        acc[k][v] = _mm256_add_pd(acc[k][v], _mm256_mul_pd(w[v], xi));
                    }
                }
                col = col.add(hidden);
            }
            for v in 0..V {
                let b = _mm256_loadu_pd(b1.as_ptr().add(*j + 4 * v));
                for k in 0..S {
                    _mm256_storeu_pd(h_pre[k].as_mut_ptr().add(*j + 4 * v), _mm256_add_pd(acc[k][v], b));
                }
            }
            *j += 4 * V;
        }
    }

    /// Runs an element-wise loop (inlined into it) compiled for AVX2. No
    /// element's arithmetic changes: Rust neither reassociates nor fuses
    /// floating-point operations, so the vector loop computes what the
    /// scalar one does.
    ///
    /// Safety: AVX2 present.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn elementwise(f: impl FnOnce()) {
        f()
    }

    /// Safety: AVX2 present; `w1t.len() == x.len() * hidden`,
    /// `j0 + dh_pre.len() <= hidden`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn update_w1(w1t: &mut [f64], dh_pre: &[f64], x: &[f64], hidden: usize, j0: usize, lr: f64, wd: f64) {
        let len = dh_pre.len();
        let (lr4, wd4) = (_mm256_set1_pd(lr), _mm256_set1_pd(wd));
        // `g x` for an input of +1 or -1 is `g` or `-g`, bit for bit: a sign
        // flip instead of a multiplication, which leaves the multiply ports
        // to the two products every element needs anyway.
        let sign = _mm256_set1_pd(-0.0);
        let whole = len / 4 * 4;
        for (i, &xi) in x.iter().enumerate() {
            let col = w1t.as_mut_ptr().add(i * hidden + j0);
            let flip = if xi == -1.0 { sign } else { _mm256_setzero_pd() };
            let unit = xi == 1.0 || xi == -1.0;
            let x4 = _mm256_set1_pd(xi);
            let mut l = 0;
            while l < whole {
                let p = _mm256_loadu_pd(col.add(l));
                let d = _mm256_loadu_pd(dh_pre.as_ptr().add(l));
                let g = if unit { _mm256_xor_pd(d, flip) } else { _mm256_mul_pd(d, x4) };
                let step = _mm256_mul_pd(lr4, _mm256_add_pd(g, _mm256_mul_pd(wd4, p)));
                _mm256_storeu_pd(col.add(l), _mm256_sub_pd(p, step));
                l += 4;
            }
            for l in whole..len {
                let p = *col.add(l);
                *col.add(l) = super::update(p, dh_pre[l] * xi, lr, wd);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values with every sign, spread over many binades.
    fn values(count: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..count)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let unit = (s >> 11) as f64 / (1u64 << 53) as f64;
                (unit - 0.5) * f64::powi(2.0, (s % 40) as i32 - 20)
            })
            .collect()
    }

    fn signs(count: usize, seed: u64) -> Vec<f64> {
        values(count, seed).into_iter().map(|v| if v < 0.0 { -1.0 } else { 1.0 }).collect()
    }

    fn check_hidden_pre<const S: usize>(hidden: usize, n: usize, j0: usize, len: usize) {
        let w1t = values(hidden * n, 1);
        let b1 = values(hidden, 2);
        let xs: Vec<Vec<f64>> = (0..S).map(|k| signs(n, 10 + k as u64)).collect();
        let xs: [&[f64]; S] = std::array::from_fn(|k| xs[k].as_slice());
        let mut fast = vec![vec![f64::NAN; hidden]; S];
        let mut plain = fast.clone();
        let mut h: [&mut [f64]; S] = fast.iter_mut().map(|v| v.as_mut_slice()).collect::<Vec<_>>().try_into().unwrap();
        hidden_pre_many(&w1t, &b1, xs, j0, len, &mut h);
        let mut h: [&mut [f64]; S] = plain.iter_mut().map(|v| v.as_mut_slice()).collect::<Vec<_>>().try_into().unwrap();
        portable::hidden_pre(&w1t, &b1, &xs, j0, len, &mut h);
        for k in 0..S {
            let (f, p): (Vec<u64>, Vec<u64>) =
                fast[k].iter().zip(&plain[k]).map(|(a, b)| (a.to_bits(), b.to_bits())).unzip();
            assert_eq!(f, p, "S {S} hidden {hidden} n {n} rows {j0}..{}", j0 + len);
            // Rows outside the range are untouched.
            assert!(fast[k][..j0].iter().chain(&fast[k][j0 + len..]).all(|v| v.is_nan()));
        }
        // The plain loop really is the reference's order: row 0 summed by hand.
        if j0 == 0 && len > 0 {
            let mut acc = 0.0;
            for i in 0..n {
                acc += w1t[i * hidden] * xs[0][i];
            }
            assert_eq!(plain[0][0].to_bits(), (acc + b1[0]).to_bits());
        }
    }

    #[test]
    fn hidden_pre_gives_the_plain_loops_bits_for_every_block_remainder() {
        for hidden in [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 45, 100, 203] {
            for n in [1, 3, 20] {
                check_hidden_pre::<1>(hidden, n, 0, hidden);
                check_hidden_pre::<2>(hidden, n, 0, hidden);
                check_hidden_pre::<3>(hidden, n, 0, hidden);
                check_hidden_pre::<4>(hidden, n, 0, hidden);
                // A tile in the middle.
                let (j0, len) = (hidden / 3, hidden / 2);
                check_hidden_pre::<1>(hidden, n, j0, len);
                check_hidden_pre::<4>(hidden, n, j0, len);
            }
        }
    }

    #[test]
    fn update_w1_gives_the_plain_loops_bits() {
        for hidden in [1, 3, 4, 7, 33, 100] {
            for (j0, len) in [(0, hidden), (hidden / 3, hidden / 2)] {
                let n = 20;
                let x = signs(n, 3);
                let dh_pre: Vec<f64> =
                    values(len, 4).into_iter().enumerate().map(|(j, v)| if j % 3 == 0 { 0.0 } else { v }).collect();
                let mut fast = values(hidden * n, 5);
                let mut plain = fast.clone();
                update_w1(&mut fast, &dh_pre, &x, hidden, j0, 0.1, 0.01);
                portable::update_w1(&mut plain, &dh_pre, &x, hidden, j0, 0.1, 0.01);
                let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&plain), "hidden {hidden} rows {j0}..{}", j0 + len);
                if len > 0 {
                    assert_ne!(bits(&fast), bits(&values(hidden * n, 5)), "nothing was updated");
                }
            }
        }
    }

    #[test]
    fn batch_kernels_give_the_plain_loops_bits() {
        let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for hidden in [1, 3, 4, 7, 33, 100] {
            for (j0, len) in [(0, hidden), (hidden / 3, hidden / 2)] {
                let n = 20;
                // Inputs of +-1 and, for the general case, arbitrary values.
                for x in [signs(n, 3), values(n, 9)] {
                    let dh_pre = values(len, 4);
                    let mut fast = values(hidden * n, 5);
                    let mut plain = fast.clone();
                    accumulate_w1(&mut fast, &dh_pre, &x, hidden, j0);
                    portable::accumulate_w1(&mut plain, &dh_pre, &x, hidden, j0);
                    assert_eq!(bits(&fast), bits(&plain), "accumulate_w1 hidden {hidden} rows {j0}..{}", j0 + len);
                    if len > 0 {
                        assert_ne!(bits(&fast), bits(&values(hidden * n, 5)), "nothing was accumulated");
                    }
                }
            }
            let (v, start) = (values(hidden, 6), values(hidden, 7));
            let (mut fast, mut plain) = (start.clone(), start.clone());
            axpy(&mut fast, 0.37, &v);
            portable::axpy(&mut plain, 0.37, &v);
            assert_eq!(bits(&fast), bits(&plain), "axpy hidden {hidden}");
            assert_eq!(fast[0].to_bits(), (start[0] + 0.37 * v[0]).to_bits());
            let (mut fast, mut plain) = (start.clone(), start.clone());
            update_mean(&mut fast, &v, 32.0, 0.1, 0.01);
            portable::update_mean(&mut plain, &v, 32.0, 0.1, 0.01);
            assert_eq!(bits(&fast), bits(&plain), "update_mean hidden {hidden}");
            // Divided by the batch size, as the reference does, not multiplied by its inverse.
            assert_eq!(fast[0].to_bits(), update(start[0], v[0] / 32.0, 0.1, 0.01).to_bits());
        }
    }

    #[test]
    fn output_sum_without_zero_terms_gives_the_full_sums_bits() {
        for hidden in [1, 2, 7, 64, 501] {
            for seed in 0..20 {
                let w2 = values(hidden, 100 + seed);
                // Rectified: about half zeros; some weights -0 and some huge,
                // so that terms cancel exactly and -0 terms occur.
                let h: Vec<f64> = values(hidden, 200 + seed).into_iter().map(relu).collect();
                let mut w2 = w2;
                for j in (0..hidden).step_by(5) {
                    w2[j] = -0.0;
                }
                let mut terms = vec![0.0; hidden];
                for b2 in [0.0, -0.0, 0.5] {
                    let mut acc = 0.0;
                    for j in 0..hidden {
                        acc += w2[j] * h[j];
                    }
                    let got = output_sum(&w2, b2, &h, &mut terms);
                    assert_eq!(got.to_bits(), (acc + b2).to_bits(), "hidden {hidden} seed {seed} b2 {b2}");
                }
            }
        }
        // Exact cancellation: the running sum passes through +0, never -0.
        let (w2, h) = ([1.0, -1.0, -2.0, 2.0], [0.5, 0.5, 0.0, 0.0]);
        assert_eq!(output_sum(&w2, -0.0, &h, &mut [0.0; 4]).to_bits(), 0.0f64.to_bits());
        // An infinite weight against a zero activation is NaN in the full sum; so here.
        assert!(output_sum(&[f64::INFINITY, 1.0], 0.0, &[0.0, 1.0], &mut [0.0; 2]).is_nan());
    }

    #[test]
    fn output_many_sums_each_sample_in_order() {
        let w2 = values(37, 6);
        let hs: Vec<Vec<f64>> = (0..3).map(|k| values(37, 20 + k)).collect();
        let outs = output_many(&w2, 0.25, [&hs[0][..], &hs[1][..], &hs[2][..]]);
        for k in 0..3 {
            let mut acc = 0.0;
            for j in 0..37 {
                acc += w2[j] * relu(hs[k][j]);
            }
            assert_eq!(outs[k].to_bits(), (acc + 0.25).to_bits());
        }
    }
}
