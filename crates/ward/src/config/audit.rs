//! The `[audit]` section: how the audit log's head is anchored outside the
//! store (signed checkpoints), and how long its records are kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Table;

use super::Problem;
use super::delivery::parse_duration;
use super::reader::Section;

/// Days in a year of [`AuditSettings::retention`]: generous, so that "7y"
/// keeps a record at least seven calendar years, leap days and all.
const DAYS_PER_YEAR: u64 = 366;

/// The audit log's anchoring and retention (`[audit]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditSettings {
    /// How often the daemon writes a signed checkpoint of the chain's head
    /// (when the head has moved), besides the one at every shutdown.
    /// Default 1 hour; 1 second to 1 day.
    pub checkpoint_interval: Duration,
    /// The file checkpoints are appended to, one JSON line each. Default
    /// `data_dir/audit-checkpoints.jsonl`; put it on another disk or a
    /// synchronised folder, so that it outlives the store.
    pub checkpoint_file: PathBuf,
    /// The Ed25519 key that signs checkpoints (`data_dir/audit-key/`),
    /// made on first start.
    pub key_dir: PathBuf,
    /// Records older than this are purged (hourly). Default 7 years, as
    /// justice records expect; 1 day to 100 years.
    pub retention: Duration,
}

/// `[audit]` as written.
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct RawAudit {
    pub checkpoint_interval: Option<String>,
    pub checkpoint_file: Option<String>,
    pub retention: Option<String>,
}

impl RawAudit {
    pub(super) fn read(root: &Table, p: &mut Vec<Problem>) -> Self {
        let mut s = Section::of(root, "audit", p);
        let raw = Self {
            checkpoint_interval: s.string("checkpoint_interval", p),
            checkpoint_file: s.string("checkpoint_file", p),
            retention: s.string("retention", p),
        };
        s.finish(p);
        raw
    }

    pub(super) fn validate(
        self,
        resolve: &dyn Fn(&str) -> PathBuf,
        data_dir: &Path,
        p: &mut Vec<Problem>,
    ) -> Option<AuditSettings> {
        let interval = match parse_duration(self.checkpoint_interval.as_deref().unwrap_or("1h")) {
            Ok(d) if (1..=86_400).contains(&d.as_secs()) => Some(d),
            Ok(_) => {
                p.push(Problem::new(
                    "audit.checkpoint_interval",
                    "must be from 1s to 1d",
                ));
                None
            }
            Err(why) => {
                p.push(Problem::new("audit.checkpoint_interval", why));
                None
            }
        };
        let retention = match parse_retention(self.retention.as_deref().unwrap_or("7y")) {
            Ok(d) => Some(d),
            Err(why) => {
                p.push(Problem::new("audit.retention", why));
                None
            }
        };
        let checkpoint_file = self
            .checkpoint_file
            .as_deref()
            .map_or_else(|| data_dir.join("audit-checkpoints.jsonl"), resolve);
        if checkpoint_file.starts_with(data_dir.join("store")) {
            p.push(Problem::new(
                "audit.checkpoint_file",
                "must be outside the store folder: it is what shows the store was not rewritten",
            ));
            return None;
        }
        Some(AuditSettings {
            checkpoint_interval: interval?,
            checkpoint_file,
            key_dir: data_dir.join("audit-key"),
            retention: retention?,
        })
    }
}

/// Parses a retention: `7y` (years of 366 days) or `90d`.
fn parse_retention(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a retention such as \"7y\" or \"90d\"");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let days = match unit {
        "d" => n,
        "y" => n.checked_mul(DAYS_PER_YEAR).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if !(1..=100 * DAYS_PER_YEAR).contains(&days) {
        return Err(format!("{text:?} must be from 1 day to 100 years"));
    }
    Ok(Duration::from_secs(days * 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions() {
        assert_eq!(
            parse_retention("7y"),
            Ok(Duration::from_secs(7 * 366 * 86_400))
        );
        assert_eq!(parse_retention("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(parse_retention("0d").is_err());
        assert!(parse_retention("101y").is_err());
        assert!(parse_retention("7").is_err());
        assert!(parse_retention("7w").is_err());
    }
}
