//! What a mini-tree was built on: the CPU model, the Poseidon backend, the
//! engine's threads and the time the build took ([`BuildRecord`]).
//!
//! A Lambda function cannot choose its CPU: an x86_64 function may or may not
//! get AVX-512 IFMA (and so the vectorised Poseidon kernel), an arm64 one gets
//! some Graviton generation. Each mini-tree records what it got, and the round's
//! `result.json` gathers the records ([`crate::json::BuildSummary`]), so that an
//! operator sees what the round ran on. `result.json` is public: a record holds
//! host facts only, never a user's data, and no proof carries it.

use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What built one mini-tree, and how long it took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// The Poseidon implementation ([`crate::poseidon::backend`]):
    /// `"avx512ifma"` or `"scalar"`.
    pub backend: String,
    /// The CPU model ([`cpu_model`]), e.g. `"Intel(R) Xeon(R) Platinum 8375C CPU
    /// @ 2.90GHz"` or `"ARM Neoverse-N1"`.
    pub cpu: String,
    /// The architecture the binary was built for (`x86_64`, `aarch64`).
    pub arch: String,
    /// The engine's threads (rayon's pool) when the tree was built.
    pub threads: usize,
    /// Milliseconds spent reading the shard and building its tree (over S3, the
    /// shard is streamed while it is built, so this includes its download).
    pub build_ms: u64,
}

impl BuildRecord {
    /// The record of a build that took `elapsed` on this machine and process.
    pub fn here(elapsed: Duration) -> BuildRecord {
        BuildRecord {
            backend: crate::poseidon::backend().to_string(),
            cpu: cpu_model().to_string(),
            arch: std::env::consts::ARCH.to_string(),
            threads: rayon::current_num_threads(),
            build_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// This machine's CPU model, read once from `/proc/cpuinfo` ([`parse_cpuinfo`]);
/// where that file is missing or names no model: `"unknown <arch> CPU"`.
pub fn cpu_model() -> &'static str {
    static MODEL: OnceLock<String> = OnceLock::new();
    MODEL.get_or_init(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| parse_cpuinfo(&t))
            .unwrap_or_else(|| format!("unknown {} CPU", std::env::consts::ARCH))
    })
}

/// The number of threads of process `pid` (`"self"` for this one), from its
/// `/proc/<pid>/status` (Linux); `None` where that cannot be read. The
/// one-thread mode's tests check with it that nothing started a thread.
pub fn threads_of(pid: &str) -> Option<usize> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

/// The CPU model of the first processor a `/proc/cpuinfo` text describes: its
/// `model name` (x86_64, and arm64 kernels that print one), else on arm64 the
/// `CPU implementer` and `CPU part` as a core's name where known
/// ([`arm_core_name`], e.g. `"ARM Neoverse-V1"`), else as
/// `"implementer 0x.. part 0x..."`. `None` if the text has none of these.
pub fn parse_cpuinfo(text: &str) -> Option<String> {
    // The first processor's block: fields up to the first blank line after a
    // field (x86 repeats every field per processor; arm64 does too).
    let mut model = None;
    let mut implementer = None;
    let mut part = None;
    let mut seen_field = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            if line.trim().is_empty() && seen_field {
                break;
            }
            continue;
        };
        seen_field = true;
        let (key, value) = (key.trim(), value.trim());
        match key {
            "model name" if !value.is_empty() => model = Some(value.to_string()),
            "CPU implementer" => implementer = Some(value.to_string()),
            "CPU part" => part = Some(value.to_string()),
            _ => {}
        }
    }
    if let Some(m) = model {
        return Some(m);
    }
    let (imp, part) = (implementer?, part?);
    let known = parse_hex(&imp)
        .zip(parse_hex(&part))
        .and_then(|(i, p)| arm_core_name(i, p));
    Some(match known {
        Some(name) => name.to_string(),
        None => format!("implementer {imp} part {part}"),
    })
}

fn parse_hex(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u32::from_str_radix(digits, 16).ok()
}

/// The name of an arm64 core from its MIDR implementer and part numbers, for
/// the cores that AWS Graviton and common arm64 servers use: Graviton is a
/// Cortex-A72, Graviton2 a Neoverse-N1, Graviton3 a Neoverse-V1, Graviton4 a
/// Neoverse-V2.
pub fn arm_core_name(implementer: u32, part: u32) -> Option<&'static str> {
    match (implementer, part) {
        (0x41, 0xd03) => Some("ARM Cortex-A53"),
        (0x41, 0xd07) => Some("ARM Cortex-A57"),
        (0x41, 0xd08) => Some("ARM Cortex-A72"),
        (0x41, 0xd0b) => Some("ARM Cortex-A76"),
        (0x41, 0xd0c) => Some("ARM Neoverse-N1"),
        (0x41, 0xd40) => Some("ARM Neoverse-V1"),
        (0x41, 0xd49) => Some("ARM Neoverse-N2"),
        (0x41, 0xd4f) => Some("ARM Neoverse-V2"),
        (0x41, 0xd84) => Some("ARM Neoverse-V3"),
        (0x41, 0xd8e) => Some("ARM Neoverse-N3"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: &str = "processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
stepping\t: 6
flags\t\t: fpu vme avx512f avx512ifma

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Another CPU
";

    /// A Graviton2 (c6g) `/proc/cpuinfo`, two processors.
    const GRAVITON2: &str = "processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

processor\t: 1
BogoMIPS\t: 243.75
CPU implementer\t: 0x41
CPU part\t: 0xd40
";

    #[test]
    fn x86_model_name_of_the_first_processor() {
        assert_eq!(
            parse_cpuinfo(X86).as_deref(),
            Some("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")
        );
    }

    #[test]
    fn arm64_parts_are_named() {
        assert_eq!(parse_cpuinfo(GRAVITON2).as_deref(), Some("ARM Neoverse-N1"));
        let v1 = GRAVITON2.replacen("0xd0c", "0xd40", 1);
        assert_eq!(parse_cpuinfo(&v1).as_deref(), Some("ARM Neoverse-V1"));
        let v2 = GRAVITON2.replacen("0xd0c", "0xd4f", 1);
        assert_eq!(parse_cpuinfo(&v2).as_deref(), Some("ARM Neoverse-V2"));
    }

    #[test]
    fn unknown_arm64_parts_are_raw() {
        let other = GRAVITON2
            .replacen("0x41", "0x61", 1)
            .replacen("0xd0c", "0x022", 1);
        assert_eq!(
            parse_cpuinfo(&other).as_deref(),
            Some("implementer 0x61 part 0x022")
        );
    }

    #[test]
    fn a_model_name_wins_on_arm64_too() {
        let named = format!("model name\t: Some SoC\n{GRAVITON2}");
        assert_eq!(parse_cpuinfo(&named).as_deref(), Some("Some SoC"));
    }

    #[test]
    fn nothing_to_name() {
        assert_eq!(parse_cpuinfo(""), None);
        assert_eq!(parse_cpuinfo("processor\t: 0\nflags\t: fpu\n"), None);
        assert_eq!(parse_cpuinfo("CPU implementer\t: 0x41\n"), None);
    }

    #[test]
    fn the_record_of_this_machine() {
        let r = BuildRecord::here(Duration::from_micros(2_500));
        assert_eq!(r.build_ms, 2);
        assert_eq!(r.backend, crate::poseidon::backend());
        assert_eq!(r.arch, std::env::consts::ARCH);
        assert_eq!(r.threads, rayon::current_num_threads());
        assert!(!r.cpu.is_empty());
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        assert!(!r.cpu.starts_with("unknown"), "{}", r.cpu);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn threads_of_reads_proc() {
        // A child that starts no thread has exactly one (this process's count
        // changes as the test harness starts and ends threads).
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let n = threads_of(&child.id().to_string());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(n, Some(1));
        assert!(threads_of("self").is_some_and(|n| n >= 1));
        assert_eq!(threads_of("no-such-process"), None);
    }
}
