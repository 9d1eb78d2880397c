//! `memtrace._native`: the per-call hot path of the Python package's trace
//! writer, in Rust. `EventSink` does exactly what `memtrace.writer.PySink`
//! does (that class is its reference, and the tests compare their bytes);
//! everything it does not take on its fast path goes back to the Python
//! `slow` callable, which checks it and calls `record`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyInt};

/// Packed events are handed to the spool in blocks of this many bytes.
const BLOCK: usize = 1 << 16;
/// One event on disk: offset u64, length u32, buffer u32, step u32, op u8, 3 zero bytes.
const EVENT_BYTES: usize = 24;

/// The events of a trace being written (see `memtrace.writer.PySink`).
#[pyclass(module = "memtrace._native")]
struct EventSink {
    slow: Py<PyAny>,
    spool: Py<PyAny>,
    /// Buffer name -> id, a Python dict so lookups reuse the str's cached hash.
    ids: Py<PyDict>,
    ends: Vec<u64>,
    last: Vec<Option<u64>>,
    pending: Vec<u8>,
    #[pyo3(get, set)]
    step: u32,
    #[pyo3(get)]
    count: u64,
    #[pyo3(get, set)]
    closed: bool,
}

/// `value` when it is exactly a Python `int` that fits in a u64; anything
/// else (a bool, a numpy integer, a negative or huge int) takes the slow path.
fn exact_u64(value: &Bound<'_, PyAny>) -> Option<u64> {
    if value.is_exact_instance_of::<PyInt>() {
        value.extract::<u64>().ok()
    } else {
        None
    }
}

impl EventSink {
    fn push(&mut self, py: Python<'_>, buf: usize, op: u8, offset: u64, size: u64) -> PyResult<()> {
        let end = offset + size;
        if end > self.ends[buf] {
            self.ends[buf] = end;
        }
        let mut event = [0u8; EVENT_BYTES];
        event[0..8].copy_from_slice(&offset.to_le_bytes());
        event[8..12].copy_from_slice(&(size as u32).to_le_bytes());
        event[12..16].copy_from_slice(&(buf as u32).to_le_bytes());
        event[16..20].copy_from_slice(&self.step.to_le_bytes());
        event[20] = op;
        self.pending.extend_from_slice(&event);
        if self.pending.len() >= BLOCK {
            self.flush(py)?;
        }
        Ok(())
    }

    /// The id of a known buffer, or None.
    fn lookup(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        match self.ids.bind(py).get_item(name)? {
            Some(id) => Ok(Some(id.extract::<usize>()?)),
            None => Ok(None),
        }
    }

    /// `(offset, size)` when both are in range for one event, else None.
    fn fast_range(size: Option<u64>, offset: Option<u64>) -> Option<(u64, u64)> {
        let (size, offset) = (size?, offset?);
        if size == 0 || size > u64::from(u32::MAX) {
            return None;
        }
        offset.checked_add(size)?;
        Some((offset, size))
    }
}

#[pymethods]
impl EventSink {
    #[new]
    fn new(py: Python<'_>, slow: Py<PyAny>, spool: Py<PyAny>) -> Self {
        EventSink {
            slow,
            spool,
            ids: PyDict::new(py).unbind(),
            ends: Vec::new(),
            last: Vec::new(),
            pending: Vec::with_capacity(BLOCK + EVENT_BYTES),
            step: 0,
            count: 0,
            closed: false,
        }
    }

    #[pyo3(signature = (name, size=None, offset=None))]
    fn read(
        slf: &Bound<'_, Self>,
        name: &Bound<'_, PyAny>,
        size: Option<&Bound<'_, PyAny>>,
        offset: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let slow = {
            let mut this = slf.borrow_mut();
            if !this.closed {
                if let Some(buf) = this.lookup(py, name)? {
                    let size_value = match size {
                        None => this.last[buf],
                        Some(s) => exact_u64(s),
                    };
                    let offset_value = match offset {
                        None => Some(0),
                        Some(o) => exact_u64(o),
                    };
                    if let Some((offset, size)) = Self::fast_range(size_value, offset_value) {
                        return this.push(py, buf, 0, offset, size);
                    }
                }
            }
            // The slow path may call back into this sink: release it first.
            this.slow.clone_ref(py)
        };
        let none = py.None();
        let size = size.map_or_else(|| none.clone_ref(py), |s| s.clone().unbind());
        let offset =
            offset.map_or_else(|| 0u8.into_pyobject(py).map(|o| o.into_any().unbind()), |o| Ok(o.clone().unbind()))?;
        slow.call1(py, (0u8, name, size, offset, none.clone_ref(py), none))?;
        Ok(())
    }

    #[pyo3(signature = (name, size, offset=None, role=None, elem_size=None))]
    fn write(
        slf: &Bound<'_, Self>,
        name: &Bound<'_, PyAny>,
        size: &Bound<'_, PyAny>,
        offset: Option<&Bound<'_, PyAny>>,
        role: Option<&Bound<'_, PyAny>>,
        elem_size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let role = role.filter(|r| !r.is_none());
        let slow = {
            let mut this = slf.borrow_mut();
            if !this.closed && role.is_none() {
                if let Some(buf) = this.lookup(py, name)? {
                    let offset_value = match offset {
                        None => Some(0),
                        Some(o) => exact_u64(o),
                    };
                    if let Some((offset, size)) = Self::fast_range(exact_u64(size), offset_value) {
                        this.last[buf] = Some(size);
                        return this.push(py, buf, 1, offset, size);
                    }
                }
            }
            this.slow.clone_ref(py)
        };
        let none = py.None();
        let offset =
            offset.map_or_else(|| 0u8.into_pyobject(py).map(|o| o.into_any().unbind()), |o| Ok(o.clone().unbind()))?;
        let role = role.map_or_else(|| none.clone_ref(py), |r| r.clone().unbind());
        let elem_size = elem_size.map_or_else(|| none.clone_ref(py), |e| e.clone().unbind());
        slow.call1(py, (1u8, name, size, offset, role, elem_size))?;
        Ok(())
    }

    /// Adds buffer `name`; returns its id (the order of registration).
    fn register(&mut self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<usize> {
        let id = self.ends.len();
        self.ids.bind(py).set_item(name, id)?;
        self.ends.push(0);
        self.last.push(None);
        Ok(id)
    }

    /// Records elements [offset, offset + size) of buffer `buf` (checked by
    /// the caller), as events of at most 2^32 - 1 elements.
    fn record(&mut self, py: Python<'_>, buf: usize, op: u8, offset: u64, size: u64) -> PyResult<()> {
        self.check(buf)?;
        let end = offset
            .checked_add(size)
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("offset + size exceeds 2^64"))?;
        if op == 1 {
            self.last[buf] = Some(size);
        }
        if end > self.ends[buf] {
            self.ends[buf] = end;
        }
        let (mut offset, mut size) = (offset, size);
        while size > 0 {
            let n = size.min(u64::from(u32::MAX));
            self.push(py, buf, op, offset, n)?;
            offset += n;
            size -= n;
        }
        Ok(())
    }

    /// Buffer `buf` holds at least `end` elements (touched or not).
    fn declare(&mut self, buf: usize, end: u64) -> PyResult<()> {
        self.check(buf)?;
        if end > self.ends[buf] {
            self.ends[buf] = end;
        }
        Ok(())
    }

    fn end(&self, buf: usize) -> PyResult<u64> {
        self.check(buf)?;
        Ok(self.ends[buf])
    }

    fn last_size(&self, buf: usize) -> PyResult<Option<u64>> {
        self.check(buf)?;
        Ok(self.last[buf])
    }

    /// Appends packed events (24 bytes each, little-endian).
    fn extend_raw(&mut self, py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<()> {
        self.flush(py)?;
        self.spool.call_method1(py, "write", (data,))?;
        self.count += (data.as_bytes().len() / EVENT_BYTES) as u64;
        Ok(())
    }

    fn flush(&mut self, py: Python<'_>) -> PyResult<()> {
        if !self.pending.is_empty() {
            let block = PyBytes::new(py, &self.pending);
            self.spool.call_method1(py, "write", (block,))?;
            self.count += (self.pending.len() / EVENT_BYTES) as u64;
            self.pending.clear();
        }
        Ok(())
    }
}

impl EventSink {
    fn check(&self, buf: usize) -> PyResult<()> {
        if buf < self.ends.len() {
            Ok(())
        } else {
            Err(pyo3::exceptions::PyIndexError::new_err(format!("no buffer with id {buf}")))
        }
    }
}

/// The clock and events of a traced run (see `memtrace.scalar.PyTape`,
/// its reference): each method records one kind of operation.
#[pyclass(module = "memtrace._native")]
struct Tape {
    /// The writer's sink; blocks of packed events go to its `extend_raw`.
    sink: Py<PyAny>,
    pending: Vec<u8>,
    #[pyo3(get)]
    vbuf: u32,
    #[pyo3(get)]
    tick: u64,
    #[pyo3(get)]
    next: u64,
}

/// Events per block handed to the sink, as `memtrace.scalar._BLOCK`.
const TAPE_BLOCK: usize = 1 << 12;

impl Tape {
    fn event(&mut self, offset: u64, buffer: u32, op: u8) -> PyResult<()> {
        let step = u32::try_from(self.tick).map_err(|_| {
            pyo3::exceptions::PyOverflowError::new_err(
                "the traced run exceeds 2^32 ticks: the format's step field is 32 bits",
            )
        })?;
        let mut event = [0u8; EVENT_BYTES];
        event[0..8].copy_from_slice(&offset.to_le_bytes());
        event[8..12].copy_from_slice(&1u32.to_le_bytes());
        event[12..16].copy_from_slice(&buffer.to_le_bytes());
        event[16..20].copy_from_slice(&step.to_le_bytes());
        event[20] = op;
        self.pending.extend_from_slice(&event);
        self.tick += 1;
        Ok(())
    }

    fn load_event(&mut self, offset: u64, buffer: u32) -> PyResult<()> {
        self.event(offset, buffer, 0)
    }

    fn store(&mut self, py: Python<'_>) -> PyResult<u64> {
        let n = self.next;
        self.event(n, self.vbuf, 1)?;
        self.next = n + 1;
        self.maybe_flush(py)?;
        Ok(n)
    }

    fn maybe_flush(&mut self, py: Python<'_>) -> PyResult<()> {
        if self.pending.len() >= TAPE_BLOCK * EVENT_BYTES {
            self.flush(py)?;
        }
        Ok(())
    }
}

#[pymethods]
impl Tape {
    #[new]
    fn new(sink: Py<PyAny>, vbuf: u32) -> Self {
        Tape { sink, pending: Vec::with_capacity(TAPE_BLOCK * EVENT_BYTES + 4 * EVENT_BYTES), vbuf, tick: 0, next: 0 }
    }

    /// `a op b`, both traced: load a, load b, tick, store.
    fn binary(&mut self, py: Python<'_>, a_offset: u64, a_buffer: u32, b_offset: u64, b_buffer: u32) -> PyResult<u64> {
        self.load_event(a_offset, a_buffer)?;
        self.load_event(b_offset, b_buffer)?;
        self.tick += 1;
        self.store(py)
    }

    /// An operation with one traced operand: load, tick, store.
    fn unary(&mut self, py: Python<'_>, offset: u64, buffer: u32) -> PyResult<u64> {
        self.load_event(offset, buffer)?;
        self.tick += 1;
        self.store(py)
    }

    /// A comparison of two traced operands: load, load, tick.
    fn compare(&mut self, py: Python<'_>, a_offset: u64, a_buffer: u32, b_offset: u64, b_buffer: u32) -> PyResult<()> {
        self.load_event(a_offset, a_buffer)?;
        self.load_event(b_offset, b_buffer)?;
        self.tick += 1;
        self.maybe_flush(py)
    }

    /// A comparison with a constant: load, tick.
    fn compare1(&mut self, py: Python<'_>, offset: u64, buffer: u32) -> PyResult<()> {
        self.load_event(offset, buffer)?;
        self.tick += 1;
        self.maybe_flush(py)
    }

    /// One load (returning a result): load, tick.
    fn load(&mut self, py: Python<'_>, offset: u64, buffer: u32) -> PyResult<()> {
        self.load_event(offset, buffer)?;
        self.maybe_flush(py)
    }

    /// Loads of `loads` (offset, buffer, offset, buffer, ...), one tick,
    /// `stores` stores; returns the first stored offset.
    fn general(&mut self, py: Python<'_>, loads: Vec<u64>, stores: u32) -> PyResult<u64> {
        for pair in loads.chunks(2) {
            let buffer = pair.get(1).copied().unwrap_or_default();
            let buffer =
                u32::try_from(buffer).map_err(|_| pyo3::exceptions::PyValueError::new_err("buffer id over 32 bits"))?;
            self.load_event(pair[0], buffer)?;
        }
        self.tick += 1;
        let first = self.next;
        for _ in 0..stores {
            self.store(py)?;
        }
        Ok(first)
    }

    fn flush(&mut self, py: Python<'_>) -> PyResult<()> {
        if !self.pending.is_empty() {
            let block = PyBytes::new(py, &self.pending);
            self.sink.call_method1(py, "extend_raw", (block,))?;
            self.pending.clear();
        }
        Ok(())
    }
}

/// The module: `from memtrace._native import EventSink, Tape`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<EventSink>()?;
    m.add_class::<Tape>()?;
    Ok(())
}
