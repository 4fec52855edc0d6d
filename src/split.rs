//! Cutting one big CSV export into shards of `K` users.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::shard::{header_line, parse_header};
use crate::{Error, Result};

type ShardWriter = csv::Writer<BufWriter<File>>;

/// Splits the CSV read from `input` (named `name` in errors) into files of at most
/// `shard_size` users each, streaming: `shard-000000.csv`, `shard-000001.csv`, ...,
/// each with the header. Six digits keep name order equal to shard order up to a
/// million shards; past that the names are widened at the end. Only the header is
/// checked here: `summa-agg round` checks every row.
pub fn split<R: Read>(input: R, name: &str, shard_size: u64, out: &Path) -> Result<Vec<PathBuf>> {
    if shard_size == 0 {
        return Err(Error::Invalid("--shard-size must be at least 1".into()));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut rec = csv::ByteRecord::new();
    let read_err = |e: csv::Error| Error::Row {
        file: name.into(),
        line: e.position().map(|p| p.line()).unwrap_or(0),
        problem: e.to_string(),
    };
    if !rdr.read_byte_record(&mut rec).map_err(read_err)? {
        return Err(Error::Shard {
            file: name.into(),
            problem: "empty file".into(),
        });
    }
    let header: Vec<&[u8]> = rec.iter().collect();
    let head = header_line(&parse_header(&header, name)?);
    fs::create_dir_all(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    // Shards of an earlier split would join the round: refuse rather than mix.
    let entries = fs::read_dir(out).map_err(|e| Error::io(out.display().to_string(), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("shard-") && name.ends_with(".csv") {
            return Err(Error::Invalid(format!(
                "{}: already holds shards ({name}); split into an empty directory",
                out.display()
            )));
        }
    }

    let write_err = |p: &Path, e: csv::Error| {
        Error::io(
            p.display().to_string(),
            std::io::Error::other(e.to_string()),
        )
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut current: Option<ShardWriter> = None;
    let mut in_shard = 0u64;
    let finish = |w: ShardWriter, p: &Path| -> Result<()> {
        let mut inner = w.into_inner().map_err(|e| {
            Error::io(
                p.display().to_string(),
                std::io::Error::other(e.to_string()),
            )
        })?;
        inner
            .flush()
            .map_err(|e| Error::io(p.display().to_string(), e))
    };
    while rdr.read_byte_record(&mut rec).map_err(read_err)? {
        if current.is_none() {
            let path = out.join(format!("shard-{:06}.csv", paths.len()));
            let f = File::create(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
            let mut w = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 16, f));
            w.write_record(head.split(','))
                .map_err(|e| write_err(&path, e))?;
            paths.push(path);
            current = Some(w);
            in_shard = 0;
        }
        let path = paths.last().unwrap();
        current
            .as_mut()
            .unwrap()
            .write_byte_record(&rec)
            .map_err(|e| write_err(path, e))?;
        in_shard += 1;
        if in_shard == shard_size {
            finish(current.take().unwrap(), path)?;
        }
    }
    if let Some(w) = current {
        finish(w, paths.last().unwrap())?;
    }
    if paths.is_empty() {
        return Err(Error::Shard {
            file: name.into(),
            problem: "no users: the file has only a header".into(),
        });
    }
    let width = paths.len().saturating_sub(1).to_string().len();
    if width > 6 {
        for (i, p) in paths.iter_mut().enumerate() {
            let np = out.join(format!("shard-{i:0width$}.csv"));
            fs::rename(&*p, &np).map_err(|e| Error::io(np.display().to_string(), e))?;
            *p = np;
        }
    }
    Ok(paths)
}
