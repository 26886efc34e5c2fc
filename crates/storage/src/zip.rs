//! `ZipPackager`: streams objects into a Stored (uncompressed) zip.
//!
//! JPEGs do not compress, so entries are Stored: no CPU spent, and the zip
//! is a plain concatenation the client can unpack with anything. Each
//! entry's CRC-32 is computed while its bytes stream through and written
//! in a data descriptor after it, so nothing is read twice and nothing is
//! held in memory beyond one chunk. Zips past 4 GiB or 65,535 entries get
//! ZIP64 records.

use async_trait::async_trait;
use bytes::{BufMut, Bytes, BytesMut};
use chrono::{Datelike, Timelike, Utc};
use futures::StreamExt;
use proofsheet_core::{BlobStore, BlobWriter, Error, Packager, Result};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL: u32 = 0x0605_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
/// Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8.
const FLAGS: u16 = 0x0008 | 0x0800;
const U32_MAX: u64 = 0xFFFF_FFFF;

/// The packager of order zips.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZipPackager;

struct Entry {
    name: String,
    crc: u32,
    size: u64,
    offset: u64,
}

/// Writes through to a blob writer, counting bytes.
struct Out {
    writer: Box<dyn BlobWriter>,
    offset: u64,
    pending: BytesMut,
}

impl Out {
    fn header(&mut self) -> &mut BytesMut {
        &mut self.pending
    }

    async fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            let b = self.pending.split().freeze();
            self.offset += b.len() as u64;
            self.writer.write(b).await?;
        }
        Ok(())
    }

    async fn data(&mut self, chunk: Bytes) -> Result<()> {
        self.flush().await?;
        self.offset += chunk.len() as u64;
        self.writer.write(chunk).await
    }

    fn position(&self) -> u64 {
        self.offset + self.pending.len() as u64
    }
}

fn dos_time() -> (u16, u16) {
    let now = Utc::now();
    let time = ((now.hour() as u16) << 11) | ((now.minute() as u16) << 5) | (now.second() as u16 / 2);
    let year = (now.year().clamp(1980, 2107) - 1980) as u16;
    let date = (year << 9) | ((now.month() as u16) << 5) | now.day() as u16;
    (time, date)
}

#[async_trait]
impl Packager for ZipPackager {
    async fn package(&self, blobs: &dyn BlobStore, dest: &str, entries: &[(String, String)]) -> Result<u64> {
        let writer = blobs.writer(dest).await?;
        let mut out = Out { writer, offset: 0, pending: BytesMut::with_capacity(64 * 1024) };
        match write_zip(blobs, &mut out, entries).await {
            Ok(()) => out.writer.finish().await,
            Err(e) => {
                if let Err(abort) = out.writer.abort().await {
                    tracing::warn!(error = %abort, "aborting a failed zip");
                }
                Err(e)
            }
        }
    }
}

async fn write_zip(blobs: &dyn BlobStore, out: &mut Out, entries: &[(String, String)]) -> Result<()> {
    let (time, date) = dos_time();
    let mut written = Vec::with_capacity(entries.len());
    for (name, key) in entries {
        if name.len() > u16::MAX as usize {
            return Err(Error::invalid("invalid_filename", "a file name is too long for a zip"));
        }
        let offset = out.position();
        let h = out.header();
        h.put_u32_le(LOCAL_HEADER);
        h.put_u16_le(20); // version needed: 2.0
        h.put_u16_le(FLAGS);
        h.put_u16_le(0); // Stored
        h.put_u16_le(time);
        h.put_u16_le(date);
        h.put_u32_le(0); // CRC, sizes: in the data descriptor
        h.put_u32_le(0);
        h.put_u32_le(0);
        h.put_u16_le(name.len() as u16);
        h.put_u16_le(0);
        h.put_slice(name.as_bytes());

        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u64;
        let mut stream = blobs.stream(key, None).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            crc.update(&chunk);
            size += chunk.len() as u64;
            out.data(chunk).await?;
        }
        if size >= U32_MAX {
            return Err(Error::invalid("file_too_large", "a single file of 4 GiB or more cannot be zipped"));
        }
        let crc = crc.finalize();
        let h = out.header();
        h.put_u32_le(DATA_DESCRIPTOR);
        h.put_u32_le(crc);
        h.put_u32_le(size as u32);
        h.put_u32_le(size as u32);
        written.push(Entry { name: name.clone(), crc, size, offset });
    }

    let cd_start = out.position();
    for e in &written {
        let zip64 = e.offset >= U32_MAX;
        let h = out.header();
        h.put_u32_le(CENTRAL_HEADER);
        h.put_u16_le(0x0300 | 45); // made by: Unix, spec 4.5
        h.put_u16_le(if zip64 { 45 } else { 20 });
        h.put_u16_le(FLAGS);
        h.put_u16_le(0);
        h.put_u16_le(time);
        h.put_u16_le(date);
        h.put_u32_le(e.crc);
        h.put_u32_le(e.size as u32);
        h.put_u32_le(e.size as u32);
        h.put_u16_le(e.name.len() as u16);
        h.put_u16_le(if zip64 { 12 } else { 0 });
        h.put_u16_le(0); // comment
        h.put_u16_le(0); // disk
        h.put_u16_le(0); // internal attributes
        h.put_u32_le(0o100644 << 16); // external: regular file, rw-r--r--
        h.put_u32_le(if zip64 { U32_MAX as u32 } else { e.offset as u32 });
        h.put_slice(e.name.as_bytes());
        if zip64 {
            h.put_u16_le(0x0001);
            h.put_u16_le(8);
            h.put_u64_le(e.offset);
        }
        if h.len() >= 64 * 1024 {
            out.flush().await?;
        }
    }
    let cd_end = out.position();
    let cd_size = cd_end - cd_start;
    let count = written.len() as u64;
    let needs_zip64 = count >= 0xFFFF || cd_start >= U32_MAX || cd_size >= U32_MAX;
    let h = out.header();
    if needs_zip64 {
        h.put_u32_le(ZIP64_END);
        h.put_u64_le(44);
        h.put_u16_le(0x0300 | 45);
        h.put_u16_le(45);
        h.put_u32_le(0);
        h.put_u32_le(0);
        h.put_u64_le(count);
        h.put_u64_le(count);
        h.put_u64_le(cd_size);
        h.put_u64_le(cd_start);
        h.put_u32_le(ZIP64_LOCATOR);
        h.put_u32_le(0);
        h.put_u64_le(cd_end);
        h.put_u32_le(1);
    }
    h.put_u32_le(END_OF_CENTRAL);
    h.put_u16_le(0);
    h.put_u16_le(0);
    h.put_u16_le(count.min(0xFFFF) as u16);
    h.put_u16_le(count.min(0xFFFF) as u16);
    h.put_u32_le(cd_size.min(U32_MAX) as u32);
    h.put_u32_le(cd_start.min(U32_MAX) as u32);
    h.put_u16_le(0);
    out.flush().await
}
