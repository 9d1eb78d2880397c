//! `analyze energy`: what a trace's data movement costs in a cache
//! hierarchy, in picojoules, per step and per sample, split by buffer role.
//!
//! The model (`docs/energy.md`): an inclusive hierarchy of line caches
//! (default 32 KiB 8-way L1, 1 MiB 16-way L2, both LRU, 64-byte lines) over
//! DRAM; write-back, write-allocate. Every access reads or writes its bytes
//! in L1; an L1 miss fetches the line from L2, an L2 miss from DRAM. A
//! dirty line evicted from a level is written to the level below. When a
//! lower level evicts a line, the levels above drop it too (inclusion),
//! writing it back if dirty. Energy per 64-bit word moved at each level comes
//! from Horowitz (ISSCC 2014): 20 pJ for a 32 KiB SRAM, 100 pJ for 1 MiB,
//! 1.3 nJ for DRAM; other SRAM sizes scale with the square root of capacity,
//! which passes through his three SRAM points within 12%.

use std::collections::BTreeMap;

use memtrace::{Event, Header, Op, Role};
use serde::Serialize;

use crate::linecache::{build_cache, set_arrays, Access, Assoc, LineLayout, Policy, PolicyKind, SetArrays};
use crate::linemap::LineSet;
use crate::report::{names, ratio, Named, Report, Rows};
use crate::table::{side_by_side, Value};
use crate::units::format_size;

/// Horowitz, ISSCC 2014 (45 nm, 0.9 V): a 64-bit access of a 32 KiB SRAM.
pub const PJ_PER_WORD_32KIB: f64 = 20.0;
/// The same source: a 64-bit DRAM access (1.3 to 2.6 nJ; the lower end).
pub const PJ_PER_WORD_DRAM: f64 = 1300.0;

/// The cited SRAM energy per 64-bit word for a cache of `size_bytes`:
/// 20 pJ at 32 KiB scaled by the square root of capacity (100 pJ at 1 MiB
/// would be 113 by this rule; 8 KiB's 10 pJ, exactly 10).
pub fn default_pj_per_word(size_bytes: u64) -> f64 {
    if size_bytes == 1 << 20 {
        return 100.0; // Horowitz's own 1 MiB figure.
    }
    PJ_PER_WORD_32KIB * (size_bytes as f64 / 32768.0).sqrt()
}

/// One cache level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelConfig {
    /// Capacity in bytes.
    pub size_bytes: u64,
    /// Ways per set; `None` is fully associative.
    pub assoc: Option<u64>,
    /// Replacement policy.
    pub policy: PolicyKind,
    /// Energy of a 64-bit word here, in picojoules.
    pub pj_per_word: f64,
}

/// Energy in picojoules by where it was spent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Picojoules {
    /// One entry per cache level, then DRAM.
    pub by_level: Vec<f64>,
    /// All of it.
    pub total: f64,
}

impl Picojoules {
    fn new(levels: usize) -> Picojoules {
        Picojoules { by_level: vec![0.0; levels + 1], total: 0.0 }
    }
    fn add(&mut self, level: usize, pj: f64) {
        self.by_level[level] += pj;
        self.total += pj;
    }
}

/// What one level saw. Field names are the JSON keys.
#[derive(Debug, Clone, Serialize)]
pub struct LevelReport {
    /// `L1`, `L2`, ...
    pub name: String,
    /// Capacity in bytes.
    pub size_bytes: u64,
    /// Ways per set, or fully associative.
    pub assoc: Assoc,
    /// Replacement policy.
    pub policy: &'static str,
    /// Energy of a 64-bit word here, in picojoules.
    pub pj_per_word: f64,
    /// Requests that reached this level (line accesses for L1).
    pub requests: u64,
    /// Requests that hit.
    pub hits: u64,
    /// Requests that missed.
    pub misses: u64,
    /// Dirty lines this level wrote to the level below.
    pub lines_written_back: u64,
    /// Lines dropped to keep the hierarchy inclusive.
    pub back_invalidations: u64,
}

/// The result for one trace. Field names are the JSON keys.
#[derive(Debug, Clone, Serialize)]
pub struct EnergyReport {
    /// Line size in bytes.
    pub line: u64,
    /// Each level, from L1 down.
    pub levels: Vec<LevelReport>,
    /// Energy of a 64-bit DRAM word, in picojoules.
    pub dram_pj_per_word: f64,
    /// Lines read from DRAM.
    pub dram_lines_read: u64,
    /// Lines written to DRAM.
    pub dram_lines_written: u64,
    /// Bytes the trace's accesses read and wrote (what L1 serves).
    pub bytes_accessed: u64,
    /// Steps in the trace.
    pub steps: u64,
    /// Samples each step trains on.
    pub samples_per_step: u64,
    /// Samples in all.
    pub samples: u64,
    /// Total, and per level (`by_level`: L1, L2, ..., DRAM).
    pub energy_pj: Picojoules,
    /// Energy per step.
    pub pj_per_step: f64,
    /// Energy per sample.
    pub pj_per_sample: f64,
    /// The same split by the role of the buffer whose bytes moved.
    pub per_role: BTreeMap<&'static str, Picojoules>,
}

/// A level's cache: set arrays (the default levels) by value, so that the
/// per-line loop calls them directly; any other policy behind the trait.
enum Cache {
    Arrays(SetArrays),
    Other(Box<dyn Policy>),
}

impl Cache {
    #[inline(always)]
    fn access(&mut self, line: u64) -> Access {
        match self {
            Cache::Arrays(a) => a.access(line),
            Cache::Other(p) => p.access(line),
        }
    }

    fn remove(&mut self, line: u64) -> bool {
        match self {
            Cache::Arrays(a) => a.remove(line),
            Cache::Other(p) => p.remove(line),
        }
    }
}

struct Level {
    cfg: LevelConfig,
    cache: Cache,
    dirty: LineSet,
    /// L1: every line; below, filled in by `finish` from the level above.
    requests: u64,
    hits: u64,
    written_back: u64,
    invalidated: u64,
}

/// An inclusive cache hierarchy over DRAM, replaying a trace.
pub struct Hierarchy {
    layout: LineLayout,
    line: u64,
    levels: Vec<Level>,
    dram_pj_per_word: f64,
    dram_read: u64,
    dram_written: u64,
    bytes: u64,
    /// Each buffer's role, as an index into [`Role::ALL`].
    roles: Vec<usize>,
    /// Bytes accessed (what L1 serves), by role index.
    bytes_by_role: Vec<u64>,
    /// Lines moved into or out of each level (DRAM last), by role index:
    /// `levels + 1` counts per role. Counted, and priced once at the end:
    /// no chain of floating-point additions in the per-line loop, and no
    /// rounding that depends on the order lines came in.
    moves_by_role: Vec<u64>,
    steps: u64,
    last_step: Option<u32>,
    samples_per_step: u64,
}

fn role_index(r: Role) -> usize {
    Role::ALL.iter().position(|&x| x == r).unwrap_or(0)
}

impl Hierarchy {
    /// An empty hierarchy of `levels` over DRAM for a trace with this header; `opt` is refused.
    pub fn new(
        header: &Header,
        levels: &[LevelConfig],
        line: u64,
        dram_pj_per_word: f64,
        samples_per_step: u64,
    ) -> crate::Result<Hierarchy> {
        let line = line.max(8);
        let levels = levels
            .iter()
            .map(|&cfg| {
                let capacity = cfg.size_bytes / line;
                let cache = match set_arrays(cfg.policy, capacity, cfg.assoc) {
                    Some(arrays) => Cache::Arrays(arrays),
                    None => Cache::Other(build_cache(cfg.policy, capacity, cfg.assoc).ok_or_else(|| {
                        crate::Error::invalid("opt needs each level's own future, which depends on the levels above")
                    })?),
                };
                Ok(Level {
                    cfg,
                    cache,
                    dirty: LineSet::default(),
                    requests: 0,
                    hits: 0,
                    written_back: 0,
                    invalidated: 0,
                })
            })
            .collect::<crate::Result<Vec<_>>>()?;
        let n = levels.len();
        Ok(Hierarchy {
            layout: LineLayout::new(header, line),
            line,
            levels,
            dram_pj_per_word,
            dram_read: 0,
            dram_written: 0,
            bytes: 0,
            roles: header.buffers.iter().map(|b| role_index(b.role)).collect(),
            bytes_by_role: vec![0; Role::ALL.len()],
            moves_by_role: vec![0; Role::ALL.len() * (n + 1)],
            steps: 0,
            last_step: None,
            samples_per_step: samples_per_step.max(1),
        })
    }

    #[inline]
    fn role(&self, buffer: Option<u32>) -> usize {
        buffer.and_then(|b| self.roles.get(b as usize).copied()).unwrap_or(role_index(Role::Other))
    }

    /// A whole line of buffer `owner` arrives at or leaves through `level` (n = DRAM).
    #[inline]
    fn move_line(&mut self, level: usize, owner: Option<u32>) {
        let i = self.role(owner) * (self.levels.len() + 1) + level;
        self.moves_by_role[i] += 1;
    }

    /// A dirty line leaves `level`: it is written into the level below.
    #[inline]
    fn write_back(&mut self, level: usize, line: u64) {
        self.levels[level].written_back += 1;
        let below = level + 1;
        if below == self.levels.len() {
            self.dram_written += 1;
        } else {
            self.levels[below].dirty.insert(line);
        }
        // A victim's buffer is found from its address; requested lines pass their own.
        let owner = self.layout.owner(line);
        self.move_line(below, owner);
    }

    /// A level below L1 evicted `victim`: write it back if dirty, and drop
    /// it from every level above (their dirty copies are the newest data).
    #[inline(never)]
    fn evicted_below(&mut self, level: usize, victim: u64) {
        let mut dirty = self.levels[level].dirty.remove(victim);
        for up in 0..level {
            if self.levels[up].cache.remove(victim) {
                self.levels[up].invalidated += 1;
                dirty |= self.levels[up].dirty.remove(victim);
            }
        }
        if dirty {
            self.write_back(level, victim);
        }
    }

    /// One event.
    #[inline]
    pub fn event(&mut self, e: &Event) {
        if self.last_step != Some(e.step) {
            self.steps += 1;
            self.last_step = Some(e.step);
        }
        let bytes = self.layout.bytes(e);
        self.bytes += bytes;
        // L1 serves the bytes the access asked for, a word at a time.
        let role = self.role(Some(e.buffer));
        self.bytes_by_role[role] += bytes;
        let write = e.op == Op::Write;
        let (first, last) = self.layout.lines(e);
        // This event's lines all belong to its buffer: their moves are counted in one row.
        let n = self.levels.len();
        let row = role * (n + 1);
        let count = last - first + 1;
        if n == 0 {
            // No cache: every line is read from (or written to) DRAM, level 0.
            self.dram_read += count;
            self.moves_by_role[row] += count;
            if write {
                self.dram_written += count;
            }
            return;
        }
        // Every line is an L1 request; a lower level's requests are the
        // misses of the level above, counted in `finish`.
        self.levels[0].requests += count;
        let mut l1_hits = 0;
        for line in first..=last {
            let a = self.levels[0].cache.access(line);
            if let Some(victim) = a.evicted {
                // L1's evictions, on most requests: nothing above to drop.
                if self.levels[0].dirty.remove(victim) {
                    self.write_back(0, victim);
                }
            }
            if a.hit {
                l1_hits += 1;
            } else {
                self.fetch(line, row);
            }
            if write {
                self.levels[0].dirty.insert(line);
            }
        }
        self.levels[0].hits += l1_hits;
    }

    /// `line` missed in L1: it is fetched from the first level below that
    /// holds it, or from DRAM; each level it misses in allocates it.
    /// `row` is the line's role's row of `moves_by_role`.
    #[inline]
    fn fetch(&mut self, line: u64, row: usize) {
        let n = self.levels.len();
        for level in 1..n {
            // The level above missed: the line is read from this one.
            self.moves_by_role[row + level] += 1;
            let a = self.levels[level].cache.access(line);
            if let Some(victim) = a.evicted {
                self.evicted_below(level, victim);
            }
            if a.hit {
                self.levels[level].hits += 1;
                return;
            }
        }
        self.dram_read += 1;
        self.moves_by_role[row + n] += 1;
    }

    /// Energy by role index: L1's bytes, and the lines each level moved, priced.
    fn priced(&self) -> Vec<Picojoules> {
        let n = self.levels.len();
        let words_per_line = self.line as f64 / 8.0;
        let pj_per_word = |level: usize| self.levels.get(level).map_or(self.dram_pj_per_word, |l| l.cfg.pj_per_word);
        (0..Role::ALL.len())
            .map(|role| {
                let mut j = Picojoules::new(n);
                j.add(0, self.bytes_by_role[role] as f64 / 8.0 * pj_per_word(0));
                // Lines reach level 0 too when there is no cache: DRAM is level 0.
                for level in 0..=n {
                    let lines = self.moves_by_role[role * (n + 1) + level];
                    if lines > 0 {
                        j.add(level, lines as f64 * words_per_line * pj_per_word(level));
                    }
                }
                j
            })
            .collect()
    }

    /// The report.
    pub fn finish(mut self) -> EnergyReport {
        for i in 1..self.levels.len() {
            self.levels[i].requests = self.levels[i - 1].requests - self.levels[i - 1].hits;
        }
        let n = self.levels.len();
        let mut total = Picojoules::new(n);
        let mut per_role = BTreeMap::new();
        for (role, j) in Role::ALL.iter().zip(&self.priced()) {
            if j.total == 0.0 {
                continue;
            }
            for (i, &pj) in j.by_level.iter().enumerate() {
                total.add(i, pj);
            }
            per_role.insert(role.name(), j.clone());
        }
        let samples = self.steps * self.samples_per_step;
        let per = |d: u64| if d == 0 { 0.0 } else { total.total / d as f64 };
        EnergyReport {
            line: self.line,
            levels: self
                .levels
                .iter()
                .enumerate()
                .map(|(i, l)| LevelReport {
                    name: format!("L{}", i + 1),
                    size_bytes: l.cfg.size_bytes,
                    assoc: Assoc::of(l.cfg.assoc, l.cfg.size_bytes / self.line),
                    policy: l.cfg.policy.name(),
                    pj_per_word: l.cfg.pj_per_word,
                    requests: l.requests,
                    hits: l.hits,
                    misses: l.requests - l.hits,
                    lines_written_back: l.written_back,
                    back_invalidations: l.invalidated,
                })
                .collect(),
            dram_pj_per_word: self.dram_pj_per_word,
            dram_lines_read: self.dram_read,
            dram_lines_written: self.dram_written,
            bytes_accessed: self.bytes,
            steps: self.steps,
            samples_per_step: self.samples_per_step,
            samples,
            pj_per_step: per(self.steps),
            pj_per_sample: per(samples),
            energy_pj: total,
            per_role,
        }
    }
}

impl crate::Analyzer for Hierarchy {
    type Output = EnergyReport;
    fn event(&mut self, e: &Event) {
        Hierarchy::event(self, e)
    }
    fn finish(self, _: &Header, _: &memtrace::TraceSummary) -> crate::Result<EnergyReport> {
        Ok(Hierarchy::finish(self))
    }
}

/// `analyze energy`: levels, DRAM traffic and energy (in nanojoules), side by side.
impl Report for EnergyReport {
    fn text(reports: &[Named<EnergyReport>]) -> String {
        let Some(first) = reports.first() else { return String::new() };
        let nj = |pj: f64| Value::Float(pj / 1000.0);
        let mut rows: Rows = Vec::new();
        let col = |f: &dyn Fn(&EnergyReport) -> Value| reports.iter().map(|r| f(&r.report)).collect::<Vec<_>>();
        for (i, l) in first.report.levels.iter().enumerate() {
            let assoc = match l.assoc {
                Assoc::Full => "full".to_string(),
                Assoc::Ways(w) => format!("{w}-way"),
            };
            let name = format!("{} {} {} {}", l.name, format_size(l.size_bytes), assoc, l.policy);
            let level = |r: &EnergyReport| r.levels.get(i).cloned();
            rows.push((
                format!("{name}: hit rate"),
                col(&|r| level(r).map_or(Value::Missing, |l| Value::Percent(ratio(l.hits, l.requests)))),
            ));
            rows.push((
                format!("{}: misses", l.name),
                col(&|r| level(r).map_or(Value::Missing, |l| Value::Int(l.misses))),
            ));
            rows.push((
                format!("{}: lines written back", l.name),
                col(&|r| level(r).map_or(Value::Missing, |l| Value::Int(l.lines_written_back))),
            ));
        }
        rows.push(("DRAM lines read".into(), col(&|r| Value::Int(r.dram_lines_read))));
        rows.push(("DRAM lines written".into(), col(&|r| Value::Int(r.dram_lines_written))));
        rows.push(("steps".into(), col(&|r| Value::Int(r.steps))));
        rows.push(("samples".into(), col(&|r| Value::Int(r.samples))));
        rows.push(("energy, nJ".into(), col(&|r| nj(r.energy_pj.total))));
        let n_levels = first.report.levels.len();
        for i in 0..=n_levels {
            let name = if i == n_levels { "DRAM".to_string() } else { format!("L{}", i + 1) };
            rows.push((
                format!("  at {name}"),
                col(&|r| r.energy_pj.by_level.get(i).map_or(Value::Missing, |&pj| nj(pj))),
            ));
        }
        let mut roles: Vec<&str> = reports.iter().flat_map(|r| r.report.per_role.keys().copied()).collect();
        roles.sort();
        roles.dedup();
        for role in roles {
            rows.push((
                format!("  of {role} buffers"),
                col(&|r| r.per_role.get(role).map_or(Value::Missing, |j| nj(j.total))),
            ));
        }
        rows.push(("energy per step, nJ".into(), col(&|r| nj(r.pj_per_step))));
        rows.push(("energy per sample, nJ".into(), col(&|r| nj(r.pj_per_sample))));
        let head = format!("energy ({}-byte lines)", first.report.line);
        side_by_side(&head, &names(reports), &rows)
    }
}
