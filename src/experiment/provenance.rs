//! [`Provenance`]: what a study's numbers were measured with — the code's commit, the
//! crate version, the thread count, the CPU and when — written into every `results.json`
//! so that a published table can be traced to the run that made it.

use serde::{Deserialize, Serialize};

/// The code and machine of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `git rev-parse HEAD` of the working directory, with `-dirty` when `git status`
    /// reports changes; `unknown` outside a git checkout.
    pub commit: String,
    /// phystok's version.
    pub version: String,
    /// Threads of the run (rayon's pool; kernels and simulators use it).
    pub threads: usize,
    /// The CPU's model name (`/proc/cpuinfo`), or the architecture where that is unknown.
    pub cpu: String,
    /// Logical CPUs the machine offers.
    pub cpus: usize,
    /// The operating system and architecture.
    pub os: String,
    /// Start of the run, seconds since the Unix epoch.
    pub started_unix: u64,
}

impl Provenance {
    /// The current process's provenance.
    pub fn capture() -> Self {
        Provenance {
            commit: commit(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            threads: rayon::current_num_threads(),
            cpu: cpu_model(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

impl Default for Provenance {
    /// Unknown everything (what a `runs.json` written before provenance existed reads as).
    fn default() -> Self {
        Provenance {
            commit: "unknown".into(),
            version: String::new(),
            threads: 0,
            cpu: "unknown".into(),
            cpus: 0,
            os: String::new(),
            started_unix: 0,
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn commit() -> String {
    match git(&["rev-parse", "HEAD"]) {
        Some(head) if !head.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{head}-dirty") } else { head }
        }
        _ => "unknown".into(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names_the_code_and_machine() {
        let p = Provenance::capture();
        assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
        assert!(p.threads >= 1 && p.cpus >= 1);
        assert!(!p.cpu.is_empty() && !p.commit.is_empty());
        // in this repository the commit is a 40-digit hash (maybe with -dirty)
        if std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".git")
            .exists()
        {
            assert_eq!(
                p.commit.split('-').next().unwrap().len(),
                40,
                "{}",
                p.commit
            );
        }
        let back: Provenance = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
