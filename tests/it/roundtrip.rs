//! Writer then reader: every event and all metadata come back, raw and
//! compressed, for random headers (unicode names, any roles and element
//! sizes) and random events; a stream gets the bytes a file gets.

use std::io::Write;
use std::sync::{Arc, Mutex};

use memtrace::{Buffer, Event, Header, Op, Role, TraceReader, TraceWriter, WriteOptions};
use proptest::prelude::*;

/// A stream whose bytes the test can read afterwards (a pipe's stand-in).
#[derive(Clone, Default)]
struct SharedBytes(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn header() -> impl Strategy<Value = Header> {
    (
        "\\PC{0,12}",
        prop::collection::vec(("[a-z]{1,6}", "\\PC{0,20}"), 0..5),
        prop::collection::vec((1u64..1 << 40, 1u32..64, 0usize..6), 1..6),
    )
        .prop_map(|(producer, meta, bufs)| {
            let mut h = Header::new(producer, "v");
            for (k, v) in meta {
                h.set_metadata(k, v);
            }
            for (i, (len, elem_size, role)) in bufs.into_iter().enumerate() {
                h.add_buffer(Buffer { name: format!("bü{i}"), len, elem_size, role: Role::ALL[role] }).unwrap();
            }
            h
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_event_and_all_metadata_round_trip(h in header(), raw in prop::collection::vec((any::<u32>(), any::<bool>(), any::<u64>(), any::<u32>(), any::<u32>()), 0..300), zst in any::<bool>()) {
        let n = h.buffers.len() as u32;
        let events: Vec<Event> = raw.into_iter().map(|(b, w, x, l, step)| {
            let buffer = b % n;
            let len_b = h.buffers[buffer as usize].len;
            let offset = x % len_b;
            let len = (1 + l as u64 % (len_b - offset)).min(u32::MAX as u64) as u32;
            Event { buffer, op: if w { Op::Write } else { Op::Read }, offset, len, step }
        }).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if zst { "t.zst" } else { "t.trace" });
        let mut w = TraceWriter::create(&path, h.clone()).unwrap();
        for e in &events { w.event(*e).unwrap(); }
        let summary = w.finish().unwrap();
        prop_assert_eq!(summary.events, events.len() as u64);
        let file = std::fs::read(&path).unwrap();
        prop_assert_eq!(summary.file_bytes, file.len() as u64);
        // The same trace written to a stream: the same bytes, the same summary.
        let stream = SharedBytes::default();
        let mut w = TraceWriter::to_stream(stream.clone(), h.clone(), WriteOptions::for_path(&path)).unwrap();
        for e in &events { w.event(*e).unwrap(); }
        prop_assert_eq!(w.finish().unwrap(), summary);
        prop_assert!(*stream.0.lock().unwrap() == file, "stream and file differ");
        let mut r = TraceReader::open(&path).unwrap();
        prop_assert_eq!(r.header(), &h);
        let mut back = Vec::new();
        while let Some(b) = r.next_batch().unwrap() { back.extend_from_slice(b); }
        prop_assert_eq!(back, events);
    }
}

#[test]
fn a_stream_cut_short_is_rejected_as_truncated() {
    for options in [WriteOptions::for_path("t.trace".as_ref()), WriteOptions::for_path("t.zst".as_ref())] {
        let mut h = Header::new("test", "0");
        h.add_buffer(Buffer { name: "W1".into(), len: 1000, elem_size: 8, role: Role::Parameter }).unwrap();
        let stream = SharedBytes::default();
        let mut w = TraceWriter::to_stream(stream.clone(), h, options).unwrap();
        // Enough events to fill several blocks, so that bytes reach the stream.
        for k in 0..100_000u32 {
            w.access(0, Op::Read, u64::from(k % 1000), 1, k).unwrap();
        }
        drop(w);
        let bytes = stream.0.lock().unwrap().clone();
        assert!(!bytes.is_empty(), "{options:?}: nothing reached the stream");
        let read = TraceReader::from_bytes(bytes).and_then(|r| r.for_each_batch(|_| {}));
        let err = read.expect_err("a trace without its footer must not read as valid");
        let msg = err.to_string();
        assert!(
            msg.contains("byte") && ["truncated", "ended", "incomplete"].iter().any(|w| msg.contains(w)),
            "{options:?}: {msg}"
        );
    }
}
