//! The bytes of a document with token slots: what [`super::Template`] renders
//! and matches, and what the semantic judge matches inside one string.
//!
//! A slot holds the token as it is (`{{TOKEN}}`), a second versioned field
//! (`{{FIELD}}`), or the token **encoded**: base64 of the token with fixed
//! text around it (`{{base64:ci-bot:{{TOKEN}}}}` is base64 of
//! `ci-bot:<token>`, as in a Docker `auth` field; keyrings.alt stores
//! base64 of the token alone). Every version of a pattern has the same
//! length, because every token has the same length and so does its
//! encoding: matching is a length check, `memcmp`s, and per slot a hex
//! decode (and a base64 decode into a stack buffer), with no allocation.
//!
//! URL-encoding needs no slot kind of its own: torn's tokens are letters and
//! digits, which URL-encoding leaves as they are, so a URL-encoded token is
//! found as is, and what encoding changed around it (`torn%2Dbot:`) is
//! template text.

use base64::Engine as _;

use super::{FIELD_SLOT, SLOT};
use crate::token::{TOKEN_LEN, TokenCodec};

/// A base64 alphabet and padding, as the `base64` crate names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64 {
    /// RFC 4648 standard alphabet, `=` padding (Python's `b64encode`).
    Standard,
    /// Standard alphabet, no padding.
    StandardNoPad,
    /// URL-safe alphabet (`-`, `_`), `=` padding (`urlsafe_b64encode`).
    UrlSafe,
    /// URL-safe alphabet, no padding (JWT segments).
    UrlSafeNoPad,
}

impl Base64 {
    pub const ALL: [Base64; 4] = [
        Base64::Standard,
        Base64::StandardNoPad,
        Base64::UrlSafe,
        Base64::UrlSafeNoPad,
    ];

    /// The marker's name: `{{base64:…}}`.
    pub fn name(self) -> &'static str {
        match self {
            Base64::Standard => "base64",
            Base64::StandardNoPad => "base64-nopad",
            Base64::UrlSafe => "base64url",
            Base64::UrlSafeNoPad => "base64url-nopad",
        }
    }

    fn engine(self) -> &'static base64::engine::GeneralPurpose {
        use base64::engine::general_purpose as gp;
        match self {
            Base64::Standard => &gp::STANDARD,
            Base64::StandardNoPad => &gp::STANDARD_NO_PAD,
            Base64::UrlSafe => &gp::URL_SAFE,
            Base64::UrlSafeNoPad => &gp::URL_SAFE_NO_PAD,
        }
    }

    /// Length of the encoding of `n` bytes.
    fn width(self, n: usize) -> usize {
        base64::encoded_len(n, matches!(self, Base64::Standard | Base64::UrlSafe)).unwrap_or(usize::MAX)
    }
}

/// Longest fixed text around an encoded token: its decode fits a stack buffer.
pub const MAX_ENCODED_FRAME: usize = 160;
const DECODED_MAX: usize = MAX_ENCODED_FRAME + TOKEN_LEN;

/// An encoded slot: `scheme(prefix + token + suffix)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub scheme: Base64,
    pub prefix: Vec<u8>,
    pub suffix: Vec<u8>,
}

impl Encoded {
    fn width(&self) -> usize {
        self.scheme
            .width(self.prefix.len() + TOKEN_LEN + self.suffix.len())
    }

    /// The marker text of this slot.
    pub fn marker(&self) -> String {
        format!(
            "{{{{{}:{}{SLOT}{}}}}}",
            self.scheme.name(),
            String::from_utf8_lossy(&self.prefix),
            String::from_utf8_lossy(&self.suffix)
        )
    }

    /// Writes the encoding of `token` into `out`.
    fn encode(&self, token: &[u8; TOKEN_LEN], out: &mut Vec<u8>) {
        let mut plain = [0u8; DECODED_MAX];
        let n = self.prefix.len() + TOKEN_LEN + self.suffix.len();
        plain[..self.prefix.len()].copy_from_slice(&self.prefix);
        plain[self.prefix.len()..self.prefix.len() + TOKEN_LEN].copy_from_slice(token);
        plain[self.prefix.len() + TOKEN_LEN..n].copy_from_slice(&self.suffix);
        let mut enc = [0u8; DECODED_MAX * 2];
        let w = self
            .scheme
            .engine()
            .encode_slice(&plain[..n], &mut enc)
            .expect("the frame is capped, so its encoding fits");
        out.extend_from_slice(&enc[..w]);
    }

    /// The token inside `bytes`, an encoding of this slot, if its frame
    /// matches (decoded on the stack: no allocation).
    #[inline]
    pub fn token<'a>(&self, bytes: &[u8], buf: &'a mut [u8; DECODED_MAX]) -> Option<&'a [u8]> {
        let n = self.scheme.engine().decode_slice(bytes, buf).ok()?;
        let plain = &buf[..n];
        let (p, s) = (self.prefix.len(), self.suffix.len());
        (n == p + TOKEN_LEN + s && plain[..p] == self.prefix[..] && plain[p + TOKEN_LEN..] == self.suffix[..])
            .then(|| &plain[p..p + TOKEN_LEN])
    }
}

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    /// `{{TOKEN}}`: the token the rotator installs.
    Token,
    /// `{{FIELD}}`: a second versioned value another writer updates (e.g.
    /// `model.default` changed by a setup step), for lost-update scenarios.
    Field,
}

/// One slot of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Byte offset in a rendered version.
    pub at: usize,
    pub kind: SlotKind,
    /// Set for a token stored encoded.
    pub encoded: Option<Encoded>,
    /// Bytes the slot takes in a rendered version.
    pub width: usize,
}

impl Slot {
    /// The marker text of this slot.
    pub fn marker(&self) -> String {
        match (&self.encoded, self.kind) {
            (Some(e), _) => e.marker(),
            (None, SlotKind::Token) => SLOT.into(),
            (None, SlotKind::Field) => FIELD_SLOT.into(),
        }
    }
}

/// Why a pattern's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMarker(pub String);

/// Bytes with slots: `segments.len() == slots.len() + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<Vec<u8>>,
    slots: Vec<Slot>,
    len: usize,
}

/// A marker that may start at the front of `rest`: its slot and its length in the text.
fn marker_at(rest: &str) -> Result<Option<(Slot, usize)>, BadMarker> {
    let plain = |kind, marker: &str| {
        let slot = Slot {
            at: 0,
            kind,
            encoded: None,
            width: TOKEN_LEN,
        };
        Some((slot, marker.len()))
    };
    if rest.starts_with(SLOT) {
        return Ok(plain(SlotKind::Token, SLOT));
    }
    if rest.starts_with(FIELD_SLOT) {
        return Ok(plain(SlotKind::Field, FIELD_SLOT));
    }
    let Some(body) = rest.strip_prefix("{{") else {
        return Ok(None);
    };
    let Some((name, inner)) = body.split_once(':') else {
        return Ok(None);
    };
    let Some(scheme) = Base64::ALL.into_iter().find(|s| s.name() == name) else {
        return Ok(None);
    };
    let bad = |why: &str| BadMarker(format!("`{{{{{name}:…}}}}`: {why}"));
    let (prefix, after) = inner
        .split_once(SLOT)
        .ok_or_else(|| bad(&format!("no {SLOT} inside")))?;
    let (suffix, _) = after.split_once("}}").ok_or_else(|| bad("no closing `}}`"))?;
    if prefix.contains("{{") {
        return Err(bad("a marker inside another"));
    }
    if prefix.len() + suffix.len() > MAX_ENCODED_FRAME {
        return Err(bad(&format!(
            "more than {MAX_ENCODED_FRAME} bytes of text around the token"
        )));
    }
    let encoded = Encoded {
        scheme,
        prefix: prefix.as_bytes().to_vec(),
        suffix: suffix.as_bytes().to_vec(),
    };
    let text_len = 2 + name.len() + 1 + prefix.len() + SLOT.len() + suffix.len() + 2;
    Ok(Some((
        Slot {
            at: 0,
            kind: SlotKind::Token,
            width: encoded.width(),
            encoded: Some(encoded),
        },
        text_len,
    )))
}

impl Pattern {
    /// Reads text with slot markers.
    pub fn parse(text: &str) -> Result<Self, BadMarker> {
        let (mut segments, mut slots) = (Vec::new(), Vec::new());
        let (mut seg_start, mut i, mut off) = (0, 0, 0);
        while let Some(rel) = text[i..].find("{{") {
            let at = i + rel;
            match marker_at(&text[at..])? {
                Some((mut slot, text_len)) => {
                    segments.push(text.as_bytes()[seg_start..at].to_vec());
                    off += at - seg_start;
                    slot.at = off;
                    off += slot.width;
                    slots.push(slot);
                    i = at + text_len;
                    seg_start = i;
                }
                None => i = at + 2,
            }
        }
        segments.push(text.as_bytes()[seg_start..].to_vec());
        let len = off + (text.len() - seg_start);
        Ok(Self { segments, slots, len })
    }

    /// The text, with its slot markers.
    pub fn text(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.segments[0]).into_owned();
        for (slot, seg) in self.slots.iter().zip(&self.segments[1..]) {
            out.push_str(&slot.marker());
            out.push_str(&String::from_utf8_lossy(seg));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn segments(&self) -> &[Vec<u8>] {
        &self.segments
    }

    /// Renders with `token` in every token slot and `field` in every field
    /// slot, into `out` (cleared first; its allocation reused).
    pub fn render_with(&self, token: &[u8; TOKEN_LEN], field: &[u8; TOKEN_LEN], out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.len);
        out.extend_from_slice(&self.segments[0]);
        for (slot, seg) in self.slots.iter().zip(&self.segments[1..]) {
            match (&slot.encoded, slot.kind) {
                (Some(e), _) => e.encode(token, out),
                (None, SlotKind::Token) => out.extend_from_slice(token),
                (None, SlotKind::Field) => out.extend_from_slice(field),
            }
            out.extend_from_slice(seg);
        }
    }

    /// Whether every static byte of `bytes` matches (and its length).
    #[inline]
    fn frame_matches(&self, bytes: &[u8]) -> bool {
        if bytes.len() != self.len || bytes[..self.segments[0].len()] != self.segments[0][..] {
            return false;
        }
        self.slots.iter().zip(&self.segments[1..]).all(|(slot, seg)| {
            let start = slot.at + slot.width;
            bytes[start..start + seg.len()] == seg[..]
        })
    }

    /// The (token, field) versions `bytes` is a whole copy of: every static
    /// byte matches, every slot holds a whole value, slots of one kind agree.
    /// `None` for the field when there is no field slot.
    #[inline]
    pub fn versions(&self, codec: &TokenCodec, bytes: &[u8]) -> Option<(u64, Option<u64>)> {
        if !self.frame_matches(bytes) {
            return None;
        }
        let (mut token, mut field) = (None, None);
        // Most patterns have no field slot: derive its codec only if needed.
        let mut field_codec = None;
        let mut buf = [0u8; DECODED_MAX];
        for slot in &self.slots {
            let raw = &bytes[slot.at..slot.at + slot.width];
            let (seen, v) = match (&slot.encoded, slot.kind) {
                (Some(e), _) => (&mut token, codec.decode(e.token(raw, &mut buf)?)?),
                (None, SlotKind::Token) => (&mut token, codec.decode(raw)?),
                (None, SlotKind::Field) => (
                    &mut field,
                    field_codec
                        .get_or_insert_with(|| codec.field_codec())
                        .decode(raw)?,
                ),
            };
            match *seen {
                None => *seen = Some(v),
                Some(prev) if prev != v => return None,
                Some(_) => {}
            }
        }
        Some((token?, field))
    }

    /// The token `bytes` holds at a slot that starts at `at` (the decoded
    /// token for an encoded slot), as text: what a client would send.
    pub fn token_at(&self, slot: &Slot, raw: &[u8]) -> Option<String> {
        match &slot.encoded {
            Some(e) => {
                let mut buf = [0u8; DECODED_MAX];
                e.token(raw, &mut buf)
                    .map(|t| String::from_utf8_lossy(t).into_owned())
            }
            None => Some(String::from_utf8_lossy(raw).into_owned()),
        }
    }
}

/// `text` with every place that holds `token` marked as a slot: the token
/// as is (`{{TOKEN}}`), or inside a base64 run whose decoding holds it with
/// at most [`MAX_ENCODED_FRAME`] bytes of text around it (`{{base64:…}}`).
/// `None` when the token is in neither form.
pub fn mark_token(text: &str, token: &str) -> Option<String> {
    let literal = text.contains(token);
    let mut out = String::with_capacity(text.len());
    let mut found = literal;
    let mut rest = text;
    // Runs of base64 characters (with trailing padding) long enough to hold a token.
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_');
    let min = Base64::StandardNoPad.width(TOKEN_LEN);
    while let Some(start) = rest.find(is_b64) {
        let body = rest[start..]
            .find(|c| !is_b64(c))
            .map_or(rest.len(), |n| start + n);
        let end = body + rest[body..].chars().take(2).take_while(|&c| c == '=').count();
        let run = &rest[start..end];
        out.push_str(&rest[..start]);
        match (run.len() >= min && !run.contains(token))
            .then(|| encoded_in(run, token))
            .flatten()
        {
            Some((skip, e)) => {
                out.push_str(&run[..skip]);
                out.push_str(&e.marker());
                found = true;
            }
            None => out.push_str(run),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    found.then(|| out.replace(token, SLOT))
}

/// Where in `run` (after how many leading characters) an encoding of
/// `token` with text around it starts, and which; the encoding must run to
/// the end of `run` and re-encode to exactly its characters.
fn encoded_in(run: &str, token: &str) -> Option<(usize, Encoded)> {
    for skip in 0..run.len().min(64) {
        let candidate = &run[skip..];
        for scheme in Base64::ALL {
            let Ok(plain) = scheme.engine().decode(candidate) else {
                continue;
            };
            let Some(at) = plain.windows(TOKEN_LEN).position(|w| w == token.as_bytes()) else {
                continue;
            };
            let (prefix, suffix) = (&plain[..at], &plain[at + TOKEN_LEN..]);
            // The marker must read back: no `{{` before the token, no `}` after it.
            let (Ok(p), Ok(s)) = (std::str::from_utf8(prefix), std::str::from_utf8(suffix)) else {
                continue;
            };
            if prefix.len() + suffix.len() > MAX_ENCODED_FRAME || p.contains("{{") || s.contains('}') {
                continue;
            }
            let e = Encoded {
                scheme,
                prefix: prefix.to_vec(),
                suffix: suffix.to_vec(),
            };
            if scheme.engine().encode(&plain) == candidate {
                return Some((skip, e));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    #[test]
    fn markers_round_trip_and_render_fixed_lengths() {
        let text = "a: {{TOKEN}}\nauth: {{base64:ci-bot:{{TOKEN}}}}\nf: {{FIELD}}\n";
        let p = Pattern::parse(text).unwrap();
        assert_eq!(p.text(), text);
        assert_eq!(p.slots().len(), 3);
        let codec = TokenCodec::new(4);
        let (mut t, mut f) = ([0u8; TOKEN_LEN], [0u8; TOKEN_LEN]);
        codec.encode_into(9, &mut t);
        codec.field_codec().encode_into(2, &mut f);
        let mut out = Vec::new();
        p.render_with(&t, &f, &mut out);
        assert_eq!(out.len(), p.len());
        let tok = codec.token(9);
        let want = format!(
            "a: {tok}\nauth: {}\nf: {}\n",
            STANDARD.encode(format!("ci-bot:{tok}")),
            codec.field_codec().token(2)
        );
        assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
        assert_eq!(p.versions(&codec, &out), Some((9, Some(2))));
        // The encoded slot holding another version is not whole.
        let other = want.replace(
            &STANDARD.encode(format!("ci-bot:{tok}")),
            &STANDARD.encode(format!("ci-bot:{}", codec.token(8))),
        );
        assert_eq!(p.versions(&codec, other.as_bytes()), None);
    }

    #[test]
    fn bad_markers_say_what_is_wrong() {
        let e = Pattern::parse("x {{base64:abc}} y").unwrap_err();
        assert!(e.0.contains("no {{TOKEN}} inside"), "{e:?}");
        // Braces that are no marker are text.
        assert_eq!(Pattern::parse("{{ jinja }} {{TOKEN}}").unwrap().slots().len(), 1);
    }

    #[test]
    fn the_learner_finds_literal_and_encoded_tokens() {
        let tok = TokenCodec::new(1).token(3);
        let b64 = STANDARD.encode(&tok);
        let basic = STANDARD.encode(format!("ci-bot:{tok}"));
        let jwtish = URL_SAFE_NO_PAD.encode(format!("ab?t={tok};x"));
        let text = format!("a={tok}\npass = {b64}\n\"auth\": \"{basic}\"\nBearer x.{jwtish}\nplain=dapi\n");
        let marked = mark_token(&text, &tok).unwrap();
        assert_eq!(
            marked,
            "a={{TOKEN}}\npass = {{base64:{{TOKEN}}}}\n\"auth\": \"{{base64:ci-bot:{{TOKEN}}}}\"\n\
             Bearer x.{{base64url-nopad:ab?t={{TOKEN}};x}}\nplain=dapi\n"
        );
        let p = Pattern::parse(&marked).unwrap();
        assert_eq!(p.versions(&TokenCodec::new(1), text.as_bytes()), Some((3, None)));
        assert_eq!(mark_token("nothing here\n", &tok), None);
    }
}
