//! For test crates that depend on the analyzers: a trace's numbers in the
//! shape of the seed trackers' `summary.json` (ard fields, and `cache` keyed
//! by capacity in floats: 8192 and 65536), and the reference summary to
//! compare them with (its `protocol` note removed).

use std::path::Path;

use memtrace::TraceReader;
use memtrace_analyzers::ard::Ard;
use memtrace_analyzers::cache::ObjectCaches;
use memtrace_analyzers::replay;
use serde_json::{Map, Value};

pub fn of_trace(trace: &Path) -> Value {
    let ard = replay(TraceReader::open(trace).unwrap(), Ard::new).unwrap();
    let caches = replay(TraceReader::open(trace).unwrap(), |h| ObjectCaches::new(h, &[32768, 262144])).unwrap();
    let mut v = serde_json::to_value(&ard).unwrap();
    let mut cache = Map::new();
    for c in caches {
        cache.insert(c.cache_size_floats.to_string(), serde_json::to_value(&c).unwrap());
    }
    v["cache"] = Value::Object(cache);
    v
}

pub fn reference(name: &str) -> Value {
    let mut s =
        super::common::read_json(super::common::reference().join("streams").join(format!("{name}.summary.json")));
    s.as_object_mut().unwrap().remove("protocol");
    s
}
