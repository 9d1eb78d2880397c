//! The trace format's promises, tested at the library level: round trips,
//! the two encodings carrying the same bytes, versions, and damage of every
//! kind giving a typed, positioned error (never a panic, never silence).

use std::path::{Path, PathBuf};

use memtrace::{Buffer, ErrorKind, Event, Header, Op, Role, TraceReader, TraceWriter};

fn header() -> Header {
    let mut h = Header::new("format-test", "1");
    h.set_metadata("variant", "standard").set_metadata("note", "ünïcödé ok");
    h.add_buffer(Buffer::new("W1", 100, Role::Parameter)).unwrap();
    h.add_buffer(Buffer { name: "x".into(), len: 20, elem_size: 8, role: Role::Input }).unwrap();
    h
}

fn events() -> Vec<Event> {
    (0..50u32)
        .map(|i| Event {
            buffer: i % 2,
            op: if i % 3 == 0 { Op::Write } else { Op::Read },
            offset: (i % 10) as u64,
            len: 10,
            step: i / 10,
        })
        .collect()
}

fn write(path: &Path) {
    let mut w = TraceWriter::create(path, header()).unwrap();
    for e in events() {
        w.event(e).unwrap();
    }
    w.finish().unwrap();
}

fn read_all(path: &Path) -> memtrace::Result<(Header, Vec<Event>)> {
    let mut r = TraceReader::open(path)?;
    let h = r.header().clone();
    let mut out = Vec::new();
    while let Some(b) = r.next_batch()? {
        out.extend_from_slice(b);
    }
    Ok((h, out))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn raw_and_zstd_round_trip_every_event_and_all_metadata() {
    let dir = tmp();
    for name in ["t.trace", "t.zst"] {
        let p = dir.path().join(name);
        write(&p);
        let (h, ev) = read_all(&p).unwrap();
        assert_eq!(h, header());
        assert_eq!(ev, events());
    }
}

#[test]
fn a_zst_file_is_a_plain_zstd_stream_of_the_raw_file() {
    let dir = tmp();
    let raw = dir.path().join("t.trace");
    let zst = dir.path().join("t.zst");
    write(&raw);
    write(&zst);
    let raw_bytes = std::fs::read(&raw).unwrap();
    let decoded = zstd::decode_all(std::fs::File::open(&zst).unwrap()).unwrap();
    assert_eq!(decoded, raw_bytes, "zstd -d t.zst must give the raw trace");
    // And compressing a raw trace with any zstd gives a readable trace.
    let recompressed = dir.path().join("by-hand.zst");
    std::fs::write(&recompressed, zstd::encode_all(&raw_bytes[..], 19).unwrap()).unwrap();
    assert_eq!(read_all(&recompressed).unwrap().1, events());
    // Readers go by content, not by name.
    let misnamed = dir.path().join("actually-zstd.trace");
    std::fs::copy(&zst, &misnamed).unwrap();
    assert_eq!(read_all(&misnamed).unwrap().1, events());
}

#[test]
fn a_stream_reader_reads_from_a_pipe() {
    let dir = tmp();
    let zst = dir.path().join("t.zst");
    write(&zst);
    let bytes = std::fs::read(&zst).unwrap();
    let mut r = TraceReader::from_reader(std::io::Cursor::new(bytes)).unwrap();
    let mut n = 0;
    while let Some(b) = r.next_batch().unwrap() {
        n += b.len();
    }
    assert_eq!(n, 50);
    assert_eq!(r.summary().unwrap().events, 50);
}

/// Raw trace bytes with the footer's CRC recomputed, so that a structural
/// defect is what the reader must find.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    let end = bytes.len() - 24;
    let crc = crc32fast::hash(&bytes[..end]);
    bytes[end + 16..end + 20].copy_from_slice(&crc.to_le_bytes());
    bytes
}

fn raw_trace(dir: &tempfile::TempDir) -> (PathBuf, Vec<u8>) {
    let p = dir.path().join("t.trace");
    write(&p);
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

fn header_len(bytes: &[u8]) -> usize {
    u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize
}

fn open_bytes(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> memtrace::Error {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    read_all(&p).expect_err("damaged trace accepted")
}

#[test]
fn version_zero_and_a_future_version_are_refused_with_what_to_do() {
    let dir = tmp();
    let (_, bytes) = raw_trace(&dir);
    for (version, hint) in [(0u32, "re-record"), (2, "upgrade memtrace")] {
        let mut b = bytes.clone();
        b[8..12].copy_from_slice(&version.to_le_bytes());
        let e = open_bytes(&dir, "v.trace", &reseal(b));
        assert!(matches!(e.kind(), ErrorKind::UnsupportedVersion { found } if *found == version), "{e}");
        assert_eq!(e.byte_offset(), Some(8));
        assert!(e.to_string().contains(hint), "{e}");
    }
}

#[test]
fn wrong_magic_empty_files_and_directories_are_refused() {
    let dir = tmp();
    let (_, bytes) = raw_trace(&dir);
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(matches!(open_bytes(&dir, "m.trace", &b).kind(), ErrorKind::BadMagic { .. }));
    assert!(matches!(open_bytes(&dir, "e.trace", &[]).kind(), ErrorKind::Empty));
    let e = read_all(dir.path()).unwrap_err();
    assert!(e.to_string().contains("directory"), "{e}");
    let csv = open_bytes(&dir, "c.trace", b"op,buffer,size\nW,x,1\n");
    assert!(csv.to_string().contains("analyze import"), "{csv}");
}

#[test]
fn truncation_at_every_byte_is_an_error_raw_and_zstd() {
    let dir = tmp();
    let (_, bytes) = raw_trace(&dir);
    for cut in 0..bytes.len() {
        let e = open_bytes(&dir, "cut.trace", &bytes[..cut]);
        assert!(!e.to_string().is_empty());
    }
    let zst = zstd::encode_all(&bytes[..], 3).unwrap();
    for cut in 1..zst.len() {
        let e = open_bytes(&dir, "cut.zst", &zst[..cut]).to_string();
        // Once the zstd magic is whole, a cut is reported as one, not as damage.
        if cut >= 4 {
            assert!(e.contains("truncated"), "cut at {cut} of {}: {e}", zst.len());
        }
    }
}

#[test]
fn every_single_bit_flip_of_a_raw_trace_is_reported() {
    let dir = tmp();
    let (_, bytes) = raw_trace(&dir);
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            open_bytes(&dir, "flip.trace", &b);
        }
    }
}

#[test]
fn a_flipped_event_byte_is_a_checksum_mismatch_at_the_footer() {
    let dir = tmp();
    let (_, mut bytes) = raw_trace(&dir);
    let first = header_len(&bytes);
    bytes[first + 16] ^= 1; // the step of the first event: structurally fine
    let e = open_bytes(&dir, "crc.trace", &bytes);
    assert!(matches!(e.kind(), ErrorKind::ChecksumMismatch { .. }), "{e}");
    assert_eq!(e.byte_offset(), Some((bytes.len() - 24 + 16) as u64));
}

#[test]
fn an_unknown_buffer_id_and_a_range_past_the_end_name_the_event_offset() {
    let dir = tmp();
    let (_, bytes) = raw_trace(&dir);
    let first = header_len(&bytes);
    let third = first + 2 * 24;
    let mut b = bytes.clone();
    b[third + 12..third + 16].copy_from_slice(&7u32.to_le_bytes());
    let e = open_bytes(&dir, "id.trace", &reseal(b));
    assert_eq!(e.byte_offset(), Some((third + 12) as u64), "{e}");
    assert!(e.to_string().contains("buffer id 7"), "{e}");

    let mut b = bytes.clone();
    b[third..third + 8].copy_from_slice(&95u64.to_le_bytes()); // 95 + 10 > 100 elements
    let e = open_bytes(&dir, "range.trace", &reseal(b));
    assert_eq!(e.byte_offset(), Some(third as u64), "{e}");
    assert!(e.to_string().contains("past") || e.to_string().contains("which has"), "{e}");
}

#[test]
fn huge_declared_counts_are_refused_without_allocating_them() {
    let dir = tmp();
    let (_, bytes) = raw_trace(&dir);
    // The metadata count sits after the fixed prefix and the two producer strings.
    let meta_at = 24 + 2 + "format-test".len() + 2 + 1;
    for count in [u32::MAX, 1 << 20] {
        let mut b = bytes.clone();
        b[meta_at..meta_at + 4].copy_from_slice(&count.to_le_bytes());
        let e = open_bytes(&dir, "count.trace", &reseal(b));
        assert!(matches!(e.kind(), ErrorKind::Corrupt(_)), "{e}");
    }
    let mut b = bytes.clone();
    b[12..16].copy_from_slice(&u32::MAX.to_le_bytes()); // header length
    let e = open_bytes(&dir, "hl.trace", &reseal(b));
    assert_eq!(e.byte_offset(), Some(12), "{e}");
    // The footer's event count.
    let mut b = bytes.clone();
    let f = b.len() - 24;
    b[f + 8..f + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = open_bytes(&dir, "fc.trace", &b);
    assert!(e.to_string().contains("footer counts"), "{e}");
}

#[test]
fn duplicate_buffer_names_are_refused_on_read_and_write() {
    let dir = tmp();
    let mut h = Header::new("t", "1");
    h.buffers.push(Buffer::new("a", 1, Role::Other));
    h.buffers.push(Buffer::new("a", 2, Role::Other));
    assert!(TraceWriter::create(dir.path().join("dup.trace"), h).is_err());
    // On disk: rename buffer "x" to "W1" (same length keeps the layout).
    let (_, bytes) = raw_trace(&dir);
    let hl = header_len(&bytes);
    let pos = bytes[..hl].windows(3).position(|w| w == [1, 0, b'x']).unwrap();
    let mut b = bytes[..pos].to_vec();
    b.extend_from_slice(&[2, 0, b'W', b'1']);
    b.extend_from_slice(&bytes[pos + 3..hl - 1]); // keep the header length: drop one padding byte
    assert_eq!(b.len(), hl);
    b.extend_from_slice(&bytes[hl..]);
    let e = open_bytes(&dir, "dupname.trace", &reseal(b));
    assert!(e.to_string().contains("appears twice"), "{e}");
}

#[test]
fn a_writer_that_does_not_finish_leaves_no_file() {
    let dir = tmp();
    let p = dir.path().join("t.zst");
    {
        let mut w = TraceWriter::create(&p, header()).unwrap();
        for _ in 0..100_000 {
            w.access(0, Op::Read, 0, 10, 0).unwrap();
        }
        // dropped here, as on an error or a panic
    }
    assert!(!p.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "temporary file left behind");
}

#[test]
fn the_writer_refuses_what_the_format_cannot_hold() {
    let dir = tmp();
    let mut w = TraceWriter::create(dir.path().join("t.trace"), header()).unwrap();
    assert!(w.access(2, Op::Read, 0, 1, 0).is_err());
    assert!(w.access(0, Op::Read, 95, 10, 0).is_err());
    assert!(w.access(0, Op::Read, 0, 0, 0).is_err());
    assert!(w.access(0, Op::Read, u64::MAX, 2, 0).is_err());
    w.access(0, Op::Read, 90, 10, 0).unwrap();
    assert_eq!(w.finish().unwrap().events, 1);
}

#[cfg(unix)]
#[test]
fn traces_get_the_usual_permissions_not_private_ones() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp();
    let p = dir.path().join("shared.trace");
    write(&p);
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_ne!(mode & 0o044, 0, "mode {mode:o}: others cannot read a trace meant for sharing");
}

/// Everything a reader gives, batch by batch, until the end or an error:
/// the events, where the batches end, and the summary or the error.
fn replay(mut r: TraceReader) -> (Vec<Event>, Vec<usize>, Result<memtrace::TraceSummary, String>) {
    let (mut events, mut ends) = (Vec::new(), Vec::new());
    loop {
        match r.next_batch() {
            Ok(Some(b)) => {
                events.extend_from_slice(b);
                ends.push(events.len());
            }
            Ok(None) => return (events, ends, r.summary().ok_or_else(|| "no summary".to_string())),
            Err(e) => return (events, ends, Err(format!("{e} at {:?}", e.byte_offset()))),
        }
    }
}

/// A raw file is read and decoded on a thread of its own; a trace in
/// memory is decoded on the caller's. Both must give the same batches, the
/// same summary and, for damage anywhere (a flipped byte in any field of
/// any batch, a cut at any point), the same error after the same events.
#[test]
fn decoding_ahead_on_a_thread_gives_what_decoding_in_place_gives() {
    let dir = tmp();
    let path = dir.path().join("long.trace");
    let mut w = TraceWriter::create(&path, header()).unwrap();
    // Several batches of the reader's, and a last one that is not full.
    for i in 0..10_007u32 {
        let buffer = i % 2;
        let len = 1 + i % 20;
        w.event(Event { buffer, op: if i % 3 == 0 { Op::Write } else { Op::Read }, offset: 0, len, step: i / 7 })
            .unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let first = header_len(&bytes);
    let (events, _, summary) = replay(TraceReader::open(&path).unwrap());
    assert_eq!(events.len(), 10_007);
    assert_eq!(summary.unwrap().events, 10_007);

    let mut damaged: Vec<Vec<u8>> = Vec::new();
    // Every byte of events near the ends of the first batches (ids, ranges, op, reserved).
    for record in [0usize, 4095, 4096, 4097, 8191, 8192, 10_006] {
        for byte in 0..24 {
            let mut b = bytes.clone();
            b[first + record * 24 + byte] ^= 0x81;
            damaged.push(b);
        }
    }
    // Bytes chosen by a fixed generator, footer included.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = bytes.clone();
        let at = first + (x as usize) % (bytes.len() - first);
        b[at] ^= 1 << (x >> 61);
        damaged.push(b);
    }
    // Cuts inside the events, at batch ends and in the footer.
    for cut in [first, first + 1, first + 4096 * 24, first + 4096 * 24 + 5, bytes.len() - 24, bytes.len() - 1] {
        damaged.push(bytes[..cut].to_vec());
    }
    let flipped = dir.path().join("damaged.trace");
    for (i, b) in damaged.into_iter().enumerate() {
        std::fs::write(&flipped, &b).unwrap();
        let ahead = TraceReader::open(&flipped).map(replay).map_err(|e| e.to_string());
        let here = TraceReader::from_bytes(b).map(replay).map_err(|e| e.to_string());
        match (&ahead, &here) {
            (Ok((ea, ba, ra)), Ok((eh, bh, rh))) => {
                assert_eq!(ra, rh, "damage {i}");
                assert!(ra.is_err(), "damage {i} accepted");
                assert_eq!(ea.len(), eh.len(), "damage {i}: events before the error");
                assert_eq!(ea, eh, "damage {i}");
                assert_eq!(ba, bh, "damage {i}");
            }
            _ => assert_eq!(ahead.err(), here.err(), "damage {i}"),
        }
    }
}
