//! Device and dtype choice.
//!
//! Everything runs on the CPU by default, in `f32` (candle's CPU conv2d has no bf16 kernel
//! and its bf16 matmul converts to f32). With the `cuda` feature a notebook moves training
//! to a GPU with one value: `DeviceChoice::Cuda(0)` or `DeviceChoice::Auto`.

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Where tensors live and kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DeviceChoice {
    /// The CPU (the default; what tests, doc tests and CI use).
    #[default]
    Cpu,
    /// The CUDA GPU with this ordinal (needs the `cuda` feature).
    Cuda(usize),
    /// The first CUDA GPU when the `cuda` feature is on and a GPU is present, else the CPU.
    Auto,
}

impl DeviceChoice {
    /// The candle device for this choice.
    ///
    /// `Cuda(n)` without the `cuda` feature, or with no such GPU, is an error that says so.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(ordinal) => Ok(Device::new_cuda(ordinal)?),
            DeviceChoice::Auto => Ok(Device::cuda_if_available(0)?),
        }
    }
}

/// The device of a `VarMap`'s variables (the CPU when it is empty).
pub(crate) fn varmap_device(varmap: &candle_nn::VarMap) -> Result<Device> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| crate::Error::Msg("varmap lock poisoned".into()))?;
    Ok(data
        .values()
        .next()
        .map(|v| v.device().clone())
        .unwrap_or(Device::Cpu))
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceChoice::Auto => write!(f, "auto"),
        }
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(DeviceChoice::Cpu),
            "auto" => Ok(DeviceChoice::Auto),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceChoice::Cuda(n)),
                _ => Err(crate::ConfigError::Unknown {
                    kind: "device",
                    name: s.to_string(),
                    known: "cpu, auto, cuda, cuda:N".to_string(),
                }
                .into()),
            },
        }
    }
}

/// The memory a single allocation of data may take: the machine's available memory
/// (`MemAvailable` of `/proc/meminfo`), or 16 GiB where that cannot be read. Sizes read from
/// files or settings are checked against it before anything is allocated.
pub fn available_memory() -> u128 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u128>().ok())
        })
        .map_or(16 << 30, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "cuda:3".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(3)
        );
        assert!(matches!(
            "tpu".parse::<DeviceChoice>(),
            Err(crate::Error::Config(crate::ConfigError::Unknown { .. }))
        ));
        assert!(DeviceChoice::Cpu.device().unwrap().is_cpu());
    }
}

/// Test helpers: the devices a test body runs on ([`test_device!`]) and seeded inputs.
#[cfg(test)]
pub(crate) mod testing {
    use candle_core::{Device, Tensor};
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    /// The first CUDA GPU, or `None` after printing why the CUDA half of `test` is skipped
    /// (built without `cuda`, or no GPU). With `PHYSTOK_REQUIRE_CUDA=1` (set by
    /// `scripts/gpu-check.sh`) a missing GPU fails the test instead, so a GPU run cannot
    /// pass by skipping.
    pub(crate) fn cuda(test: &str) -> Option<Device> {
        let why = if cfg!(feature = "cuda") {
            match Device::new_cuda(0) {
                Ok(d) => return Some(d),
                Err(e) => format!("no CUDA GPU ({e})"),
            }
        } else {
            "built without the `cuda` feature".to_string()
        };
        assert!(
            std::env::var("PHYSTOK_REQUIRE_CUDA").as_deref() != Ok("1"),
            "{test}: PHYSTOK_REQUIRE_CUDA=1 but {why}"
        );
        eprintln!("{test}: CUDA half skipped: {why}");
        None
    }

    /// `shape` standard-normal `f32`s from a seeded ChaCha stream, made on the CPU (so both
    /// devices see the same numbers) and moved to `device`.
    pub(crate) fn randn(shape: &[usize], seed: u64, device: &Device) -> crate::Result<Tensor> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n = shape.iter().product::<usize>();
        let data: Vec<f32> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
        Ok(Tensor::from_vec(data, shape, &Device::Cpu)?.to_device(device)?)
    }
}

/// A test whose body runs on every device: `test_device!(fn name(dev) { … Ok(()) })` makes
/// a module `name` with two tests, `name::cpu` (always) and `name::cuda` (on the first GPU
/// when built with `cuda` and one is present; else it prints that it skips). The body sees
/// `dev: &Device` and returns `crate::Result<()>`.
#[cfg(test)]
macro_rules! test_device {
    ($(#[$meta:meta])* fn $name:ident($dev:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($dev: &candle_core::Device) -> crate::Result<()> $body

            #[test]
            fn cpu() -> crate::Result<()> {
                body(&candle_core::Device::Cpu)
            }

            #[test]
            fn cuda() -> crate::Result<()> {
                let name = concat!(module_path!(), "::", stringify!($name));
                match crate::device::testing::cuda(name) {
                    Some(dev) => body(&dev),
                    None => Ok(()),
                }
            }
        }
    };
}
#[cfg(test)]
pub(crate) use test_device;
