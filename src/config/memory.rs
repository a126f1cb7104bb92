//! How much memory the local decoders may hold at once, across every object in the process:
//! `TRIAGE_DECODE_BUDGET_MB`, else a share of the platform's memory setting, else a default
//! that keeps one process of the embedded default within 256 MiB (README, benchmark).

use super::ConfigError;

pub const BUDGET_VAR: &str = "TRIAGE_DECODE_BUDGET_MB";
/// With no platform setting: what the benchmark's hostile inputs need, with the process
/// (binary, both models, the object's bytes) still under 256 MiB.
pub const DEFAULT_BUDGET_MB: u64 = 96;
/// Lambda's memory setting, in MB.
pub const LAMBDA_MEMORY_VAR: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
/// FunctionGraph's memory setting, in MB (its runtime variables).
pub const FUNCTIONGRAPH_MEMORY_VAR: &str = "RUNTIME_MEMORY";
/// SCF documents no memory variable; it marks its environment with this one, and the
/// container's cgroup limit is the memory setting.
pub const SCF_ENV_VAR: &str = "TENCENTCLOUD_RUNENV";

/// The budget in MiB.
pub fn decode_budget_mb<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<u64, ConfigError> {
    if let Some(v) = get(BUDGET_VAR) {
        return v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=65_536).contains(n))
            .ok_or_else(|| {
                ConfigError::new(BUDGET_VAR, v, "expected a whole number of MiB, 1-65536")
            });
    }
    let platform = [LAMBDA_MEMORY_VAR, FUNCTIONGRAPH_MEMORY_VAR]
        .into_iter()
        .find_map(|var| get(var).and_then(|v| v.parse::<u64>().ok()))
        .or_else(|| {
            (get(SCF_ENV_VAR) == Some("SCF"))
                .then(cgroup_limit_mb)
                .flatten()
        })
        // cgroup v1 says "unlimited" with a huge number; no function platform sells 64 GiB+.
        .filter(|mb| (1..=65_536).contains(mb));
    Ok(platform.map_or(DEFAULT_BUDGET_MB, budget_for_memory))
}

/// A quarter of the function's memory (the rest holds the runtime, the models, the object's
/// bytes and the analyzers' buffers), at least 32 MiB.
pub fn budget_for_memory(memory_mb: u64) -> u64 {
    (memory_mb / 4).max(32)
}

fn cgroup_limit_mb() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok())
    .map(|bytes| bytes / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(pairs: &[(&str, &str)]) -> Result<u64, ConfigError> {
        decode_budget_mb(|k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v))
    }

    #[test]
    fn explicit_then_platform_then_default() {
        assert_eq!(budget(&[]).unwrap(), DEFAULT_BUDGET_MB);
        assert_eq!(budget(&[(LAMBDA_MEMORY_VAR, "1024")]).unwrap(), 256);
        assert_eq!(budget(&[(FUNCTIONGRAPH_MEMORY_VAR, "512")]).unwrap(), 128);
        assert_eq!(budget(&[(LAMBDA_MEMORY_VAR, "128")]).unwrap(), 32);
        assert_eq!(
            budget(&[(BUDGET_VAR, "40"), (LAMBDA_MEMORY_VAR, "1024")]).unwrap(),
            40
        );
        let e = budget(&[(BUDGET_VAR, "lots")]).unwrap_err();
        assert_eq!(e.var, BUDGET_VAR);
        assert!(budget(&[(BUDGET_VAR, "0")]).is_err());
        assert_eq!(
            budget(&[(LAMBDA_MEMORY_VAR, "9223372036854771712")]).unwrap(),
            DEFAULT_BUDGET_MB
        );
    }
}
