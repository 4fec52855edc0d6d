//! CSV shards in Summa's format, read as a stream.
//!
//! Header: `username,balance_<NAME>_<CHAIN>,...` with one or more currencies; then
//! one user per row, balances as non-negative decimal integers of any length. CRLF
//! line endings, a UTF-8 byte-order mark and spaces around numbers are accepted.
//! Rows are parsed straight into packed little-endian balances: no per-row strings.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::field::{bound, parse_decimal, write_balance};
use crate::{Error, Params, Result};

/// A currency column: `balance_<name>_<chain>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Currency {
    /// Currency name, e.g. `ETH`.
    pub name: String,
    /// Chain, e.g. `ETH`.
    pub chain: String,
}

impl Currency {
    /// `NAME_CHAIN`, as in the column header.
    pub fn label(&self) -> String {
        format!("{}_{}", self.name, self.chain)
    }
}

/// Parses a header row. Like summa-solvency: the first column is `username`, every
/// other column is `balance_<NAME>_<CHAIN>` with exactly three `_`-separated parts.
pub fn parse_header(fields: &[&[u8]], file: &str) -> Result<Vec<Currency>> {
    let bad = |problem: String| Error::Row {
        file: file.to_string(),
        line: 1,
        problem,
    };
    let text: Vec<&str> = fields
        .iter()
        .map(|f| std::str::from_utf8(f).map(|s| s.trim_end_matches('\r')))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad("the header is not valid UTF-8 text (is this a CSV file?)".into()))?;
    let first = text.first().map(|s| s.trim_start_matches('\u{feff}'));
    if first != Some("username") {
        return Err(bad(format!(
            "invalid header: the first column must be \"username\", found {:?}",
            first.unwrap_or("")
        )));
    }
    if text.len() < 2 {
        return Err(bad(
            "invalid header: no balance_<NAME>_<CHAIN> column".into()
        ));
    }
    let mut currencies = Vec::with_capacity(text.len() - 1);
    for (i, col) in text[1..].iter().enumerate() {
        let parts: Vec<&str> = col.split('_').collect();
        match parts.as_slice() {
            ["balance", name, chain] if name.len() > 255 || chain.len() > 255 => {
                return Err(bad(format!(
                    "invalid header: column {} has a currency name or chain longer than 255 bytes",
                    i + 2
                )))
            }
            ["balance", name, chain] if !name.is_empty() && !chain.is_empty() => {
                currencies.push(Currency {
                    name: name.to_string(),
                    chain: chain.to_string(),
                })
            }
            _ => {
                return Err(bad(format!(
                    "invalid header: column {} is {:?}, expected balance_<NAME>_<CHAIN>",
                    i + 2,
                    col
                )))
            }
        }
    }
    if currencies.len() > u16::MAX as usize {
        return Err(bad("invalid header: too many currencies".into()));
    }
    Ok(currencies)
}

/// The parsed rows of one shard, packed.
#[derive(Debug, Default)]
pub struct Entries {
    /// The currencies of the header.
    pub currencies: Vec<Currency>,
    /// All usernames, back to back.
    pub names: Vec<u8>,
    /// `names[offsets[i]..offsets[i + 1]]` is user `i`'s name.
    pub offsets: Vec<u64>,
    /// `n_currencies * n_bytes` little-endian bytes per user.
    pub balances: Vec<u8>,
    /// The 1-based line of each user's row.
    pub lines: Vec<u64>,
}

impl Entries {
    /// Number of users.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// User `i`'s name.
    pub fn name(&self, i: usize) -> &[u8] {
        name_at(&self.names, &self.offsets, i)
    }
}

/// Name `i` of names stored back to back, `names[offsets[i]..offsets[i + 1]]`
/// (a shard's [`Entries`], a mini-tree's usernames).
pub(crate) fn name_at<'a>(names: &'a [u8], offsets: &[u64], i: usize) -> &'a [u8] {
    &names[offsets[i] as usize..offsets[i + 1] as usize]
}

/// A CSV reader that ends records at `\n` only: with the default CRLF handling the
/// csv crate's line numbers drift by one in CRLF files. A `\r` before the `\n` is
/// left at the end of the last cell, where number parsing trims it.
pub(crate) fn csv_reader<R: Read>(reader: R) -> csv::Reader<WholeBom<R>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(1 << 16)
        .from_reader(WholeBom {
            inner: reader,
            first: true,
        })
}

/// Makes the first read return at least 4 bytes (or the whole input, if shorter).
///
/// csv-core strips a UTF-8 byte-order mark only when the first buffer it is given
/// holds all three bytes of it, and a first buffer holding nothing *but* the mark
/// leaves it an empty input, which it takes for the end of the file. A stream
/// whose first read returns fewer bytes (S3 bodies, pipes) would so read as another
/// header, or as an empty file. Found by the fuzzer (fuzz/, target `csv_shard`).
pub(crate) struct WholeBom<R> {
    inner: R,
    first: bool,
}

impl<R: Read> Read for WholeBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !std::mem::take(&mut self.first) {
            return self.inner.read(buf);
        }
        let want = buf.len().min(4);
        let mut got = 0;
        while got < want {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.first = got == 0;
                    if got == 0 {
                        return Err(e);
                    }
                    break;
                }
            }
        }
        Ok(got)
    }
}

/// A line holding nothing but a `\r` (a blank line of a CRLF file).
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.len() == 1 && record[0].trim_ascii().is_empty()
}

fn csv_error(file: &str, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(file, io),
        other => Error::Row {
            file: file.to_string(),
            line,
            problem: format!("{other:?}"),
        },
    }
}

/// Reads the header row of `rdr`: an empty file or an invalid header is an error.
fn header_of<R: Read>(rdr: &mut csv::Reader<R>, file: &str) -> Result<Vec<Currency>> {
    let mut record = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(file, e))?
    {
        return Err(Error::Shard {
            file: file.into(),
            problem: "empty file".into(),
        });
    }
    let fields: Vec<&[u8]> = record.iter().collect();
    parse_header(&fields, file)
}

/// Reads only the header of a shard (the first row).
pub fn read_header<R: Read>(reader: R, file: &str) -> Result<Vec<Currency>> {
    header_of(&mut csv_reader(reader), file)
}

/// Streams a shard into [`Entries`], checking every row: cell count, non-empty
/// username, balances that are non-negative integers below `2^(8 * n_bytes)`.
/// When `expected` is given the header must equal it.
pub fn read_entries<R: Read>(
    reader: R,
    file: &str,
    params: &Params,
    expected: Option<&[Currency]>,
) -> Result<Entries> {
    let n_bytes = params.n_bytes as usize;
    let limit = bound(params.n_bytes);
    let mut rdr = csv_reader(reader);
    let currencies = header_of(&mut rdr, file)?;
    let mut record = csv::ByteRecord::new();
    if let Some(expected) = expected {
        check_header(expected, "the round's first shard", &currencies, file)?;
    }
    let n = currencies.len();
    let mut entries = Entries {
        currencies,
        offsets: vec![0],
        ..Default::default()
    };
    let row_err = |line: u64, problem: String| Error::Row {
        file: file.into(),
        line,
        problem,
    };
    while rdr
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(file, e))?
    {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if is_blank(&record) {
            continue;
        }
        if record.len() != n + 1 {
            return Err(row_err(
                line,
                format!(
                    "expected {} cells (username and {} balance{}), found {}",
                    n + 1,
                    n,
                    if n == 1 { "" } else { "s" },
                    record.len()
                ),
            ));
        }
        let name = &record[0];
        if std::str::from_utf8(name).is_err() || name.contains(&0) {
            return Err(row_err(line, "the username is not valid UTF-8 text".into()));
        }
        if name.is_empty() {
            return Err(row_err(line, "empty username".into()));
        }
        params
            .layout
            .check_username(name)
            .map_err(|p| row_err(line, p))?;
        let start = entries.balances.len();
        entries.balances.resize(start + n * n_bytes, 0);
        for (c, cell) in record.iter().skip(1).enumerate() {
            let value = parse_decimal(cell).map_err(|p| {
                row_err(
                    line,
                    format!(
                        "{} of user {:?}: {p}",
                        header_label(&entries.currencies[c]),
                        lossy(name)
                    ),
                )
            })?;
            if value >= limit {
                return Err(row_err(
                    line,
                    format!(
                        "{} of user {:?} is {value}, out of range for n_bytes = {} (must be below 2^{})",
                        header_label(&entries.currencies[c]),
                        lossy(name),
                        params.n_bytes,
                        8 * n_bytes
                    ),
                ));
            }
            let at = start + c * n_bytes;
            write_balance(&value, &mut entries.balances[at..at + n_bytes]);
        }
        entries.names.extend_from_slice(name);
        entries.offsets.push(entries.names.len() as u64);
        entries.lines.push(line);
    }
    if entries.is_empty() {
        return Err(Error::Shard {
            file: file.into(),
            problem: "no users: the shard has only a header".into(),
        });
    }
    // The vectors grew by doubling: give the slack back before the tree is built
    // next to them (it bounds the peak memory per user).
    entries.names.shrink_to_fit();
    entries.offsets.shrink_to_fit();
    entries.balances.shrink_to_fit();
    entries.lines.shrink_to_fit();
    Ok(entries)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn header_label(c: &Currency) -> String {
    format!("balance_{}", c.label())
}

/// Every shard of a round has the first shard's header: an error naming `file`'s
/// line 1 unless its currencies `found` equal `expected` (those of `first`).
pub fn check_header(
    expected: &[Currency],
    first: &str,
    found: &[Currency],
    file: &str,
) -> Result<()> {
    if expected == found {
        return Ok(());
    }
    Err(Error::Row {
        file: file.into(),
        line: 1,
        problem: format!(
            "header differs from {first}: expected {}, found {}",
            header_line(expected),
            header_line(found)
        ),
    })
}

/// The header line of a list of currencies.
pub fn header_line(currencies: &[Currency]) -> String {
    let mut s = String::from("username");
    for c in currencies {
        s.push(',');
        s.push_str(&header_label(c));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<Entries> {
        read_entries(text, "s.csv", &Params::default(), None)
    }

    fn err(text: &[u8]) -> String {
        read(text).unwrap_err().to_string()
    }

    /// The refusal of `text` as `s.csv` in `layout`.
    fn err_in(layout: crate::Layout, text: &[u8]) -> String {
        let params = Params {
            layout,
            ..Params::default()
        };
        read_entries(text, "s.csv", &params, None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_rows_with_crlf_and_spaces() {
        let e = read(b"username,balance_ETH_ETH,balance_USDT_ETH\r\nalice, 12 ,3\r\nbob,0,7\r\n")
            .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e.name(1), b"bob");
        assert_eq!(e.lines, vec![2, 3]);
        assert_eq!(
            e.currencies[1],
            Currency {
                name: "USDT".into(),
                chain: "ETH".into()
            }
        );
        assert_eq!(e.balances[0], 12);
        assert_eq!(e.balances[14], 3);
    }

    #[test]
    fn rejects_bad_input_with_line_numbers() {
        let h = "username,balance_ETH_ETH\n";
        assert_eq!(err(b""), "s.csv: empty file");
        assert!(err(h.as_bytes()).contains("only a header"));
        assert_eq!(
            err(format!("{h}a,1\nb,x\n").as_bytes()),
            "s.csv:3: balance_ETH_ETH of user \"b\": balance \"x\" is not a non-negative decimal integer"
        );
        assert!(err(format!("{h}a,-1\n").as_bytes())
            .starts_with("s.csv:2: balance_ETH_ETH of user \"a\": negative"));
        assert!(err(format!("{h}a,1,2\n").as_bytes()).contains("s.csv:2: expected 2 cells"));
        assert!(err(format!("{h}a\n").as_bytes()).contains("found 1"));
        assert!(err(format!("{h},5\n").as_bytes()).contains("s.csv:2: empty username"));
        assert!(err(b"user,balance_ETH_ETH\na,1\n").contains("s.csv:1: invalid header"));
        assert!(err(b"username,balance_ETH\na,1\n").contains("column 2"));
        assert!(err(b"username\na\n").contains("no balance"));
        assert!(err(b"\x89PNG\r\n\x1a\n\x00\x00").contains("not valid UTF-8"));
        let big = format!("{h}a,{}\n", 1u128 << 112);
        assert!(err(big.as_bytes()).contains("out of range for n_bytes = 14"));
    }

    #[test]
    fn usernames_at_or_above_p_are_refused_in_agg2023_and_legacy() {
        let csv = format!("username,balance_ETH_ETH\nann,1\n{},2\n", "z".repeat(32));
        for layout in [crate::Layout::Agg2023, crate::Layout::Legacy] {
            let e = err_in(layout, csv.as_bytes());
            assert!(
                e.starts_with("s.csv:3: username \"zzzzzzzz") && e.contains("modulus p"),
                "{e}"
            );
            assert!(e.contains(layout.name()), "{e}");
        }
        // v1 hashes the name first: the same file is fine.
        assert_eq!(read(csv.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn a_username_with_a_nul_byte_is_refused_in_every_layout() {
        // In agg2023 and legacy "\0ann" is the integer of "ann": one leaf, two users.
        for name in ["\0ann", "a\0nn"] {
            let csv = format!("username,balance_ETH_ETH\nann,1\n{name},2\n");
            for layout in crate::Layout::ALL {
                let e = err_in(layout, csv.as_bytes());
                assert!(
                    e.starts_with("s.csv:3: the username is not"),
                    "{layout}: {e}"
                );
            }
            assert!(layout_refuses(name.as_bytes()) == name.starts_with('\0'));
        }
    }

    /// `verify` refuses an empty name in every layout, as a round does (issue 29): in
    /// agg2023 and legacy `("", 0, 0)` is the padding leaf.
    #[test]
    fn an_empty_username_is_refused_by_every_layouts_rule() {
        assert!(layout_refuses(b""));
        for layout in crate::Layout::ALL {
            assert!(layout.check_username(b"").unwrap_err().contains("empty"));
        }
    }

    /// Whether every layout's username rule (what `verify` applies to a proof's
    /// name) refuses `name`.
    fn layout_refuses(name: &[u8]) -> bool {
        crate::Layout::ALL
            .iter()
            .all(|l| l.check_username(name).is_err())
    }

    #[test]
    fn header_must_match_expected() {
        let cur = vec![Currency {
            name: "BTC".into(),
            chain: "BTC".into(),
        }];
        let e = read_entries(
            &b"username,balance_ETH_ETH\na,1\n"[..],
            "s.csv",
            &Params::default(),
            Some(&cur),
        )
        .unwrap_err();
        assert!(e.to_string().contains("header differs"), "{e}");
    }
}
