//! The figures the seed documents published, as printed there. They are
//! data from the lab notes (see `tests/data/reference/README.md`), not
//! results of this code.

pub struct ExpB {
    /// (single-sample x32, batch-32)
    pub ard: (f64, f64),
    pub total_floats: (f64, f64),
    pub w1_reads: (f64, f64),
    pub w1_writes: (f64, f64),
    pub param_writes: (f64, f64),
}

pub const EXP_B: ExpB = ExpB {
    ard: (31_500.0, 547_881.0),
    total_floats: (2_455_931.0, 2_132_040.0),
    w1_reads: (49.0, 34.0),
    w1_writes: (32.0, 2.0),
    param_writes: (128.0, 8.0),
};

/// (batch, floats per sample, relative to batch 1)
pub const BATCH_SWEEP: [(u64, f64, f64); 6] = [
    (1, 48_046.0, 1.00),
    (4, 85_560.0, 1.78),
    (8, 75_688.0, 1.58),
    (16, 64_123.0, 1.33),
    (32, 66_626.0, 1.39),
    (64, 62_907.0, 1.31),
];

pub struct CacheRow {
    pub hidden: u64,
    pub cache_kib: u64,
    pub method: &'static str,
    pub hit_rate_pct: f64,
    pub eff_ard: f64,
    pub misses: f64,
    pub total_floats: f64,
}

const fn c(hidden: u64, cache_kib: u64, method: &'static str, hit: f64, ard: f64, misses: f64, total: f64) -> CacheRow {
    CacheRow { hidden, cache_kib, method, hit_rate_pct: hit, eff_ard: ard, misses, total_floats: total }
}

pub const CACHE_ARD: [CacheRow; 8] = [
    c(200, 32, "single", 100.0, 0.0, 0.0, 492_731.0),
    c(200, 32, "batch-32", 73.0, 112_187.0, 140.0, 364_278.0),
    c(200, 256, "single", 100.0, 0.0, 0.0, 492_731.0),
    c(200, 256, "batch-32", 100.0, 0.0, 0.0, 364_278.0),
    c(1000, 32, "single", 91.0, 33_848.0, 49.0, 2_455_931.0),
    c(1000, 32, "batch-32", 69.0, 612_424.0, 188.0, 2_132_040.0),
    c(1000, 256, "single", 100.0, 0.0, 0.0, 2_455_931.0),
    c(1000, 256, "batch-32", 100.0, 0.0, 0.0, 2_132_040.0),
];

pub struct ExpA {
    pub variant: &'static str,
    pub ard: f64,
    pub reads: f64,
    pub writes: f64,
    pub total_floats: f64,
}

pub const EXP_A: [ExpA; 3] = [
    ExpA { variant: "standard", ard: 17_976.0, reads: 24.0, writes: 18.0, total_floats: 51_073.0 },
    ExpA { variant: "fused", ard: 17_741.0, reads: 24.0, writes: 18.0, total_floats: 51_073.0 },
    ExpA { variant: "perlayer", ard: 17_299.0, reads: 15.0, writes: 13.0, total_floats: 47_566.0 },
];

/// (tile rows, published seed-averaged weighted ARD); `None` is the baseline.
pub const TILED: [(Option<u64>, f64); 5] =
    [(None, 30_759.0), (Some(50), 34_492.0), (Some(100), 34_236.0), (Some(250), 33_690.0), (Some(500), 32_853.0)];

/// Accuracy verification of seed 003: (average final test accuracy in %, average epochs), every method.
pub const TILED_ACC: (f64, f64) = (99.8, 23.0);

pub struct PerlayerBatch {
    pub name: &'static str,
    pub variant: &'static str,
    pub batch: u64,
    /// Epochs to test accuracy 1.0, seeds 42..46.
    pub epochs: [u64; 5],
    pub mean_epochs: f64,
    pub wall_s: f64,
}

pub const PERLAYER_BATCH: [PerlayerBatch; 4] = [
    PerlayerBatch {
        name: "standard+single",
        variant: "standard",
        batch: 1,
        epochs: [4, 3, 5, 9, 5],
        mean_epochs: 5.2,
        wall_s: 0.058,
    },
    PerlayerBatch {
        name: "standard+batch",
        variant: "standard",
        batch: 32,
        epochs: [52, 45, 30, 43, 37],
        mean_epochs: 41.4,
        wall_s: 0.177,
    },
    PerlayerBatch {
        name: "perlayer+single",
        variant: "perlayer",
        batch: 1,
        epochs: [4, 3, 5, 9, 5],
        mean_epochs: 5.2,
        wall_s: 0.221,
    },
    PerlayerBatch {
        name: "perlayer+batch",
        variant: "perlayer",
        batch: 32,
        epochs: [55, 38, 28, 45, 37],
        mean_epochs: 40.6,
        wall_s: 0.665,
    },
];
