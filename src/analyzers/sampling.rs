//! Which frames of an animated image are looked at: seed 001 (the IMS FAQ) samples one frame in
//! every `TRIAGE_MODERATION_GIF_INTERVAL` (default 5), at most `TRIAGE_MODERATION_GIF_MAX_FRAMES`
//! (default 5). The vendor moderators pass these to the service; the local models apply them to
//! animated GIF, WebP, APNG and multi-page TIFF themselves.

use crate::config::{Config, ConfigError};

pub const GIF_INTERVAL_VAR: &str = "TRIAGE_MODERATION_GIF_INTERVAL";
pub const GIF_MAX_FRAMES_VAR: &str = "TRIAGE_MODERATION_GIF_MAX_FRAMES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSampling {
    /// One frame in every `interval`; 0 = the first frame only.
    pub interval: u32,
    pub max_frames: u32,
}

impl Default for FrameSampling {
    fn default() -> Self {
        FrameSampling {
            interval: 5,
            max_frames: 5,
        }
    }
}

impl FrameSampling {
    /// Read both settings; `service` names whose rule a bad value broke.
    pub fn from_config(config: &Config, service: &str) -> Result<Self, ConfigError> {
        let num = |var: &str, default: u32, max: u32| -> Result<u32, ConfigError> {
            match config.env.get(var) {
                None => Ok(default),
                Some(v) => v.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| {
                    ConfigError::new(
                        var,
                        v,
                        format!("expected a whole number 0-{max} (a setting of {service})"),
                    )
                }),
            }
        };
        Ok(FrameSampling {
            interval: num(GIF_INTERVAL_VAR, 5, 1000)?,
            max_frames: num(GIF_MAX_FRAMES_VAR, 5, 100)?.max(1),
        })
    }

    /// Whether frame `index` (0-based) is one to look at.
    pub fn picks(&self, index: u32) -> bool {
        match self.interval {
            0 => index == 0,
            n => index.is_multiple_of(n) && index / n < self.max_frames,
        }
    }

    /// No frame after this one is picked: decoding can stop.
    pub fn past_last(&self, index: u32) -> bool {
        match self.interval {
            0 => index > 0,
            n => index > n.saturating_mul(self.max_frames.saturating_sub(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fifth_frame_at_most_five() {
        let s = FrameSampling::default();
        let picked: Vec<u32> = (0..100).filter(|i| s.picks(*i)).collect();
        assert_eq!(picked, vec![0, 5, 10, 15, 20]);
        assert!(!s.past_last(20) && s.past_last(21));
        let first = FrameSampling {
            interval: 0,
            max_frames: 5,
        };
        assert_eq!((0..10).filter(|i| first.picks(*i)).count(), 1);
        assert!(first.past_last(1));
    }
}
