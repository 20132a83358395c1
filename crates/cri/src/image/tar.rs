//! A minimal ustar archive writer: directories, regular files, symbolic and hard links, with
//! fixed owner (root) and time (the epoch) so that the same input gives the same bytes.

use std::io::{self, Read, Write};

const BLOCK: usize = 512;
/// ustar's octal size field has 11 digits.
const MAX_SIZE: u64 = 0o77_777_777_777;

/// The kind of an archive entry (ustar's type flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    HardLink,
    Symlink,
    Directory,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::HardLink => b'1',
            Kind::Symlink => b'2',
            Kind::Directory => b'5',
        }
    }
}

/// Writes a tar archive to `W`.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    out: W,
}

impl<W: Write> TarWriter<W> {
    /// An archive written to `out`.
    pub fn new(out: W) -> TarWriter<W> {
        TarWriter { out }
    }

    /// A directory at `path` (relative, e.g. `usr/bin`).
    pub fn directory(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let name = format!("{}/", path.trim_end_matches('/'));
        self.header(&name, Kind::Directory, mode, 0, "")
    }

    /// A regular file of `size` bytes read from `content`.
    pub fn file(
        &mut self,
        path: &str,
        mode: u32,
        size: u64,
        content: &mut dyn Read,
    ) -> io::Result<()> {
        self.header(path, Kind::File, mode, size, "")?;
        let copied = io::copy(&mut content.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{path}: expected {size} bytes, read {copied}"),
            ));
        }
        self.pad(size)
    }

    /// A regular file of `size` bytes that `produce` writes.
    pub fn file_from(
        &mut self,
        path: &str,
        mode: u32,
        size: u64,
        produce: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        self.header(path, Kind::File, mode, size, "")?;
        let mut counted = CountingWriter {
            out: &mut self.out,
            written: 0,
        };
        produce(&mut counted)?;
        if counted.written != size {
            return Err(io::Error::other(format!(
                "{path}: expected {size} bytes, got {} (did the input change?)",
                counted.written
            )));
        }
        self.pad(size)
    }

    /// A symbolic link at `path` pointing to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.header(path, Kind::Symlink, 0o777, 0, target)
    }

    /// A hard link at `path` to the archive's earlier entry `target`.
    pub fn hardlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.header(path, Kind::HardLink, 0o644, 0, target)
    }

    /// Ends the archive (two zero blocks) and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0; 2 * BLOCK])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let used = usize::try_from(size % BLOCK as u64).unwrap_or(0);
        if used != 0 {
            self.out.write_all(&[0; BLOCK][used..])?;
        }
        Ok(())
    }

    fn header(
        &mut self,
        path: &str,
        kind: Kind,
        mode: u32,
        size: u64,
        link: &str,
    ) -> io::Result<()> {
        self.out.write_all(&header(path, kind, mode, size, link)?)
    }
}

struct CountingWriter<'a, W: Write> {
    out: &'a mut W,
    written: u64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn header(path: &str, kind: Kind, mode: u32, size: u64, link: &str) -> io::Result<[u8; BLOCK]> {
    if size > MAX_SIZE {
        return Err(invalid(format!(
            "{path}: {size} bytes is too large for a tar entry"
        )));
    }
    if link.len() > 100 {
        return Err(invalid(format!(
            "{path}: link target longer than 100 bytes"
        )));
    }
    let (prefix, name) = split_name(path)?;
    let mut block = [0u8; BLOCK];
    put(&mut block[0..100], name.as_bytes());
    put(
        &mut block[100..108],
        octal(u64::from(mode & 0o7777), 7).as_bytes(),
    );
    put(&mut block[108..116], b"0000000"); // uid
    put(&mut block[116..124], b"0000000"); // gid
    put(&mut block[124..136], octal(size, 11).as_bytes());
    put(&mut block[136..148], b"00000000000"); // mtime
    block[156] = kind.flag();
    put(&mut block[157..257], link.as_bytes());
    put(&mut block[257..263], b"ustar\0");
    put(&mut block[263..265], b"00");
    put(&mut block[265..297], b"root");
    put(&mut block[297..329], b"root");
    put(&mut block[345..500], prefix.as_bytes());
    // The checksum is computed with its own field read as spaces.
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    put(&mut block[148..156], format!("{sum:06o}\0 ").as_bytes());
    Ok(block)
}

/// Splits a path into ustar's 155-byte prefix and 100-byte name at a slash.
fn split_name(path: &str) -> io::Result<(&str, &str)> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    let too_long = || invalid(format!("{path}: too long for a ustar name"));
    // The name keeps the longest tail that fits; the prefix takes the rest.
    let split = path
        .char_indices()
        .filter(|&(i, c)| c == '/' && path.len() - i - 1 <= 100 && i <= 155)
        .map(|(i, _)| i)
        .next()
        .ok_or_else(too_long)?;
    let (prefix, name) = (&path[..split], &path[split + 1..]);
    if name.is_empty() {
        return Err(too_long());
    }
    Ok((prefix, name))
}

fn octal(value: u64, digits: usize) -> String {
    format!("{value:0digits$o}")
}

fn put(field: &mut [u8], value: &[u8]) {
    field[..value.len()].copy_from_slice(value);
}
