//! Value types of scenario files, each parsed with a message that says what
//! is allowed.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::WriteRate;

/// A duration written like `3s`, `500ms`, `1m 30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let parsed = humantime::parse_duration(&s).map_err(|e| {
            serde::de::Error::custom(format!("bad duration `{s}` ({e}); write e.g. 3s, 500ms, 1m"))
        })?;
        if parsed.is_zero() {
            return Err(serde::de::Error::custom("duration must be more than zero"));
        }
        Ok(Dur(parsed))
    }
}

pub use crate::case::Rate;

impl Rate {
    pub fn to_engine(self) -> WriteRate {
        match self.0 {
            None => WriteRate::Max,
            Some(hz) => WriteRate::Hz(hz),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("max"),
            Some(hz) => write!(f, "{hz}hz"),
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        if t == "max" {
            return Ok(Rate(None));
        }
        let num = t
            .strip_suffix("hz")
            .or_else(|| t.strip_suffix("/s"))
            .unwrap_or("");
        match num.trim().parse::<f64>() {
            Ok(hz) if hz > 0.0 && hz.is_finite() => Ok(Rate(Some(hz))),
            _ => Err(format!(
                "bad write rate `{s}`; write `max` or a positive rate like `200hz`"
            )),
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

pub(super) mod octal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{mode:04o}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let s = String::deserialize(d)?;
        match u32::from_str_radix(&s, 8) {
            Ok(m) if m <= 0o7777 => Ok(m),
            _ => Err(serde::de::Error::custom(format!(
                "bad mode `{s}`; write an octal mode in quotes, like \"0600\""
            ))),
        }
    }
}
