//! The geometric price of a depth: `ceil(sqrt(depth))` per byte, every byte
//! of an element at its own byte depth, in exact integer arithmetic (the
//! contract forbids floating point: `sqrt` of a large `f64` rounds).

/// `floor(sqrt(n))`, exact for every `u64`.
#[inline]
pub fn isqrt(n: u64) -> u64 {
    // The f64 square root is within one of the answer; the loops correct it.
    let mut r = ((n as f64).sqrt() as u64).min(u32::MAX as u64) as u128;
    let n = n as u128;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r as u64
}

/// `ceil(sqrt(n))` for `n >= 1`, computed as `isqrt(n - 1) + 1`.
#[inline]
pub fn ceil_sqrt(n: u64) -> u64 {
    isqrt(n - 1) + 1
}

/// `sum of ceil(sqrt(j))` for `j` in `1..=n`. `ceil(sqrt(j)) = k` for the
/// `2k - 1` values of `j` in `((k-1)^2, k^2]`, so with `m = ceil(sqrt(n))`
/// the sum is `sum_{k<m} k (2k - 1)` plus `m` for each `j` past `(m-1)^2`.
pub fn ceil_sqrt_prefix(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    if n < 1 << 40 {
        // Every product below fits in 64 bits (k < 2^20): no 128-bit division.
        let n = n as u64;
        let m = isqrt(n - 1) + 1;
        let k = m - 1;
        let full = if k == 0 { 0 } else { k * (k + 1) * (4 * k - 1) / 6 };
        return (full + m * (n - k * k)) as u128;
    }
    let m = isqrt128(n - 1) + 1;
    let k = m - 1;
    // sum_{i=1..k} i (2i - 1) = 2 k(k+1)(2k+1)/6 - k(k+1)/2 = k(k+1)(4k-1)/6
    let full = if k == 0 { 0 } else { k * (k + 1) * (4 * k - 1) / 6 };
    full + m * (n - k * k)
}

fn isqrt128(n: u128) -> u128 {
    if let Ok(small) = u64::try_from(n) {
        return isqrt(small) as u128;
    }
    let mut r = (n as f64).sqrt() as u128;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

/// Prices depths at a fixed number of bytes per element.
#[derive(Debug, Clone, Copy)]
pub struct Pricing {
    bytes: u64,
}

impl Pricing {
    /// `bytes` per element, at least 1.
    pub fn new(bytes: u32) -> Pricing {
        Pricing { bytes: bytes.max(1) as u64 }
    }

    /// A read at element depth `depth` (1 = top): the sum of `ceil(sqrt(j))`
    /// for byte depths `j` in `((depth - 1) b, depth b]`.
    #[inline]
    pub fn depth(&self, depth: u64) -> u128 {
        if self.bytes == 1 {
            return ceil_sqrt(depth) as u128;
        }
        let b = self.bytes as u128;
        let d = depth as u128;
        ceil_sqrt_prefix(d * b) - ceil_sqrt_prefix((d - 1) * b)
    }

    /// Reads of the elements at depths `first..first + n`, all at once
    /// (a range read under fixed placement).
    #[inline]
    pub fn depths(&self, first: u64, n: u64) -> u128 {
        let b = self.bytes as u128;
        ceil_sqrt_prefix((first as u128 - 1 + n as u128) * b) - ceil_sqrt_prefix((first as u128 - 1) * b)
    }
}

/// Sums prices of a sequence of depths, a stretch at a time: depths that
/// stay equal or move by one per read are priced in closed form.
#[derive(Debug, Clone, Copy)]
pub struct PriceRun {
    pricing: Pricing,
    first: u64,
    n: u64,
    /// -1, 0 or 1 once `n >= 2`.
    step: i64,
    total: u128,
}

impl PriceRun {
    /// Nothing priced yet.
    pub fn new(pricing: Pricing) -> PriceRun {
        PriceRun { pricing, first: 0, n: 0, step: 0, total: 0 }
    }

    /// One read at `depth` (at least 1).
    #[inline]
    pub fn push(&mut self, depth: u64) {
        self.push_n(depth, 1);
    }

    /// `n` reads at `depth`.
    #[inline]
    pub fn push_n(&mut self, depth: u64, n: u64) {
        if n == 0 {
            return;
        }
        if self.n == 0 {
            (self.first, self.n, self.step) = (depth, 1, 0);
            return self.push_n(depth, n - 1);
        }
        let next = self.first as i64 + self.step * self.n as i64;
        if self.n == 1 && n == 1 && depth.abs_diff(self.first) <= 1 {
            self.step = depth as i64 - self.first as i64;
            self.n = 2;
        } else if (self.step == 0 && depth == self.first) || (n == 1 && next == depth as i64 && self.step != 0) {
            self.n += if self.step == 0 { n } else { 1 };
        } else {
            self.flush();
            (self.first, self.n, self.step) = (depth, 1, 0);
            self.push_n(depth, n - 1);
        }
    }

    fn flush(&mut self) {
        self.total += match self.step {
            0 => self.pricing.depth(self.first) * self.n as u128,
            1 => self.pricing.depths(self.first, self.n),
            _ => self.pricing.depths(self.first + 1 - self.n, self.n),
        };
        self.n = 0;
    }

    /// The sum of every price pushed.
    pub fn total(mut self) -> u128 {
        if self.n > 0 {
            self.flush();
        }
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ceil(sqrt(n))` by the definition: the least `r` with `r * r >= n`.
    fn ceil_sqrt_by_search(n: u64) -> u64 {
        (0..).find(|r: &u64| r * r >= n).unwrap_or(0)
    }

    #[test]
    fn square_roots_are_exact() {
        for n in 1..5000u64 {
            assert_eq!(ceil_sqrt(n), ceil_sqrt_by_search(n), "ceil_sqrt({n})");
        }
        for r in [1u64 << 20, (1 << 26) + 3, u32::MAX as u64] {
            for n in [r * r - 1, r * r, r * r + 1] {
                let (s, n) = (isqrt(n) as u128, n as u128);
                assert!(s * s <= n && (s + 1) * (s + 1) > n, "isqrt({n}) = {s}");
            }
        }
        assert_eq!(isqrt(u64::MAX), u32::MAX as u64);
    }

    #[test]
    fn runs_of_prices_sum_like_their_reads() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for b in [1u32, 4] {
            let p = Pricing::new(b);
            for _ in 0..300 {
                let mut run = PriceRun::new(p);
                let mut want = 0u128;
                let mut d = 50u64;
                for _ in 0..60 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Stretches of equal, rising and falling depths, and jumps.
                    d = match x % 7 {
                        0 => 1 + x % 90,
                        1 | 2 => d + 1,
                        3 => (d - 1).max(1),
                        _ => d,
                    };
                    let n = if x.is_multiple_of(5) { 1 + (x >> 9) % 4 } else { 1 };
                    run.push_n(d, n);
                    want += p.depth(d) * n as u128;
                }
                assert_eq!(run.total(), want);
            }
        }
    }

    #[test]
    fn byte_weighted_prices_sum_every_byte() {
        for b in [1u32, 2, 4, 8, 13] {
            let p = Pricing::new(b);
            for d in 1..400u64 {
                let by_byte: u64 = ((d - 1) * b as u64 + 1..=d * b as u64).map(ceil_sqrt_by_search).sum();
                assert_eq!(p.depth(d), by_byte as u128, "b {b} depth {d}");
            }
            for first in [1u64, 2, 7, 100, (1 << 38) - 3] {
                let n = 37;
                let each: u128 = (first..first + n).map(|d| p.depth(d)).sum();
                // Across the 2^40 switch to 128-bit arithmetic, by the definition.
                let big = (1u128 << 40) / b as u128;
                let slow = |d: u128| (1..=b as u128).map(|j| isqrt128((d - 1) * b as u128 + j - 1) + 1).sum::<u128>();
                for d in [big - 1, big, big + 1] {
                    assert_eq!(p.depth(d as u64), slow(d), "b {b} depth {d}");
                }
                assert_eq!(p.depths(first, n), each, "b {b} from {first}");
            }
        }
    }
}
