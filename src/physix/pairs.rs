//! Refinement training pairs made by running the AR model on a dataset (paper Appendix C:
//! "for each trajectory in the raw training data, we randomly sample a starting timestamp
//! and run autoregressive generation").

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::model::PhysixModel;
use super::refine::RefinementPairs;
use crate::data::{ActiveFields, WellDataset, coarsen_space};
use crate::{ConfigError, Error, Result};

impl PhysixModel {
    /// Pairs for dataset `ds`'s refiner: `draws` random starts per trajectory (a ChaCha
    /// stream from `seed`), each giving `S_t` pairs (the true frames before each AR frame,
    /// the decoded AR frame, the true frame), standardised by the context ([`normaliser`](super::normaliser)).
    /// `ds` must read windows of `n_steps_input + S_t` frames; they are coarse-grained by
    /// `coarsen` in space first (1: as they are).
    pub fn refinement_pairs(
        &self,
        ds: &WellDataset,
        fields: &ActiveFields,
        draws: usize,
        coarsen: usize,
        seed: u64,
    ) -> Result<RefinementPairs> {
        let n_in = self.config().n_steps_input;
        let st = self.config().tokeniser.time_compression();
        let n_ctx = self.config().refiner.n_context;
        if ds.spec().n_steps_input != n_in || ds.spec().n_steps_output != st {
            return Err(ConfigError::Mismatch {
                name: "refinement dataset windows",
                value: format!("{} + {}", ds.spec().n_steps_input, ds.spec().n_steps_output),
                other: format!("n_steps_input {n_in} + {st} predicted frames"),
            }
            .into());
        }
        if draws == 0 {
            return Err(ConfigError::NotPositive {
                name: "refinement draws per trajectory",
                value: 0.0,
            }
            .into());
        }
        // the windows of each trajectory, in order
        let mut groups: Vec<((usize, usize), Vec<usize>)> = Vec::new();
        for i in 0..ds.len() {
            let (file, traj, _) = ds.locate(i)?;
            match groups.last_mut() {
                Some((key, v)) if *key == (file, traj) => v.push(i),
                _ => groups.push(((file, traj), vec![i])),
            }
        }
        if groups.is_empty() {
            return Err(Error::Empty {
                what: format!("windows of {}", ds.name()),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x70_6169_7273);
        let device = self.ar().device().clone();
        let name = self.dataset_of(fields)?.to_string();
        let mut sets = Vec::new();
        for _ in 0..draws {
            let picks: Vec<usize> = groups
                .iter()
                .map(|(_, v)| v[rng.random_range(0..v.len())])
                .collect();
            for chunk in picks.chunks(8) {
                let windows = chunk
                    .iter()
                    .map(|&i| ds.window(i)?.to_tensor(&device))
                    .collect::<Result<Vec<_>>>()?;
                let window = coarsen_space(&Tensor::stack(&windows, 0)?, coarsen)?;
                let rms = super::model::normaliser(&window.narrow(2, 0, n_in)?, fields)?;
                let xs = rms.normalise(&window)?;
                let coarse = self.coarse_block(&xs.narrow(2, 0, n_in)?, &name)?;
                for k in 0..st {
                    sets.push(RefinementPairs {
                        context: xs.narrow(2, n_in + k - n_ctx, n_ctx)?,
                        coarse: coarse.narrow(2, k, 1)?,
                        target: xs.narrow(2, n_in + k, 1)?,
                    });
                }
            }
        }
        RefinementPairs::concat(&sets)
    }
}
