//! The researchers' naive matrix multiply, traced as their tracer traces it
//! (`tests/data/reference/dmd/README.md`, "Files"): single assignment,
//! arguments in buffer `arg` (A then B), every result a fresh element of
//! `v`, each load, operation and store one tick of the step clock.

use memtrace::Op;

/// A traced scalar: an element of `arg` (buffer 0) or of `v` (buffer 1).
type Scalar = (u32, u64);

/// Ticks and fresh results, handing each access to `emit`.
struct Tracer<F: FnMut(Op, u32, u64, u32)> {
    tick: u32,
    fresh: u64,
    emit: F,
}

impl<F: FnMut(Op, u32, u64, u32)> Tracer<F> {
    fn load(&mut self, x: Scalar) {
        (self.emit)(Op::Read, x.0, x.1, self.tick);
        self.tick += 1;
    }

    /// `x op y`: both loaded, one tick for the operation, a fresh result stored.
    fn binary(&mut self, x: Scalar, y: Scalar) -> Scalar {
        self.load(x);
        self.load(y);
        self.tick += 1;
        let result = (1, self.fresh);
        self.fresh += 1;
        (self.emit)(Op::Write, result.0, result.1, self.tick);
        self.tick += 1;
        result
    }
}

/// Emits the trace of `C = A B^T` for `n x n` matrices of ones as
/// `(op, buffer, offset, step)`, buffer 0 being `arg` (`2 n^2` elements) and
/// 1 being `v`; returns the number of elements of `v`.
pub fn naive_matmul(n: u64, emit: impl FnMut(Op, u32, u64, u32)) -> u64 {
    let mut t = Tracer { tick: 0, fresh: 0, emit };
    let a = |i: u64, k: u64| (0u32, i * n + k);
    let b = |j: u64, k: u64| (0u32, n * n + j * n + k);
    let mut c = Vec::with_capacity((n * n) as usize);
    for i in 0..n {
        for j in 0..n {
            let mut s = t.binary(a(i, 0), b(j, 0));
            for k in 1..n {
                let p = t.binary(a(i, k), b(j, k));
                s = t.binary(s, p);
            }
            c.push(s);
        }
    }
    // The function returns C: each of its scalars is read once more.
    for &s in &c {
        t.load(s);
    }
    t.fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator is the researchers' tracer on their `naive_matmul_n16`:
    /// the reference's events, one for one.
    #[test]
    fn reproduces_the_reference_trace_of_the_16_by_16_multiply() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/reference/dmd/naive_matmul_n16.events.csv");
        let text = std::fs::read_to_string(path).unwrap();
        let want: Vec<String> =
            text.lines().skip(1).map(|l| l.split(',').take(5).collect::<Vec<_>>().join(",")).collect();
        let mut got = Vec::new();
        let values = naive_matmul(16, |op, buffer, offset, step| {
            let name = ["arg", "v"][buffer as usize];
            got.push(format!("{},{name},1,{offset},{step}", op.letter()));
        });
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "event {i}");
        }
        assert_eq!(values, 7936);
    }
}
