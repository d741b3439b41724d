//! A process's place in a data-parallel run: from `phystok reproduce --gpus 0,1,…` (one node,
//! one process per GPU) or from torchrun's environment (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
//! `MASTER_ADDR`, `MASTER_PORT`), so that a cluster scheduler can start the processes.
//!
//! Everything here is checked before any work: a GPU list on a build without `cuda`, a GPU
//! ordinal that does not exist, a world size that does not divide the effective batch, and
//! malformed or inconsistent launcher variables are typed [`ConfigError`]s.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// One process's rank among `size` processes, and its GPU on its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct World {
    /// This process's rank, `0..size` (rank 0 validates and writes checkpoints).
    pub rank: usize,
    /// Processes in all (the data-parallel world size).
    pub size: usize,
    /// This process's index on its node: the CUDA ordinal it uses.
    pub local_rank: usize,
    /// torchrun's rendezvous `MASTER_ADDR:MASTER_PORT` (`None` for one node, where the
    /// processes meet through the run directory).
    pub master: Option<String>,
}

impl Default for World {
    fn default() -> Self {
        World::single()
    }
}

impl World {
    /// A world of one: the plain single-process path.
    pub fn single() -> Self {
        World {
            rank: 0,
            size: 1,
            local_rank: 0,
            master: None,
        }
    }

    /// Whether this is rank 0, the one that validates and writes checkpoints.
    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }

    /// The world torchrun's variables describe (`None` when `WORLD_SIZE` and `RANK` are
    /// both unset: not launched by torchrun), read through `var`.
    ///
    /// `RANK` and `WORLD_SIZE` must be set together; `LOCAL_RANK` defaults to `RANK`
    /// (one node); `MASTER_ADDR` and `MASTER_PORT` are required when the world holds more
    /// than one process.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<World>, ConfigError> {
        let number =
            |name: &'static str| -> Result<Option<usize>, ConfigError> {
                match var(name) {
                    None => Ok(None),
                    Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                        ConfigError::BadEnvironment {
                            name,
                            value: v.clone(),
                            expected: "a non-negative integer".into(),
                        }
                    }),
                }
            };
        let (rank, size) = match (number("RANK")?, number("WORLD_SIZE")?) {
            (None, None) => return Ok(None),
            (Some(r), Some(s)) => (r, s),
            (r, _) => {
                let (name, missing) = if r.is_some() {
                    ("WORLD_SIZE", "RANK")
                } else {
                    ("RANK", "WORLD_SIZE")
                };
                return Err(ConfigError::BadEnvironment {
                    name,
                    value: String::new(),
                    expected: format!("set together with {missing} (torchrun sets both)"),
                });
            }
        };
        if size == 0 {
            return Err(ConfigError::BadEnvironment {
                name: "WORLD_SIZE",
                value: "0".into(),
                expected: "at least 1".into(),
            });
        }
        if rank >= size {
            return Err(ConfigError::BadEnvironment {
                name: "RANK",
                value: rank.to_string(),
                expected: format!("below WORLD_SIZE={size}"),
            });
        }
        let local_rank = number("LOCAL_RANK")?.unwrap_or(rank);
        if local_rank > rank {
            return Err(ConfigError::BadEnvironment {
                name: "LOCAL_RANK",
                value: local_rank.to_string(),
                expected: format!("at most RANK={rank}"),
            });
        }
        let master = if size > 1 {
            let addr = var("MASTER_ADDR").filter(|a| !a.trim().is_empty());
            let addr = addr.ok_or_else(|| ConfigError::BadEnvironment {
                name: "MASTER_ADDR",
                value: String::new(),
                expected: format!("the rendezvous host, needed for WORLD_SIZE={size}"),
            })?;
            let port = number("MASTER_PORT")?.ok_or_else(|| ConfigError::BadEnvironment {
                name: "MASTER_PORT",
                value: String::new(),
                expected: format!("the rendezvous port, needed for WORLD_SIZE={size}"),
            })?;
            if port == 0 || port > 65535 {
                return Err(ConfigError::BadEnvironment {
                    name: "MASTER_PORT",
                    value: port.to_string(),
                    expected: "a port in 1..=65535".into(),
                });
            }
            Some(format!("{}:{port}", addr.trim()))
        } else {
            None
        };
        Ok(Some(World {
            rank,
            size,
            local_rank,
            master,
        }))
    }

    /// [`World::from_vars`] on this process's environment.
    pub fn from_env() -> Result<Option<World>, ConfigError> {
        World::from_vars(|name| std::env::var(name).ok())
    }

    /// The per-process micro-batch and accumulation that keep the effective batch
    /// `batch × accumulation` (one process's settings) when `self.size` processes share it:
    /// the accumulation is divided first (the micro-batch, the memory a step needs, stays),
    /// then the micro-batch. A world size that divides neither way is an error naming both.
    pub fn split_batch(
        &self,
        batch: usize,
        accumulation: usize,
    ) -> Result<(usize, usize), ConfigError> {
        let n = self.size.max(1);
        if accumulation.is_multiple_of(n) {
            return Ok((batch, accumulation / n));
        }
        let total = batch * accumulation;
        if total.is_multiple_of(n) && (total / n).is_multiple_of(accumulation) {
            return Ok((total / n / accumulation, accumulation));
        }
        Err(ConfigError::Mismatch {
            name: "world size",
            value: n.to_string(),
            other: format!(
                "the effective batch {total} (micro-batch {batch} × {accumulation} accumulated): \
                 it must divide the accumulation or the micro-batch"
            ),
        })
    }
}

/// Parses `--gpus 0,1,…`: distinct CUDA ordinals, at least one.
pub fn parse_gpus(spec: &str) -> Result<Vec<usize>, ConfigError> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let g = part.parse::<usize>().map_err(|_| ConfigError::Unknown {
            kind: "GPU ordinal in --gpus",
            name: part.to_string(),
            known: "comma-separated CUDA ordinals such as 0,1,2,3".into(),
        })?;
        if out.contains(&g) {
            return Err(ConfigError::Duplicate {
                name: "--gpus",
                value: g.to_string(),
            });
        }
        out.push(g);
    }
    if out.is_empty() {
        return Err(ConfigError::Empty { name: "--gpus" });
    }
    Ok(out)
}

/// Checks that every ordinal names one of the `present` GPUs.
pub fn check_gpus(name: &'static str, gpus: &[usize], present: usize) -> Result<(), ConfigError> {
    match gpus.iter().find(|&&g| g >= present) {
        Some(&index) => Err(ConfigError::NoSuchGpu {
            name,
            index,
            present,
        }),
        None => Ok(()),
    }
}

/// The number of CUDA GPUs this process sees. Without the `cuda` feature: an error naming
/// `name`, the setting that asked for GPUs.
pub fn cuda_gpu_count(name: &'static str) -> crate::Result<usize> {
    #[cfg(feature = "cuda")]
    {
        let _ = name;
        let n = candle_core::cuda::cudarc::driver::CudaContext::device_count().map_err(|e| {
            crate::Error::Msg(format!(
                "counting CUDA GPUs (is the NVIDIA driver installed?): {e}"
            ))
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(ConfigError::FeatureMissing {
            name,
            feature: "cuda",
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn torchrun_variables_make_a_world() {
        assert_eq!(World::from_vars(env(&[])).unwrap(), None);
        let w = World::from_vars(env(&[
            ("RANK", "5"),
            ("WORLD_SIZE", "8"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "node0"),
            ("MASTER_PORT", "29500"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            w,
            World {
                rank: 5,
                size: 8,
                local_rank: 1,
                master: Some("node0:29500".into())
            }
        );
        assert!(!w.is_leader());
        let one = World::from_vars(env(&[("RANK", "0"), ("WORLD_SIZE", "1")]))
            .unwrap()
            .unwrap();
        assert_eq!(one, World::single());
    }

    #[test]
    fn bad_torchrun_variables_are_typed_errors() {
        let bad = |pairs: &[(&str, &str)], var: &str| match World::from_vars(env(pairs)) {
            Err(ConfigError::BadEnvironment { name, .. }) => assert_eq!(name, var, "{pairs:?}"),
            other => panic!("{pairs:?}: {other:?}"),
        };
        bad(&[("RANK", "0")], "WORLD_SIZE");
        bad(&[("WORLD_SIZE", "2")], "RANK");
        bad(&[("RANK", "x"), ("WORLD_SIZE", "2")], "RANK");
        bad(&[("RANK", "0"), ("WORLD_SIZE", "0")], "WORLD_SIZE");
        bad(&[("RANK", "2"), ("WORLD_SIZE", "2")], "RANK");
        bad(
            &[("RANK", "1"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "3")],
            "LOCAL_RANK",
        );
        bad(&[("RANK", "1"), ("WORLD_SIZE", "2")], "MASTER_ADDR");
        bad(
            &[("RANK", "1"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "h")],
            "MASTER_PORT",
        );
        bad(
            &[
                ("RANK", "1"),
                ("WORLD_SIZE", "2"),
                ("MASTER_ADDR", "h"),
                ("MASTER_PORT", "70000"),
            ],
            "MASTER_PORT",
        );
    }

    #[test]
    fn the_effective_batch_is_split_over_the_world() {
        let world = |size| World {
            size,
            ..World::single()
        };
        // the paper: micro-batch 2 × 8 accumulated = 16 on one process, 2 × 1 on 8 GPUs
        assert_eq!(world(1).split_batch(2, 8).unwrap(), (2, 8));
        assert_eq!(world(2).split_batch(2, 8).unwrap(), (2, 4));
        assert_eq!(world(8).split_batch(2, 8).unwrap(), (2, 1));
        // no accumulation: the micro-batch is split
        assert_eq!(world(2).split_batch(4, 1).unwrap(), (2, 1));
        for (size, b, a) in [(3, 2, 8), (16, 2, 4), (3, 2, 1)] {
            assert!(matches!(
                world(size).split_batch(b, a),
                Err(ConfigError::Mismatch {
                    name: "world size",
                    ..
                })
            ));
        }
    }

    #[test]
    fn gpu_lists_are_checked() {
        assert_eq!(parse_gpus("0,1, 3").unwrap(), [0, 1, 3]);
        assert!(matches!(
            parse_gpus("0,0"),
            Err(ConfigError::Duplicate { .. })
        ));
        assert!(matches!(parse_gpus("a"), Err(ConfigError::Unknown { .. })));
        assert!(matches!(parse_gpus(""), Err(ConfigError::Unknown { .. })));
        assert!(check_gpus("--gpus", &[0, 1], 2).is_ok());
        assert_eq!(
            check_gpus("--gpus", &[0, 2], 2),
            Err(ConfigError::NoSuchGpu {
                name: "--gpus",
                index: 2,
                present: 2
            })
        );
        #[cfg(not(feature = "cuda"))]
        assert!(matches!(
            cuda_gpu_count("--gpus"),
            Err(crate::Error::Config(ConfigError::FeatureMissing {
                feature: "cuda",
                ..
            }))
        ));
    }
}
