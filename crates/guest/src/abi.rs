//! The byte format in which the isolate and a guest exchange rows, parameters, state and
//! contributions (ABI version [`ABI_VERSION`]); `docs/formats.md` describes it for other
//! languages. Both sides use this module, so the two ends cannot drift apart.
//!
//! Every integer is little-endian. A list of numbers (`f64s`) is a `u32` count followed by that
//! many IEEE 754 binary64 values; a list of texts (`texts`) is a `u32` count followed by that
//! many texts, each a `u32` length and UTF-8 bytes. A cell is a tag byte followed by its value:
//! `0` empty, `1` text (`u32` length, UTF-8 bytes), `2` number (`i64`: an integer, a decimal in
//! units of 10^-scale, or a timestamp in microseconds since the Unix epoch), `3` boolean (one
//! byte, 0 or 1).

/// The ABI version a guest returns from `sealroom_abi_version`.
pub const ABI_VERSION: i32 = 2;

/// Export: the ABI version, `() -> i32`.
pub const EXPORT_ABI_VERSION: &str = "sealroom_abi_version";
/// Export: makes room for an input of `len` bytes and returns its address, `(len: i32) -> i32`.
pub const EXPORT_INPUT: &str = "sealroom_input";
/// Export: the initial state from the public parameters, `() -> i64`.
pub const EXPORT_INIT: &str = "sealroom_init";
/// Export: one person's contribution, `() -> i64`.
pub const EXPORT_CONTRIBUTE: &str = "sealroom_contribute";
/// Export (optional): the next state from the noised sums, `() -> i64`.
pub const EXPORT_UPDATE: &str = "sealroom_update";
/// Export (the vetted mode's entry point): the answer over the whole joined tables, `() -> i64`.
pub const EXPORT_ANALYZE: &str = "sealroom_analyze";

/// Packs an output's address and length into the `i64` every entry point returns: the address
/// in the low 32 bits, the length in the high 32 bits.
pub fn pack(address: u32, len: u32) -> i64 {
    ((u64::from(len) << 32) | u64::from(address)) as i64
}

/// The address and length packed by [`pack`].
pub fn unpack(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    (bits as u32, (bits >> 32) as u32)
}

/// One value of a row, typed by the dataset's schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// An empty value.
    Empty,
    /// A string.
    Text(&'a str),
    /// An integer, a decimal in units of 10^-scale, or a timestamp in microseconds.
    Number(i64),
    /// A boolean.
    Bool(bool),
}

const TAG_EMPTY: u8 = 0;
const TAG_TEXT: u8 = 1;
const TAG_NUMBER: u8 = 2;
const TAG_BOOL: u8 = 3;

/// Builds a message.
#[derive(Debug, Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Appends a list of numbers.
    pub fn f64s(&mut self, values: &[f64]) -> &mut Self {
        self.u32(values.len() as u32);
        for v in values {
            self.0.extend_from_slice(&v.to_le_bytes());
        }
        self
    }

    /// Appends a list of texts.
    pub fn texts<S: AsRef<str>>(&mut self, texts: &[S]) -> &mut Self {
        self.u32(texts.len() as u32);
        for text in texts {
            self.text(text.as_ref());
        }
        self
    }

    fn text(&mut self, text: &str) {
        self.u32(text.len() as u32);
        self.0.extend_from_slice(text.as_bytes());
    }

    /// Appends a cell.
    pub fn cell(&mut self, cell: Cell<'_>) -> &mut Self {
        match cell {
            Cell::Empty => self.0.push(TAG_EMPTY),
            Cell::Text(text) => {
                self.0.push(TAG_TEXT);
                self.text(text);
            }
            Cell::Number(n) => {
                self.0.push(TAG_NUMBER);
                self.0.extend_from_slice(&n.to_le_bytes());
            }
            Cell::Bool(b) => {
                self.0.push(TAG_BOOL);
                self.0.push(u8::from(b));
            }
        }
        self
    }

    /// The message's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// A message was cut short or malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was being read.
    pub what: &'static str,
    /// Its offset in the message.
    pub offset: usize,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "malformed {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Reads a message front to back.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let error = DecodeError {
            what,
            offset: self.at,
        };
        let end = self.at.checked_add(n).ok_or(error.clone())?;
        let slice = self.bytes.get(self.at..end).ok_or(error)?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// Reads a `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_le_bytes)
    }

    /// Reads a list of numbers.
    pub fn f64s(&mut self, what: &'static str) -> Result<Vec<f64>, DecodeError> {
        let n = self.u32(what)? as usize;
        // The count cannot promise more than the bytes left.
        if n > (self.bytes.len() - self.at) / 8 {
            return Err(DecodeError {
                what,
                offset: self.at,
            });
        }
        (0..n)
            .map(|_| self.array(what).map(f64::from_le_bytes))
            .collect()
    }

    fn text(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let offset = self.at;
        let len = self.u32(what)? as usize;
        let bytes = self.take(len, what)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError { what, offset })
    }

    /// Reads a list of texts.
    pub fn texts(&mut self, what: &'static str) -> Result<Vec<&'a str>, DecodeError> {
        let n = self.u32(what)? as usize;
        // Each text takes at least its 4-byte length.
        if n > (self.bytes.len() - self.at) / 4 {
            return Err(DecodeError {
                what,
                offset: self.at,
            });
        }
        (0..n).map(|_| self.text(what)).collect()
    }

    /// Reads a cell.
    pub fn cell(&mut self) -> Result<Cell<'a>, DecodeError> {
        let offset = self.at;
        let bad = DecodeError {
            what: "cell",
            offset,
        };
        match self.array::<1>("cell")?[0] {
            TAG_EMPTY => Ok(Cell::Empty),
            TAG_TEXT => self.text("text").map(Cell::Text),
            TAG_NUMBER => Ok(Cell::Number(i64::from_le_bytes(self.array("number")?))),
            TAG_BOOL => match self.array::<1>("boolean")?[0] {
                0 => Ok(Cell::Bool(false)),
                1 => Ok(Cell::Bool(true)),
                _ => Err(bad),
            },
            _ => Err(bad),
        }
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(DecodeError {
                what: "end of message",
                offset: self.at,
            })
        }
    }
}

/// One dataset's rows for one person, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows<'a> {
    columns: usize,
    cells: Vec<Cell<'a>>,
}

impl<'a> Rows<'a> {
    /// Rows of `columns` cells each, from their cells in row-major order.
    pub fn new(columns: usize, cells: Vec<Cell<'a>>) -> Self {
        Self { columns, cells }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.columns).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cells per row (the dataset's columns, in schema order).
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Row `i` (in the dataset's order), or none past the end.
    pub fn row(&self, i: usize) -> Option<&[Cell<'a>]> {
        let start = i.checked_mul(self.columns)?;
        self.cells.get(start..start.checked_add(self.columns)?)
    }

    /// Writes the start of one dataset's rows: `columns` cells per row, `rows` rows follow.
    pub fn write_header(writer: &mut Writer, columns: u32, rows: u32) {
        writer.u32(columns).u32(rows);
    }

    /// Every row, in the dataset's order.
    pub fn iter(&self) -> impl Iterator<Item = &[Cell<'a>]> {
        self.cells.chunks(self.columns.max(1))
    }

    /// Reads one dataset's rows as [`Rows::write_header`] and the cells wrote them.
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let columns = r.u32("column count")? as usize;
        let rows = r.u32("row count")? as usize;
        let total = rows.checked_mul(columns).ok_or(DecodeError {
            what: "row count",
            offset: r.at,
        })?;
        // Each cell takes at least one byte: reserve no more than the bytes left.
        let mut cells = Vec::with_capacity(total.min(r.bytes.len() - r.at));
        for _ in 0..total {
            cells.push(r.cell()?);
        }
        Ok(Rows::new(columns, cells))
    }
}

/// What a guest's `sealroom_contribute` reads: one person's rows from each dataset, the round,
/// the public parameters, the current state and the agreement's groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Person<'a> {
    /// The round, from 0.
    pub round: u32,
    /// The agreement's public parameters.
    pub params: Vec<f64>,
    /// The state after the previous round (the initial state in round 0).
    pub state: Vec<f64>,
    /// The person's rows in each of the program's inputs, in the agreement's order.
    pub datasets: Vec<Rows<'a>>,
    /// The groups the agreement declares, in its order: a contribution is one block of
    /// coordinates per group, in this order.
    pub groups: Vec<&'a str>,
}

impl<'a> Person<'a> {
    /// Writes the start of a contribution call's input; then, for each of `datasets` inputs,
    /// [`Rows::write_header`] and that many rows' cells; then [`Person::write_groups`].
    pub fn write_header(
        writer: &mut Writer,
        round: u32,
        params: &[f64],
        state: &[f64],
        datasets: u32,
    ) {
        writer.u32(round).f64s(params).f64s(state).u32(datasets);
    }

    /// Writes the end of a contribution call's input: the agreement's groups.
    pub fn write_groups<S: AsRef<str>>(writer: &mut Writer, groups: &[S]) {
        writer.texts(groups);
    }

    /// Decodes a contribution call's input.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let round = r.u32("round")?;
        let params = r.f64s("params")?;
        let state = r.f64s("state")?;
        let count = r.u32("dataset count")?;
        let mut datasets = Vec::new();
        for _ in 0..count {
            datasets.push(Rows::decode(&mut r)?);
        }
        let groups = r.texts("groups")?;
        r.finish()?;
        Ok(Self {
            round,
            params,
            state,
            datasets,
            groups,
        })
    }
}

/// What a vetted guest's `sealroom_analyze` reads: the public parameters, the agreement's
/// groups, and every person's rows from each dataset (the inputs joined by person), person by
/// person, read as they are iterated.
#[derive(Debug, Clone)]
pub struct Joined<'a> {
    /// The agreement's public parameters.
    pub params: Vec<f64>,
    /// The groups the agreement declares, in its order: the answer is one block of coordinates
    /// per group, in this order.
    pub groups: Vec<&'a str>,
    /// How many datasets each person has rows from (the program's inputs, in order).
    pub datasets: u32,
    /// How many people appear in any input.
    pub people: u32,
    rest: &'a [u8],
}

impl<'a> Joined<'a> {
    /// Writes the start of an analysis call's input; then, for each of `people` people and
    /// each of `datasets` datasets, [`Rows::write_header`] and that person's rows' cells.
    pub fn write_header<S: AsRef<str>>(
        writer: &mut Writer,
        params: &[f64],
        groups: &[S],
        datasets: u32,
        people: u32,
    ) {
        writer.f64s(params).texts(groups).u32(datasets).u32(people);
    }

    /// Decodes an analysis call's header; the people are read by [`Joined::people`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let params = r.f64s("params")?;
        let groups = r.texts("groups")?;
        let datasets = r.u32("dataset count")?;
        let people = r.u32("person count")?;
        Ok(Self {
            params,
            groups,
            datasets,
            people,
            rest: &bytes[r.at..],
        })
    }

    /// Each person's rows, one [`Rows`] per dataset, in the order the isolate wrote them;
    /// a malformed person ends the iteration with its error.
    pub fn people(&self) -> impl Iterator<Item = Result<Vec<Rows<'a>>, DecodeError>> + 'a {
        let mut r = Reader::new(self.rest);
        let (datasets, mut left, mut failed) = (self.datasets, self.people, false);
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            if left == 0 {
                if let Err(e) = r.finish() {
                    failed = true;
                    return Some(Err(e));
                }
                return None;
            }
            left -= 1;
            let person: Result<Vec<_>, _> = (0..datasets).map(|_| Rows::decode(&mut r)).collect();
            failed = person.is_err();
            Some(person)
        })
    }
}
