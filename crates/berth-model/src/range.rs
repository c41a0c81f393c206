//! Byte ranges: `Range` on blob reads, `Content-Range` on chunked uploads, and the headers a
//! registry answers with.
//!
//! A blob read takes one RFC 9110 byte range, `bytes=<first>-<last>`, `bytes=<first>-` or
//! `bytes=-<suffix length>`; several ranges in one header are refused (registries serve one).
//! A chunked upload (`PATCH`) announces its chunk as `<start>-<end>`, inclusive, as docker and the
//! OCI distribution spec write it; the RFC form `bytes <start>-<end>/<total or *>` is accepted too.

use std::fmt;
use std::ops::Range;

/// Why a range header cannot be read. Each variant names the rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// The header is empty.
    #[error("range is empty")]
    Empty,
    /// The range unit is not `bytes`.
    #[error("range unit must be 'bytes'")]
    UnknownUnit,
    /// More than one range was requested.
    #[error("only a single range is supported")]
    MultipleRanges,
    /// There is no `-` between the two positions.
    #[error("range has no '-' between its positions")]
    MissingDash,
    /// A position is not a decimal number that fits in 64 bits.
    #[error("range position {0:?} is not a decimal number")]
    InvalidNumber(String),
    /// Neither position is given (`bytes=-`).
    #[error("range gives neither a first nor a last position")]
    NoPositions,
    /// The first position is after the last.
    #[error("range starts at {start}, after its end {end}")]
    StartAfterEnd {
        /// First byte position.
        start: u64,
        /// Last byte position (inclusive).
        end: u64,
    },
    /// The total length in a `Content-Range` is not a number or `*`, or is inconsistent.
    #[error("range total {0:?} is invalid")]
    InvalidTotal(String),
}

/// A requested range lies entirely outside the blob (HTTP 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("range not satisfiable for a blob of {total} bytes")]
pub struct RangeNotSatisfiable {
    /// The length of the blob.
    pub total: u64,
}

/// One byte range from a `Range` request header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteRange {
    /// `bytes=<first>-<last>`: from `first` to `last`, both inclusive.
    Bounded {
        /// First byte position.
        first: u64,
        /// Last byte position, inclusive.
        last: u64,
    },
    /// `bytes=<first>-`: from `first` to the end.
    From {
        /// First byte position.
        first: u64,
    },
    /// `bytes=-<len>`: the last `len` bytes.
    Suffix {
        /// How many bytes from the end.
        len: u64,
    },
}

fn number(s: &str) -> Result<u64, RangeError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeError::InvalidNumber(s.to_owned()));
    }
    s.parse()
        .map_err(|_| RangeError::InvalidNumber(s.to_owned()))
}

impl ByteRange {
    /// Parses the value of a `Range` header.
    pub fn parse(header: &str) -> Result<Self, RangeError> {
        let header = header.trim();
        if header.is_empty() {
            return Err(RangeError::Empty);
        }
        let spec = header
            .strip_prefix("bytes=")
            .ok_or(RangeError::UnknownUnit)?
            .trim();
        if spec.contains(',') {
            return Err(RangeError::MultipleRanges);
        }
        let (first, last) = spec.split_once('-').ok_or(RangeError::MissingDash)?;
        match (first.trim(), last.trim()) {
            ("", "") => Err(RangeError::NoPositions),
            ("", len) => Ok(ByteRange::Suffix { len: number(len)? }),
            (first, "") => Ok(ByteRange::From {
                first: number(first)?,
            }),
            (first, last) => {
                let (first, last) = (number(first)?, number(last)?);
                if first > last {
                    return Err(RangeError::StartAfterEnd {
                        start: first,
                        end: last,
                    });
                }
                Ok(ByteRange::Bounded { first, last })
            }
        }
    }

    /// The half-open byte range this selects in a blob of `total` bytes, clamped to its end.
    pub fn resolve(self, total: u64) -> Result<Range<u64>, RangeNotSatisfiable> {
        let unsatisfiable = RangeNotSatisfiable { total };
        match self {
            ByteRange::Bounded { first, last } if first < total => {
                Ok(first..last.min(total - 1) + 1)
            }
            ByteRange::From { first } if first < total => Ok(first..total),
            ByteRange::Suffix { len } if len > 0 && total > 0 => Ok(total - len.min(total)..total),
            _ => Err(unsatisfiable),
        }
    }
}

impl fmt::Display for ByteRange {
    /// The `Range` header value that [`ByteRange::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteRange::Bounded { first, last } => write!(f, "bytes={first}-{last}"),
            ByteRange::From { first } => write!(f, "bytes={first}-"),
            ByteRange::Suffix { len } => write!(f, "bytes=-{len}"),
        }
    }
}

/// The chunk a `PATCH` to an upload carries, from its `Content-Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UploadRange {
    /// Offset of the chunk's first byte in the blob.
    pub start: u64,
    /// Offset of the chunk's last byte, inclusive.
    pub end: u64,
}

impl UploadRange {
    /// Parses `<start>-<end>` or `bytes <start>-<end>/<total|*>` (also with `bytes=`).
    pub fn parse(header: &str) -> Result<Self, RangeError> {
        let header = header.trim();
        if header.is_empty() {
            return Err(RangeError::Empty);
        }
        let (spec, total) = match header
            .strip_prefix("bytes ")
            .or_else(|| header.strip_prefix("bytes="))
        {
            Some(rest) => match rest.trim().split_once('/') {
                Some((spec, total)) => (spec, Some(total)),
                None => (rest.trim(), None),
            },
            None if header.starts_with(|c: char| c.is_ascii_digit()) => (header, None),
            None => return Err(RangeError::UnknownUnit),
        };
        if spec.contains(',') {
            return Err(RangeError::MultipleRanges);
        }
        let (start, end) = spec.split_once('-').ok_or(RangeError::MissingDash)?;
        let (start, end) = (number(start)?, number(end)?);
        if start > end {
            return Err(RangeError::StartAfterEnd { start, end });
        }
        match total {
            None | Some("*") => {}
            Some(total) => {
                let n = number(total).map_err(|_| RangeError::InvalidTotal(total.to_owned()))?;
                if n <= end {
                    return Err(RangeError::InvalidTotal(total.to_owned()));
                }
            }
        }
        Ok(UploadRange { start, end })
    }

    /// Number of bytes the chunk holds.
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Always false: a chunk range covers at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for UploadRange {
    /// The `<start>-<end>` form docker sends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The `Range` header of an upload status answer, `0-<last byte received>`.
///
/// With nothing received yet it is `0-0`, as the reference registry answers; clients read the
/// offset to resume from in the `Location` session and this header together.
pub fn upload_progress(received: u64) -> String {
    format!("0-{}", received.saturating_sub(1))
}

/// The `Content-Range` header of a partial blob read, `bytes <first>-<last>/<total>`.
pub fn content_range(range: &Range<u64>, total: u64) -> String {
    format!(
        "bytes {}-{}/{}",
        range.start,
        range.end.saturating_sub(1),
        total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers_resolve_like_rfc_9110() {
        type Case = (&'static str, u64, Result<Range<u64>, RangeNotSatisfiable>);
        let cases: &[Case] = &[
            ("bytes=0-0", 10, Ok(0..1)),
            ("bytes=0-9", 10, Ok(0..10)),
            ("bytes=5-100", 10, Ok(5..10)),
            ("bytes=9-", 10, Ok(9..10)),
            ("bytes=10-", 10, Err(RangeNotSatisfiable { total: 10 })),
            ("bytes=-3", 10, Ok(7..10)),
            ("bytes=-30", 10, Ok(0..10)),
            ("bytes=-0", 10, Err(RangeNotSatisfiable { total: 10 })),
            ("bytes=0-", 0, Err(RangeNotSatisfiable { total: 0 })),
            ("bytes=-1", 0, Err(RangeNotSatisfiable { total: 0 })),
        ];
        for (header, total, expected) in cases {
            assert_eq!(
                ByteRange::parse(header).unwrap().resolve(*total),
                *expected,
                "{header} of {total}"
            );
        }
    }

    #[test]
    fn range_headers_reject_with_the_rule() {
        let cases: &[(&str, RangeError)] = &[
            ("", RangeError::Empty),
            ("items=0-1", RangeError::UnknownUnit),
            ("bytes=0-1,3-4", RangeError::MultipleRanges),
            ("bytes=5", RangeError::MissingDash),
            ("bytes=-", RangeError::NoPositions),
            ("bytes=a-1", RangeError::InvalidNumber("a".into())),
            ("bytes=+1-2", RangeError::InvalidNumber("+1".into())),
            (
                "bytes=99999999999999999999-",
                RangeError::InvalidNumber("99999999999999999999".into()),
            ),
            ("bytes=5-4", RangeError::StartAfterEnd { start: 5, end: 4 }),
        ];
        for (header, expected) in cases {
            assert_eq!(
                ByteRange::parse(header).as_ref(),
                Err(expected),
                "{header:?}"
            );
        }
    }

    #[test]
    fn upload_ranges_accept_docker_and_rfc_forms() {
        let chunk = UploadRange {
            start: 0,
            end: 1023,
        };
        assert_eq!(UploadRange::parse("0-1023"), Ok(chunk));
        assert_eq!(UploadRange::parse("bytes 0-1023/*"), Ok(chunk));
        assert_eq!(UploadRange::parse("bytes 0-1023/2048"), Ok(chunk));
        assert_eq!(UploadRange::parse("bytes=0-1023"), Ok(chunk));
        assert_eq!(chunk.len(), 1024);
        assert_eq!(
            UploadRange::parse("bytes 0-1023/1023"),
            Err(RangeError::InvalidTotal("1023".into()))
        );
        assert_eq!(
            UploadRange::parse("10-5"),
            Err(RangeError::StartAfterEnd { start: 10, end: 5 })
        );
        assert_eq!(
            UploadRange::parse("0-"),
            Err(RangeError::InvalidNumber(String::new()))
        );
        assert_eq!(UploadRange::parse("x0-1"), Err(RangeError::UnknownUnit));
    }

    #[test]
    fn answer_headers() {
        assert_eq!(upload_progress(0), "0-0");
        assert_eq!(upload_progress(1024), "0-1023");
        assert_eq!(content_range(&(5..10), 10), "bytes 5-9/10");
    }
}
