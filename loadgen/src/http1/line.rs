//! Scanning response head lines several bytes at a time (SSE2 on x86_64, eight-byte
//! words elsewhere): a line's end, checking that it holds no control character but HTAB,
//! no DEL, and a CR only right before its LF; and the colon after a header's name.

/// A byte that no head line may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadByte;

const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH: u64 = ONES * 0x80;

/// The high bit of the lowest byte of `w` equal to `b` is set, and no lower one (higher
/// bytes may be flagged falsely: only the lowest flag is used).
fn eq_mask(w: u64, b: u8) -> u64 {
    let x = w ^ (ONES * b as u64);
    x.wrapping_sub(ONES) & !x & HIGH
}

/// As [`eq_mask`], for the bytes below 0x20 or equal to 0x7f.
fn special_mask(w: u64) -> u64 {
    (w.wrapping_sub(ONES * 0x20) & !w & HIGH) | eq_mask(w, 0x7f)
}

fn word(s: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(s);
    u64::from_le_bytes(b)
}

/// Bits set for the bytes of a 16-byte block below 0x20 or equal to 0x7f (exact).
#[cfg(target_arch = "x86_64")]
fn special_block(block: &[u8]) -> u32 {
    use std::arch::x86_64::*;
    assert!(block.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned load reads the first
    // 16 bytes of `block`, which has at least 16.
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
        _mm_movemask_epi8(_mm_or_si128(control, del)) as u32
    }
}

/// How many leading bytes of `s` are neither below 0x20 nor 0x7f.
fn plain_prefix(s: &[u8]) -> usize {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = s.get(i..i + 16) {
        let m = special_block(block);
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(w) = s.get(i..i + 8) {
        let m = special_mask(word(w));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = s.get(i) {
        if c < 0x20 || c == 0x7f {
            break;
        }
        i += 1;
    }
    i
}

/// Scan `buf` from `from` for the line's LF. `Ok(Some(i))`: `buf[i]` is the LF;
/// `Ok(None)`: no LF yet and every byte from `from` is allowed (a final CR may still be
/// followed by its LF); `Err` at the first byte no line may hold.
#[inline]
pub fn find_line_end(buf: &[u8], from: usize) -> Result<Option<usize>, BadByte> {
    let mut i = from;
    loop {
        i += plain_prefix(buf.get(i..).unwrap_or_default());
        let Some(&c) = buf.get(i) else {
            return Ok(None);
        };
        match c {
            b'\n' => return Ok(Some(i)),
            b'\r' => {
                return match buf.get(i + 1) {
                    Some(b'\n') => Ok(Some(i + 1)),
                    None => Ok(None),
                    Some(_) => Err(BadByte),
                };
            }
            b'\t' => i += 1,
            _ => return Err(BadByte),
        }
    }
}

/// The colon ending a header line's name: the first colon, if the name before it is
/// not empty and holds no space or tab (a leading one is obsolete line folding, one
/// before the colon is forbidden). Other characters of the name are not checked.
#[inline]
pub fn name_end(line: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = line.get(i..i + 8) {
        let w = word(w);
        let colon = eq_mask(w, b':');
        let space = eq_mask(w, b' ') | eq_mask(w, b'\t');
        // Each mask's lowest flag is exact, so the lower of the two comes first.
        if space != 0 && (colon == 0 || space.trailing_zeros() < colon.trailing_zeros()) {
            return None;
        }
        if colon != 0 {
            return Some(i + (colon.trailing_zeros() / 8) as usize).filter(|&c| c > 0);
        }
        i += 8;
    }
    let rest = line.get(i..).unwrap_or_default();
    let colon = i + rest
        .iter()
        .position(|&c| matches!(c, b':' | b' ' | b'\t'))?;
    (line[colon] == b':' && colon > 0).then_some(colon)
}

/// `s` equals `lower` (lowercase letters and `-` only) without regard to case, for `s`
/// from a checked line: OR-ing 0x20 maps only a letter's two cases, and `-` or a CR, to
/// a byte of `lower`, and a checked line holds no CR.
#[inline]
pub fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    let n = s.len();
    if n != lower.len() {
        return false;
    }
    if n < 8 {
        return s.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b);
    }
    let case = ONES * 0x20;
    let mut i = 0;
    while i + 8 < n {
        if word(&s[i..i + 8]) | case != word(&lower[i..i + 8]) {
            return false;
        }
        i += 8;
    }
    word(&s[n - 8..]) | case == word(&lower[n - 8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answer, one byte at a time.
    fn reference(buf: &[u8], from: usize) -> Result<Option<usize>, BadByte> {
        for i in from..buf.len() {
            match buf[i] {
                b'\n' => return Ok(Some(i)),
                b'\r' if i + 1 == buf.len() => return Ok(None),
                b'\r' if buf[i + 1] == b'\n' => return Ok(Some(i + 1)),
                b'\t' | 0x20..=0x7e | 0x80..=0xff => {}
                _ => return Err(BadByte),
            }
        }
        Ok(None)
    }

    #[test]
    fn every_byte_value_at_every_position_agrees_with_a_byte_loop() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut buf = vec![b'a'; len];
                    buf[at] = b;
                    for tail in [&b""[..], b"\n", b"\r\n", b"\r", b"\rx", b"\x00", b"\xff\n"] {
                        let mut v = buf.clone();
                        v.extend_from_slice(tail);
                        for from in [0, at.min(3)] {
                            assert_eq!(
                                find_line_end(&v, from),
                                reference(&v, from),
                                "{v:?} from {from}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn name_end_agrees_with_a_byte_loop() {
        let reference = |line: &[u8]| {
            let c = line
                .iter()
                .position(|&c| matches!(c, b':' | b' ' | b'\t'))?;
            (line[c] == b':' && c > 0).then_some(c)
        };
        for len in 0..20 {
            for at in 0..len {
                for b in [b':', b' ', b'\t', b'a', b'-'] {
                    for at2 in 0..len {
                        let mut v = vec![b'n'; len];
                        v[at] = b;
                        v[at2] = b':';
                        assert_eq!(name_end(&v), reference(&v), "{v:?}");
                    }
                }
            }
        }
        assert_eq!(name_end(b"content-length: 5"), Some(14));
        assert_eq!(name_end(b"content-length : 5"), None);
        assert_eq!(name_end(b" folded: x"), None);
        assert_eq!(name_end(b": x"), None);
        assert_eq!(name_end(b"no colon here"), None);
    }

    #[test]
    fn eq_lower_is_a_case_blind_comparison_on_checked_lines() {
        for lower in [
            &b"content-length"[..],
            b"transfer-encoding",
            b"a-name-of-twenty-five-b",
            b"connection",
            b"close",
            b"keep-alive",
            b"chunked",
        ] {
            let upper = lower.to_ascii_uppercase();
            assert!(eq_lower(lower, lower) && eq_lower(&upper, lower));
            for i in 0..lower.len() {
                // Any other byte a checked line may hold, at any position, differs.
                for b in (0x20..=0xffu8).filter(|&b| b != 0x7f) {
                    let mut v = lower.to_vec();
                    v[i] = b;
                    assert_eq!(eq_lower(&v, lower), v.eq_ignore_ascii_case(lower), "{v:?}");
                }
            }
            assert!(!eq_lower(&lower[1..], lower));
        }
    }
}
