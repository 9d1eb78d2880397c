//! Parsing cache sizes as people quote them: `32KiB`, `256K`, `1MiB`,
//! `65536`. A bare number is bytes; K/KB/KiB, M/MB/MiB and G/GB/GiB are
//! powers of 1024, as cache sizes are quoted.

/// Parses one size in bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("size {text:?} does not start with a number (e.g. 32KiB, 65536)"));
    }
    let n: u64 = digits.parse().map_err(|_| format!("size {text:?} is too large"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("size {text:?} has unknown unit {unit:?} (use B, K/KB/KiB, M/MB/MiB, G/GB/GiB)")),
    };
    let bytes = n.checked_mul(1u64 << shift).ok_or_else(|| format!("size {text:?} is too large"))?;
    if bytes == 0 {
        return Err(format!("size {text:?} is zero"));
    }
    Ok(bytes)
}

/// Parses a comma list of sizes.
pub fn parse_sizes(text: &str) -> Result<Vec<u64>, String> {
    text.split(',').filter(|s| !s.trim().is_empty()).map(parse_size).collect()
}

/// Formats bytes for people, one rule everywhere: bytes below 1 KiB, else
/// the largest binary unit that keeps the number at least 1, exact when it
/// is a whole number of that unit (`32KiB`, `1MiB`, `1000B`, which parse
/// back), else at most three significant digits (`1.06KiB` for 1088 bytes,
/// `86.2KiB`, `1.5MiB`). JSON always carries the exact number of bytes.
pub fn format_size(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift {
            if bytes.is_multiple_of(1 << shift) {
                return format!("{}{unit}", bytes >> shift);
            }
            let v = bytes as f64 / (1u64 << shift) as f64;
            let decimals = if v >= 100.0 {
                0
            } else if v >= 10.0 {
                1
            } else {
                2
            };
            let text = fixed(v, decimals);
            let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
            return format!("{text}{unit}");
        }
    }
    format!("{bytes}B")
}

/// `format!("{x:.decimals$}")`, the same text, without the general float
/// formatter's cost (a long curve prints millions of these): a float is
/// `m * 2^e` exactly, so `x * 10^decimals` is an integer shifted right, and
/// rounding it half to even, as the formatter does, needs only the bits
/// shifted out. Values it does not cover (negative, not finite, 2^63 or
/// more, over 18 decimals) go to the formatter.
pub fn fixed(x: f64, decimals: usize) -> String {
    if !((0.0..9.2e18).contains(&x) && decimals <= 18) {
        return format!("{x:.decimals$}");
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exp) = if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    let scale = 10u128.pow(decimals as u32);
    // Below 2^53 * 10^18 < 2^113: no overflow.
    let scaled = mantissa as u128 * scale;
    let digits = if exp >= 0 {
        scaled << exp
    } else {
        let shift = (-exp) as u32;
        if shift > 120 {
            0 // less than half a unit of the last decimal
        } else {
            let q = scaled >> shift;
            let rest = scaled & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            q + (rest > half || (rest == half && q & 1 == 1)) as u128
        }
    };
    let whole = digits / scale;
    if decimals == 0 {
        return whole.to_string();
    }
    format!("{whole}.{:0decimals$}", digits % scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_writes_what_the_formatter_writes() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Ties in binary (k / 2^j), ratios of counts, random bit patterns, extremes.
        let mut values: Vec<f64> = vec![0.0, 0.5, 1.5, 2.5, 0.125, 0.375, 1e-300, 5e-324, 9.1e18, 1e19, f64::NAN, -0.5];
        for j in 1..20u32 {
            for k in 0..64u64 {
                values.push(k as f64 / (1u64 << j) as f64);
            }
        }
        for _ in 0..200_000 {
            let (m, n) = (next() % 10_000_000, next() % 10_000_000 + 1);
            values.push(m.min(n) as f64 / n as f64);
            values.push(f64::from_bits(next() >> 2));
            values.push((next() % 1_000_000) as f64 / 1024.0);
        }
        for v in values {
            for d in [0, 1, 2, 3, 4, 6, 9, 18] {
                assert_eq!(fixed(v, d), format!("{v:.d$}"), "{v:e} to {d} decimals");
            }
        }
    }

    #[test]
    fn sizes_are_powers_of_1024() {
        assert_eq!(parse_size("32KiB"), Ok(32768));
        assert_eq!(parse_size("32KB"), Ok(32768));
        assert_eq!(parse_size("32k"), Ok(32768));
        assert_eq!(parse_size("256KiB"), Ok(262144));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_sizes("32KiB,256KiB"), Ok(vec![32768, 262144]));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("32XB").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("17179869184G").is_err());
    }

    #[test]
    fn sizes_print_in_one_unit_rule() {
        assert_eq!(format_size(64), "64B");
        assert_eq!(format_size(1000), "1000B");
        assert_eq!(format_size(1024), "1KiB");
        assert_eq!(format_size(1088), "1.06KiB");
        assert_eq!(format_size(20096), "19.6KiB");
        assert_eq!(format_size(88320), "86.2KiB");
        assert_eq!(format_size(1536 * 1024), "1.5MiB");
        assert_eq!(format_size(150 * 1024 + 512), "150KiB", "three significant digits");
        assert_eq!(format_size(3 << 30), "3GiB");
    }

    #[test]
    fn formatting_round_trips() {
        for b in [32768, 262144, 1 << 20, 1000, 3 << 30] {
            assert_eq!(parse_size(&format_size(b)), Ok(b));
        }
    }
}
