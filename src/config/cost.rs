//! Cost guards, checked at start-up: content dedupe (`TRIAGE_DEDUPE`) and the daily cap on
//! analysed objects (`TRIAGE_DAILY_CAP`). Neither changes what a result says, so neither is
//! part of the configuration hash.

use super::ConfigError;

pub const DEDUPE_VAR: &str = "TRIAGE_DEDUPE";
pub const DAILY_CAP_VAR: &str = "TRIAGE_DAILY_CAP";

/// The largest cap accepted: beyond it the cap guards nothing a user would notice, and the
/// counter object's arithmetic stays far from overflow.
pub const MAX_DAILY_CAP: u64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostGuards {
    /// Reuse the result of identical bytes analysed before under this configuration.
    pub dedupe: bool,
    /// At most this many objects analysed per UTC day, per bucket, across all instances.
    pub daily_cap: Option<u64>,
}

impl Default for CostGuards {
    fn default() -> Self {
        CostGuards {
            dedupe: true,
            daily_cap: None,
        }
    }
}

impl CostGuards {
    pub fn from_get(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut out = CostGuards::default();
        if let Some(v) = get(DEDUPE_VAR) {
            out.dedupe = match v.to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                _ => return Err(ConfigError::new(DEDUPE_VAR, &v, "expected on or off")),
            };
        }
        if let Some(v) = get(DAILY_CAP_VAR) {
            let cap = v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_DAILY_CAP).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        DAILY_CAP_VAR,
                        &v,
                        format!(
                            "expected a whole number of objects per UTC day, 1 to {MAX_DAILY_CAP} \
                             (unset: no cap)"
                        ),
                    )
                })?;
            out.daily_cap = Some(cap);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<CostGuards, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CostGuards::from_get(|n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_dedupe_on_and_no_cap() {
        assert_eq!(parse(&[]).unwrap(), CostGuards::default());
        assert!(CostGuards::default().dedupe);
    }

    #[test]
    fn values_are_checked_naming_the_variable() {
        let g = parse(&[(DEDUPE_VAR, "off"), (DAILY_CAP_VAR, "3")]).unwrap();
        assert_eq!((g.dedupe, g.daily_cap), (false, Some(3)));
        for bad in ["0", "-1", "1.5", "lots", "1000000001"] {
            let e = parse(&[(DAILY_CAP_VAR, bad)]).unwrap_err();
            assert_eq!(e.var, DAILY_CAP_VAR, "{bad}");
        }
        assert_eq!(parse(&[(DEDUPE_VAR, "maybe")]).unwrap_err().var, DEDUPE_VAR);
    }
}
