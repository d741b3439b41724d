//! [`Emulator`]: what every model family offers the rest of the crate — the next frame
//! from a context, an autoregressive rollout, and the fields it knows.
//!
//! Metrics over rollouts (horizons, spectra), the studies and the leaderboard take any
//! `Emulator`, so a new model family gets them by implementing three methods.
//!
//! Tensor layout (DESIGN.md): fields `(batch, channels, time, height, width)`; the
//! channels of a context are the dataset's channels, and [`ActiveFields`] says which of
//! the emulator's fields each one is.

use candle_core::{D, Device, Tensor};

use crate::data::ActiveFields;
use crate::{Error, Result};

/// A model that predicts the next frame of a physical system and rolls out from a context.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::data::ActiveFields;
/// use phystok::emulator::Emulator;
/// use phystok::model::RolloutConfig;
///
/// fn five_steps(model: &dyn Emulator, context: &Tensor) -> phystok::Result<Tensor> {
///     let fields = ActiveFields::first(context.dim(1)?);
///     model.rollout(context, &fields, 5)
/// }
///
/// let model = RolloutConfig::tiny().with_n_steps_input(5).init(&Device::Cpu)?;
/// let context = Tensor::randn(0f32, 1.0, (1, 2, 5, 16, 16), &Device::Cpu)?;
/// assert_eq!(five_steps(&model, &context)?.dims(), &[1, 2, 5, 16, 16]);
/// # Ok::<(), phystok::Error>(())
/// ```
pub trait Emulator {
    /// Context frames it reads.
    fn n_steps_input(&self) -> usize;

    /// The device its weights live on (contexts are moved there).
    fn device(&self) -> Result<Device>;

    /// Number of fields it knows (`total_fields`): the active fields of a context are
    /// indices below it.
    fn total_fields(&self) -> usize;

    /// The frame after `context`, in the data's units, in evaluation mode.
    ///
    /// # Shapes
    /// `(batch, channels, n_steps_input, height, width)` → `(batch, channels, 1, height, width)`.
    fn predict_next(&self, context: &Tensor, fields: &ActiveFields) -> Result<Tensor>;

    /// `n` frames, each predicted from the last `n_steps_input` frames (predictions fed
    /// back, the window sliding by one frame per step), detached from any graph.
    ///
    /// # Shapes
    /// `(batch, channels, n_steps_input, height, width)` → `(batch, channels, n, height, width)`.
    fn rollout(&self, context: &Tensor, fields: &ActiveFields, n: usize) -> Result<Tensor> {
        if n == 0 {
            return Err(Error::Empty {
                what: "rollout of 0 steps".into(),
            });
        }
        let t = self.n_steps_input();
        let mut window = context.clone();
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            let next = self.predict_next(&window, fields)?.detach();
            window = Tensor::cat(&[&window.narrow(2, 1, t - 1)?, &next], 2)?;
            frames.push(next);
        }
        Ok(Tensor::cat(&frames, D::Minus(3))?)
    }
}
