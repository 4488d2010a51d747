//! The real client's side of a run: what the client (npm, pip, kubectl, ...)
//! would have done with each answer of the external reader, counted in the
//! client's own terms — "npm would send no token (401)", "kubectl would fail
//! to load its config" — next to torn's own read outcomes.
//!
//! The external reader (`reader_stdio:`) is a small adapter around the real
//! client's own loader. It answers each `read` line with the token the client
//! would use, `none` when the client found no token, or `err <reason>` when
//! the client would fail to load its configuration. A scenario's `client:`
//! profile says, per [`ClientOutcome`], what the client then does; this
//! module counts the answers ([`ClientTally`], in the engine) and reports
//! them ([`ClientReport`], in every report).

use serde::{Deserialize, Serialize};

use crate::classify::Outcome;
use crate::stats::Estimate;

/// What the client would do with what it read, in its own words. Written in
/// a scenario as `client:`; each sentence has a default built from `name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientProfile {
    /// The client's name, as its users know it (`npm`, `kubectl`).
    #[serde(deserialize_with = "name")]
    pub name: String,
    /// The answer was the current token, whole: the call works.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sentence"
    )]
    pub current: Option<String>,
    /// A whole token, but an older one than the newest committed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sentence"
    )]
    pub stale: Option<String>,
    /// A token that is not one torn issued whole (a prefix, a mix).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sentence"
    )]
    pub wrong: Option<String>,
    /// The client found no token (`none`): an empty or cut file.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sentence"
    )]
    pub none: Option<String>,
    /// The client failed to load its configuration (`err <reason>`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sentence"
    )]
    pub error: Option<String>,
}

/// A client's name, refused where it stands when empty.
fn name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "`client.name` is empty: name the client (e.g. `npm`)",
        ));
    }
    Ok(s)
}

/// What the client does, refused where it stands when empty.
fn sentence<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "an empty sentence: say what the client does, or leave the key out for the default",
        ));
    }
    Ok(Some(s))
}

impl ClientProfile {
    /// The sentence for `o`: the scenario's, or a default.
    pub fn effect(&self, o: ClientOutcome) -> String {
        let given = match o {
            ClientOutcome::Current => &self.current,
            ClientOutcome::Stale => &self.stale,
            ClientOutcome::Wrong => &self.wrong,
            ClientOutcome::NoToken => &self.none,
            ClientOutcome::Failed => &self.error,
        };
        given.clone().unwrap_or_else(|| {
            let n = &self.name;
            match o {
                ClientOutcome::Current => format!("{n} would send the current token"),
                ClientOutcome::Stale => format!("{n} would send an older token"),
                ClientOutcome::Wrong => format!("{n} would send a broken token"),
                ClientOutcome::NoToken => format!("{n} would send no token"),
                ClientOutcome::Failed => format!("{n} would fail to load its configuration"),
            }
        })
    }

    /// What is wrong with the profile, if anything (an empty name or sentence).
    pub fn problem(&self) -> Option<String> {
        if self.name.trim().is_empty() {
            return Some("`name` must name the client (e.g. `npm`)".into());
        }
        let sentences = [
            ("current", &self.current),
            ("stale", &self.stale),
            ("wrong", &self.wrong),
            ("none", &self.none),
            ("error", &self.error),
        ];
        sentences
            .iter()
            .find(|(_, s)| s.as_deref().is_some_and(|s| s.trim().is_empty()))
            .map(|(k, _)| {
                format!("`{k}` is empty: say what the client does, or leave it out for the default")
            })
    }
}

/// What one call of the real client came to. Named (in reports too) as the
/// `client:` profile's keys: `current`, `stale`, `wrong`, `none`, `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientOutcome {
    /// The current token, whole: the call works.
    Current,
    /// A whole but older token (works until the server revokes it).
    Stale,
    /// A token torn never issued whole: refused by the server.
    Wrong,
    /// No token at all: the call goes out without credentials.
    #[serde(rename = "none")]
    NoToken,
    /// The client could not load its configuration: the call never happens.
    #[serde(rename = "error")]
    Failed,
}

impl ClientOutcome {
    pub const ALL: [ClientOutcome; 5] = [
        ClientOutcome::Current,
        ClientOutcome::Stale,
        ClientOutcome::Wrong,
        ClientOutcome::NoToken,
        ClientOutcome::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ClientOutcome::Current => "current",
            ClientOutcome::Stale => "stale",
            ClientOutcome::Wrong => "wrong",
            ClientOutcome::NoToken => "none",
            ClientOutcome::Failed => "error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Whether the call fails for the user (no token, a broken one, or no
    /// configuration). A stale token is not counted: whether it still works
    /// depends on the server's grace period.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            ClientOutcome::Wrong | ClientOutcome::NoToken | ClientOutcome::Failed
        )
    }

    /// The outcome of one answer, given torn's classification of it.
    pub fn of(answer: &str, classified: Outcome) -> Self {
        let answer = answer.trim();
        if answer == "err" || answer.starts_with("err ") {
            ClientOutcome::Failed
        } else if answer.is_empty() || answer == "none" {
            ClientOutcome::NoToken
        } else {
            match classified {
                Outcome::Ok => ClientOutcome::Current,
                Outcome::Stale => ClientOutcome::Stale,
                _ => ClientOutcome::Wrong,
            }
        }
    }
}

/// The first call that came to an outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstCall {
    /// Since the case's start, milliseconds.
    pub at_ms: f64,
    /// Which call of the client (0-based).
    pub call: u64,
    /// What the client answered (capped at 120 characters).
    pub answer: String,
}

/// Counts of the client's calls by outcome (fixed memory).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientTally {
    pub calls: u64,
    pub counts: [u64; 5],
    /// Calls made while a write was in flight, per outcome.
    pub exposed: [u64; 5],
    pub first: [Option<FirstCall>; 5],
}

impl ClientTally {
    /// Counts one call.
    pub fn record(&mut self, answer: &str, classified: Outcome, exposed: bool, at_ns: u64) {
        let o = ClientOutcome::of(answer, classified);
        let i = o.index();
        self.counts[i] += 1;
        self.exposed[i] += u64::from(exposed);
        if self.first[i].is_none() {
            self.first[i] = Some(FirstCall {
                at_ms: at_ns as f64 / 1e6,
                call: self.calls,
                answer: answer.chars().take(120).collect(),
            });
        }
        self.calls += 1;
    }

    pub fn count(&self, o: ClientOutcome) -> u64 {
        self.counts[o.index()]
    }

    pub fn failures(&self) -> u64 {
        ClientOutcome::ALL
            .iter()
            .filter(|o| o.is_failure())
            .map(|&o| self.count(o))
            .sum()
    }
}

/// One outcome of the client's calls, in the client's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientOutcomeReport {
    pub outcome: ClientOutcome,
    /// What the client does then, from the scenario's `client:` profile.
    pub effect: String,
    pub calls: u64,
    /// Calls made while a write was in flight.
    pub exposed_calls: u64,
    /// Per call of the client (exact 95% interval; for zero, the upper bound).
    pub per_call: Estimate,
    /// Per second of rotation (the writer rewriting the file all along).
    pub per_s: f64,
    pub first: Option<FirstCall>,
}

/// What the real client would have done, over one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    pub name: String,
    /// Calls of the client (answers of the external reader).
    pub calls: u64,
    pub calls_per_s: f64,
    /// Seconds the writer rotated the file while the client was called.
    pub rotation_s: f64,
    /// Writes committed during those seconds.
    pub writes: u64,
    pub outcomes: Vec<ClientOutcomeReport>,
    /// Calls that failed for the user: no token, a broken token, no configuration.
    pub failures: u64,
    pub failures_per_call: Estimate,
    pub failures_per_s: f64,
    pub failures_per_write: f64,
}

impl ClientReport {
    pub fn new(profile: &ClientProfile, tally: &ClientTally, rotation_s: f64, writes: u64) -> Self {
        let secs = rotation_s.max(1e-9);
        let outcomes = ClientOutcome::ALL
            .iter()
            .map(|&o| ClientOutcomeReport {
                outcome: o,
                effect: profile.effect(o),
                calls: tally.count(o),
                exposed_calls: tally.exposed[o.index()],
                per_call: Estimate::new(tally.count(o), tally.calls),
                per_s: tally.count(o) as f64 / secs,
                first: tally.first[o.index()].clone(),
            })
            .collect();
        let failures = tally.failures();
        ClientReport {
            name: profile.name.clone(),
            calls: tally.calls,
            calls_per_s: tally.calls as f64 / secs,
            rotation_s,
            writes,
            outcomes,
            failures,
            failures_per_call: Estimate::new(failures, tally.calls),
            failures_per_s: failures as f64 / secs,
            failures_per_write: if writes == 0 {
                0.0
            } else {
                failures as f64 / writes as f64
            },
        }
    }

    /// One line for the terminal and report.md: the failures first, in the
    /// client's words, then the bound or rate per call and per second.
    pub fn summary(&self) -> String {
        use crate::numbers::thousands;
        let mut parts: Vec<String> = self
            .outcomes
            .iter()
            .filter(|o| o.calls > 0 && o.outcome != ClientOutcome::Current)
            .map(|o| {
                format!(
                    "{} × {} ({:.2}/s{})",
                    thousands(o.calls),
                    o.effect,
                    o.per_s,
                    o.first
                        .as_ref()
                        .map(|f| format!(", first after {:.2} s", f.at_ms / 1e3))
                        .unwrap_or_default()
                )
            })
            .collect();
        let e = &self.failures_per_call;
        let rate = if self.failures == 0 {
            format!("no call failed (95% bound {} per call)", pct(e.high))
        } else {
            format!(
                "{} failed: {} of calls (95% {}–{}), {:.2} per second of rotation, {:.2} per write",
                thousands(self.failures),
                pct(e.rate),
                pct(e.low),
                pct(e.high),
                self.failures_per_s,
                self.failures_per_write
            )
        };
        if parts.is_empty() {
            parts.push(format!("every call: {}", self.effect_of(ClientOutcome::Current)));
        }
        format!(
            "client {}: {} ({:.0}/s) over {:.1} s of rotation ({}): {}; {}",
            self.name,
            crate::numbers::count(self.calls, "call"),
            self.calls_per_s,
            self.rotation_s,
            crate::numbers::count(self.writes, "write"),
            parts.join(", "),
            rate
        )
    }

    fn effect_of(&self, o: ClientOutcome) -> String {
        self.outcomes
            .iter()
            .find(|r| r.outcome == o)
            .map(|r| r.effect.clone())
            .unwrap_or_default()
    }
}

/// A probability as a percentage with enough digits to tell small ones apart.
fn pct(p: f64) -> String {
    let v = p * 100.0;
    if v == 0.0 {
        "0%".into()
    } else if v >= 1.0 {
        format!("{v:.1}%")
    } else {
        format!("{v:.2}%").replace("0.00%", &format!("{v:.4}%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_client_outcomes() {
        assert_eq!(
            ClientOutcome::of("err cannot parse", Outcome::TornUnparseable),
            ClientOutcome::Failed
        );
        assert_eq!(
            ClientOutcome::of("err", Outcome::TornUnparseable),
            ClientOutcome::Failed
        );
        assert_eq!(
            ClientOutcome::of("none", Outcome::TornParseable),
            ClientOutcome::NoToken
        );
        assert_eq!(
            ClientOutcome::of("", Outcome::TornParseable),
            ClientOutcome::NoToken
        );
        assert_eq!(ClientOutcome::of("dapi00", Outcome::Ok), ClientOutcome::Current);
        assert_eq!(ClientOutcome::of("dapi00", Outcome::Stale), ClientOutcome::Stale);
        assert_eq!(
            ClientOutcome::of("dapi0", Outcome::TornParseable),
            ClientOutcome::Wrong
        );
    }

    #[test]
    fn tally_and_report_count_failures_in_the_clients_words() {
        let profile = ClientProfile {
            name: "npm".into(),
            none: Some("npm would send no token (401)".into()),
            ..ClientProfile::default()
        };
        let mut t = ClientTally::default();
        for _ in 0..97 {
            t.record("dapi1", Outcome::Ok, false, 1_000);
        }
        t.record("none", Outcome::TornParseable, true, 2_000_000);
        t.record("none", Outcome::TornParseable, true, 3_000_000);
        t.record("err bad line", Outcome::TornUnparseable, true, 4_000_000);
        let r = ClientReport::new(&profile, &t, 2.0, 10);
        assert_eq!((r.calls, r.failures), (100, 3));
        assert_eq!(r.failures_per_s, 1.5);
        assert_eq!(r.failures_per_write, 0.3);
        let none = r
            .outcomes
            .iter()
            .find(|o| o.outcome == ClientOutcome::NoToken)
            .unwrap();
        assert_eq!((none.calls, none.exposed_calls), (2, 2));
        assert_eq!(none.first.as_ref().unwrap().call, 97);
        let s = r.summary();
        assert!(s.contains("2 × npm would send no token (401)"), "{s}");
        assert!(s.contains("1 × npm would fail to load its configuration"), "{s}");
        assert!(s.contains("3 failed: 3.0% of calls"), "{s}");
    }

    #[test]
    fn a_clean_run_quotes_a_bound() {
        let profile = ClientProfile {
            name: "git".into(),
            ..ClientProfile::default()
        };
        let mut t = ClientTally::default();
        for _ in 0..1000 {
            t.record("dapi1", Outcome::Ok, true, 1);
        }
        let s = ClientReport::new(&profile, &t, 10.0, 50).summary();
        assert!(s.contains("every call: git would send the current token"), "{s}");
        assert!(s.contains("no call failed (95% bound 0.30% per call)"), "{s}");
    }

    #[test]
    fn reports_name_outcomes_as_the_profile_keys() {
        for o in ClientOutcome::ALL {
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{}\"", o.name()));
        }
    }

    #[test]
    fn empty_profile_sentences_are_refused() {
        let mut p = ClientProfile {
            name: " ".into(),
            ..ClientProfile::default()
        };
        assert!(p.problem().unwrap().contains("name"));
        p.name = "npm".into();
        assert_eq!(p.problem(), None);
        p.wrong = Some("".into());
        assert!(p.problem().unwrap().contains("`wrong`"));
    }
}
