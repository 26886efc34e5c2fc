//! Reading format, dimensions and orientation from headers, without decoding.

use proofsheet_core::{Error, ImageFormat, ImageInfo, Probe, Result};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Looks at the first bytes of a file. `complete` says `head` is the whole
/// file. Never allocates in proportion to the image: a pixel bomb costs a
/// few dozen bytes of reading.
pub fn probe(head: &[u8], complete: bool, max_pixels: u64) -> Result<Probe> {
    let info = if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        match jpeg_dimensions(head)? {
            Some(d) => d,
            None if complete => return Err(unsupported("the JPEG has no frame header")),
            None => return Ok(Probe::NeedMore),
        }
    } else if head.starts_with(PNG_SIGNATURE) {
        if head.len() < 24 {
            return if complete { Err(unsupported("the PNG is truncated")) } else { Ok(Probe::NeedMore) };
        }
        if &head[12..16] != b"IHDR" {
            return Err(unsupported("the PNG has no IHDR chunk"));
        }
        let w = u32::from_be_bytes(head[16..20].try_into().expect("4 bytes"));
        let h = u32::from_be_bytes(head[20..24].try_into().expect("4 bytes"));
        ImageInfo { format: ImageFormat::Png, width: w, height: h, taken_at: None }
    } else if head.len() < 8 && !complete && (PNG_SIGNATURE.starts_with(head) || [0xFF, 0xD8, 0xFF].starts_with(head)) {
        return Ok(Probe::NeedMore);
    } else {
        return Err(unsupported("only JPEG and PNG images are accepted"));
    };
    if info.width == 0 || info.height == 0 {
        return Err(unsupported("the image has no pixels"));
    }
    let pixels = info.width as u64 * info.height as u64;
    if pixels > max_pixels {
        return Err(Error::TooLarge {
            code: "too_many_pixels",
            message: format!(
                "the image is {}x{} ({} megapixels); the limit is {} megapixels",
                info.width,
                info.height,
                pixels / 1_000_000,
                max_pixels / 1_000_000
            ),
        });
    }
    Ok(Probe::Image(info))
}

fn unsupported(message: &str) -> Error {
    Error::UnsupportedMedia { message: message.to_owned() }
}

/// Walks JPEG marker segments up to the frame header. `None` if `data`
/// ends first.
fn jpeg_dimensions(data: &[u8]) -> Result<Option<ImageInfo>> {
    let mut found = None;
    let mut taken_at = None;
    walk_jpeg(data, |marker, body| {
        match marker {
            0xE1 if body.starts_with(b"Exif\0\0") => {
                taken_at = Tiff::new(&body[6..]).and_then(|t| t.taken_at());
                Ok(true)
            }
            // Baseline, extended, progressive (Huffman): what the decoder reads.
            0xC0..=0xC2 => {
                if body.len() < 5 {
                    return Err(unsupported("the JPEG frame header is too short"));
                }
                let h = u16::from_be_bytes([body[1], body[2]]) as u32;
                let w = u16::from_be_bytes([body[3], body[4]]) as u32;
                found = Some(ImageInfo { format: ImageFormat::Jpeg, width: w, height: h, taken_at });
                Ok(false)
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                Err(unsupported("lossless, hierarchical and arithmetic-coded JPEGs are not supported"))
            }
            0xDA => Err(unsupported("the JPEG has image data before its frame header")),
            _ => Ok(true),
        }
    })?;
    Ok(found)
}

/// Calls `f(marker, segment body)` for each header segment until it returns
/// `false`, the data ends, or the scan starts.
fn walk_jpeg(data: &[u8], mut f: impl FnMut(u8, &[u8]) -> Result<bool>) -> Result<()> {
    let mut i = 2;
    loop {
        // Markers may be padded with any number of 0xFF.
        while i < data.len() && data[i] == 0xFF && data.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 4 > data.len() {
            return Ok(());
        }
        if data[i] != 0xFF {
            return Err(unsupported("the JPEG header is corrupt"));
        }
        let marker = data[i + 1];
        if marker == 0xD9 {
            return Ok(());
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([data[i + 2], data[i + 3]]) as usize;
        if len < 2 {
            return Err(unsupported("the JPEG header is corrupt"));
        }
        let end = i + 2 + len;
        if end > data.len() {
            // Segment incomplete. Ask the caller to read on (SOF is small,
            // so a marker we care about needs only its first bytes).
            if (0xC0..=0xCF).contains(&marker)
                && marker != 0xC4
                && marker != 0xC8
                && marker != 0xCC
                && data.len() >= i + 9
            {
                f(marker, &data[i + 4..])?;
            }
            return Ok(());
        }
        if !f(marker, &data[i + 4..end])? || marker == 0xDA {
            return Ok(());
        }
        i = end;
    }
}

/// The EXIF orientation (1 to 8) of a JPEG, 1 when absent or unreadable.
pub fn jpeg_orientation(data: &[u8]) -> u8 {
    let mut orientation = 1;
    let _ = walk_jpeg(data, |marker, body| {
        if marker == 0xE1 && body.starts_with(b"Exif\0\0") {
            if let Some(o) = tiff_orientation(&body[6..]) {
                orientation = o;
            }
            return Ok(false);
        }
        Ok(marker != 0xDA)
    });
    orientation
}

fn tiff_orientation(tiff: &[u8]) -> Option<u8> {
    let t = Tiff::new(tiff)?;
    let entry = t.entry(t.u32_at(4)? as usize, 0x0112)?;
    let v = t.u16_at(entry + 8)?;
    (1..=8).contains(&v).then_some(v as u8)
}

/// The TIFF structure inside an EXIF segment, read with bounds checks only
/// (every offset comes from the file, so none is trusted).
struct Tiff<'a> {
    data: &'a [u8],
    big: bool,
}

impl<'a> Tiff<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let big = match data.get(..2)? {
            b"MM" => true,
            b"II" => false,
            _ => return None,
        };
        Some(Tiff { data, big })
    }

    fn u16_at(&self, o: usize) -> Option<u16> {
        let b = self.data.get(o..o.checked_add(2)?)?;
        Some(if self.big { u16::from_be_bytes([b[0], b[1]]) } else { u16::from_le_bytes([b[0], b[1]]) })
    }

    fn u32_at(&self, o: usize) -> Option<u32> {
        let b = self.data.get(o..o.checked_add(4)?)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if self.big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) })
    }

    /// The offset of the 12-byte entry for `tag` in the IFD at `ifd`.
    fn entry(&self, ifd: usize, tag: u16) -> Option<usize> {
        let count = self.u16_at(ifd)? as usize;
        (0..count.min(512)).map(|n| ifd + 2 + n * 12).find(|&e| self.u16_at(e) == Some(tag))
    }

    /// When the photo was taken: EXIF `DateTimeOriginal`, else
    /// `DateTimeDigitized`, as the camera's clock read it (no time zone:
    /// it orders one shoot's photos, nothing more).
    fn taken_at(&self) -> Option<chrono::NaiveDateTime> {
        let ifd0 = self.u32_at(4)? as usize;
        let exif = self.u32_at(self.entry(ifd0, 0x8769)? + 8)? as usize;
        [0x9003, 0x9004].into_iter().find_map(|tag| {
            let e = self.entry(exif, tag)?;
            // ASCII, "YYYY:MM:DD HH:MM:SS\0": 20 bytes, stored at an offset.
            let at = self.u32_at(e + 8)? as usize;
            let text = self.data.get(at..at.checked_add(19)?)?;
            chrono::NaiveDateTime::parse_from_str(std::str::from_utf8(text).ok()?, "%Y:%m:%d %H:%M:%S").ok()
        })
    }
}

/// Whether a JPEG's entropy-coded data is complete: an end-of-image marker
/// follows the first scan. (0xFF 0xD9 cannot occur inside scan data because
/// of byte stuffing.) Truncated uploads fail here with a clear reason
/// instead of decoding into grey. The marker is looked for from the end
/// (where it is in any whole file), so a 10 MB original costs a few bytes'
/// search, not a walk through all of them.
pub fn jpeg_is_complete(data: &[u8]) -> bool {
    let mut sos = None;
    let _ = walk_jpeg(data, |marker, body| {
        if marker == 0xDA {
            sos = Some(body.as_ptr() as usize - data.as_ptr() as usize + body.len());
        }
        Ok(true)
    });
    match sos {
        Some(start) => memchr::memmem::rfind(&data[start..], &[0xFF, 0xD9]).is_some(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg_header(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v
    }

    /// The end-of-image marker must follow the scan: a file cut anywhere
    /// in its scan data is incomplete, even when an earlier segment holds
    /// the bytes FF D9.
    #[test]
    fn a_jpeg_is_complete_only_with_its_end_marker_after_the_scan() {
        let whole = crate::raster::encode_jpeg(&crate::raster::Rgb::landscape(64, 48), 85).unwrap();
        assert!(jpeg_is_complete(&whole));
        for cut in [whole.len() - 1, whole.len() - 2, whole.len() / 2] {
            assert!(!jpeg_is_complete(&whole[..cut]), "cut at {cut} of {}", whole.len());
        }
        // An APP1 segment carrying FF D9 right after SOI, then a cut scan.
        let mut decoy = whole[..2].to_vec();
        decoy.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0xFF, 0xD9]);
        decoy.extend_from_slice(&whole[2..whole.len() / 2]);
        assert!(!jpeg_is_complete(&decoy));
        decoy.extend_from_slice(&whole[whole.len() / 2..]);
        assert!(jpeg_is_complete(&decoy));
        // Trailing bytes after the marker (some cameras pad) are fine.
        let mut padded = whole.clone();
        padded.extend_from_slice(&[0; 16]);
        assert!(jpeg_is_complete(&padded));
    }

    #[test]
    fn reads_the_capture_time_from_exif() {
        // Little-endian TIFF: IFD0 points at the EXIF IFD, which holds
        // DateTimeOriginal as 20 ASCII bytes stored at offset 44.
        let mut tiff = b"II*\0\x08\0\0\0".to_vec();
        tiff.extend([1, 0, 0x69, 0x87, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0]);
        tiff.extend([1, 0, 0x03, 0x90, 2, 0, 20, 0, 0, 0, 44, 0, 0, 0, 0, 0, 0, 0]);
        tiff.extend(b"2026:01:06 14:03:07\0");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(&tiff);
        let mut data = vec![0xFF, 0xD8, 0xFF, 0xE1];
        data.extend(((app1.len() + 2) as u16).to_be_bytes());
        data.extend(&app1);
        data.extend(&jpeg_header(300, 200)[2..]);
        let Probe::Image(info) = probe(&data, false, 1 << 30).unwrap() else { panic!("not probed") };
        assert_eq!(info.taken_at.unwrap().to_string(), "2026-01-06 14:03:07");
        assert_eq!((info.width, info.height), (300, 200));
        // An EXIF IFD pointer past the segment's end reads as no time.
        let mut broken = data.clone();
        broken[12 + 18] = 250;
        let Probe::Image(info) = probe(&broken, false, 1 << 30).unwrap() else { panic!("not probed") };
        assert_eq!(info.taken_at, None);
    }

    #[test]
    fn reads_jpeg_dimensions_from_the_header_alone() {
        let h = jpeg_header(6000, 4000);
        assert_eq!(
            probe(&h, false, 100_000_000).unwrap(),
            Probe::Image(ImageInfo { format: ImageFormat::Jpeg, width: 6000, height: 4000, taken_at: None })
        );
        assert_eq!(probe(&h[..10], false, 100_000_000).unwrap(), Probe::NeedMore);
        assert!(probe(&h[..10], true, 100_000_000).is_err());
    }

    #[test]
    fn pixel_bombs_are_refused_from_the_header() {
        let err = probe(&jpeg_header(65000, 65000), false, 100_000_000).unwrap_err();
        assert_eq!(err.code(), "too_many_pixels");
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&[0, 0, 0, 13]);
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(probe(&png, false, 100_000_000).unwrap_err().code(), "too_many_pixels");
    }

    #[test]
    fn non_images_are_unsupported() {
        for junk in [&b"hello world, not an image"[..], b"GIF89a......", b"%PDF-1.7\n"] {
            assert_eq!(probe(junk, true, 100_000_000).unwrap_err().code(), "unsupported_media_type");
        }
        assert_eq!(probe(b"", true, 1).unwrap_err().code(), "unsupported_media_type");
        assert_eq!(probe(b"\x89P", false, 1).unwrap(), Probe::NeedMore);
    }
}
