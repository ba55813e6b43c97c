//! A rectangular table of already-formatted cells: what every CSV output is
//! built as before it is written, and what `diff` reads back.

use crate::error::{Error, Result};
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Frame {
    pub fn new(header: Vec<String>) -> Frame {
        Frame {
            header,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.header.len());
        self.rows.push(row);
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// CSV bytes: comma-separated, quoted only where needed, `\n` line ends.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&self.header);
        for row in &self.rows {
            let _ = w.write_record(row);
        }
        w.into_inner().unwrap_or_default()
    }

    /// A frame from CSV text (a snapshot's contents); `None` if malformed.
    pub fn parse_csv(text: &str) -> Option<Frame> {
        let mut r = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(text.as_bytes());
        let header = r.headers().ok()?.iter().map(str::to_string).collect();
        let mut frame = Frame::new(header);
        for record in r.records() {
            frame
                .rows
                .push(record.ok()?.iter().map(str::to_string).collect());
        }
        Some(frame)
    }

    pub fn read_csv(path: &Path) -> Result<Frame> {
        let mut r = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(path)
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?;
        let header = r
            .headers()
            .map_err(|e| Error::user(format!("{}: {e}", path.display())))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut frame = Frame::new(header);
        for record in r.records() {
            let record = record
                .map_err(|e| Error::user(format!("{}: malformed CSV: {e}", path.display())))?;
            frame.rows.push(record.iter().map(str::to_string).collect());
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut f = Frame::new(vec!["a".into(), "b".into()]);
        f.push(vec!["1".into(), "x, y".into()]);
        assert_eq!(String::from_utf8(f.to_csv()).unwrap(), "a,b\n1,\"x, y\"\n");
    }
}
