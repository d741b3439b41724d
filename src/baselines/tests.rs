//! Baseline tests: shapes and rollouts for every family, gradients to every parameter,
//! size checks with typed errors, and a few AdamW steps lowering the loss on a tiny dataset.

use std::f32::consts::PI;

use candle_core::{Device, Tensor};

use super::*;
use crate::data::ActiveFields;
use crate::emulator::Emulator;
use crate::nn::Mode;
use crate::optim::{AdamWConfig, Optimiser};
use crate::{ConfigError, Error, Result};

/// Two fields advected across a periodic 16² grid, one cell per frame: `frames` frames of
/// `batch` samples with different phases, `(batch, 2, frames, 16, 16)`.
fn advected(batch: usize, frames: usize) -> Result<Tensor> {
    let n = 16;
    let mut v = Vec::with_capacity(batch * 2 * frames * n * n);
    for b in 0..batch {
        for c in 0..2 {
            for t in 0..frames {
                for y in 0..n {
                    for x in 0..n {
                        let phase = b as f32 * 0.7 + c as f32 * 1.3;
                        let u = 2.0 * PI * (x + t) as f32 / n as f32;
                        let w = 2.0 * PI * y as f32 / n as f32;
                        v.push(1.0 + (u + phase).sin() * (w + 0.5 * c as f32).cos());
                    }
                }
            }
        }
    }
    Ok(Tensor::from_vec(v, (batch, 2, frames, n, n), &Device::Cpu)?)
}

#[test]
fn every_family_predicts_and_rolls_out_with_the_wells_shapes() -> Result<()> {
    let context = advected(2, 4)?;
    let fields = ActiveFields::first(2);
    for kind in BaselineKind::ALL {
        let config = BaselineConfig::quick(kind, 2, [16, 16]);
        let model = config.init(&Device::Cpu)?;
        assert_eq!(model.n_parameters(), config.n_parameters(), "{kind:?}");
        assert_eq!(
            model.param_table().total() - buffers(&model),
            model.n_parameters()
        );
        assert!(
            model
                .param_table()
                .rows()
                .iter()
                .all(|r| r.component != "other")
        );
        assert_eq!(
            model.predict_next(&context, &fields)?.dims(),
            &[2, 2, 1, 16, 16]
        );
        assert_eq!(
            model.rollout(&context, &fields, 3)?.dims(),
            &[2, 2, 3, 16, 16]
        );
        // another channel order, or another context length, is refused
        let swapped = ActiveFields::new(vec![1, 0], vec![0, 1]);
        assert!(matches!(
            model.predict_next(&context, &swapped),
            Err(Error::Mismatch { .. })
        ));
        assert!(matches!(
            model.predict_next(&context.narrow(2, 0, 3)?, &fields),
            Err(Error::Shape { .. })
        ));
    }
    Ok(())
}

fn buffers(model: &Baseline) -> usize {
    model
        .param_table()
        .variables()
        .filter(|(n, _, _)| crate::nn::is_buffer(n))
        .map(|(_, c, _)| c)
        .sum()
}

#[test]
fn gradients_reach_every_parameter() -> Result<()> {
    let window = advected(2, 5)?;
    let fields = ActiveFields::first(2);
    for kind in BaselineKind::ALL {
        let model = BaselineConfig::quick(kind, 2, [16, 16]).init(&Device::Cpu)?;
        let grads = model
            .next_frame_loss(&window, &fields, Mode::Train)?
            .backward()?;
        let names = model.trainable_names();
        let data = model.varmap().data().lock().unwrap();
        for name in names {
            let g = grads
                .get(data[&name].as_tensor())
                .unwrap_or_else(|| panic!("{kind:?}: no gradient for {name}"));
            let s = g.abs()?.sum_all()?.to_scalar::<f32>()?;
            assert!(s > 0.0, "{kind:?}: zero gradient for {name}");
        }
    }
    Ok(())
}

#[test]
fn sizes_that_do_not_fit_the_grid_are_refused() {
    let fno = BaselineConfig::quick(BaselineKind::Fno, 2, [6, 16]);
    assert!(matches!(
        fno.check(),
        Err(ConfigError::ModesExceedGrid {
            axis: "height",
            modes: 8,
            size: 6
        })
    ));
    let tfno = BaselineConfig::quick(BaselineKind::Tfno, 2, [16, 4]);
    assert!(matches!(
        tfno.init(&Device::Cpu),
        Err(Error::Config(ConfigError::ModesExceedGrid {
            axis: "width",
            ..
        }))
    ));
    let unet = BaselineConfig::quick(BaselineKind::UNetClassic, 2, [12, 16]);
    assert!(matches!(
        unet.check(),
        Err(ConfigError::TooDeep {
            name: "depth",
            depth: 3,
            size: 12
        })
    ));
    let cnext = BaselineConfig::the_well(BaselineKind::UNetConvNext, 2, [64, 40]);
    assert!(matches!(
        cnext.check(),
        Err(ConfigError::TooDeep {
            name: "stages",
            depth: 4,
            size: 40
        })
    ));
    let wrong = BaselineConfig::quick(BaselineKind::Fno, 2, [16, 16]).with_architecture_of(
        BaselineConfig::quick(BaselineKind::UNetClassic, 2, [16, 16]).architecture,
    );
    assert!(matches!(wrong.check(), Err(ConfigError::Mismatch { .. })));
    assert!(
        BaselineConfig::quick(BaselineKind::Fno, 0, [16, 16])
            .check()
            .is_err()
    );
    // The Well's sizes on its 256² grids
    for kind in BaselineKind::ALL {
        assert!(
            BaselineConfig::the_well(kind, 4, [256, 256])
                .check()
                .is_ok()
        );
    }
}

#[test]
fn a_few_steps_lower_the_loss_on_a_tiny_dataset() -> Result<()> {
    let window = advected(4, 5)?;
    let fields = ActiveFields::first(2);
    for kind in BaselineKind::ALL {
        let model = BaselineConfig::quick(kind, 2, [16, 16])
            .with_seed(3)
            .init(&Device::Cpu)?;
        let mut opt = AdamWConfig::torch_defaults()
            .with_lr(3e-3)
            .build(model.varmap(), model.trainable_names())?;
        let first = model.next_frame_loss(&window, &fields, Mode::Train)?;
        let first_value = first.to_scalar::<f32>()?;
        opt.backward_step(&first)?;
        for _ in 0..14 {
            let loss = model.next_frame_loss(&window, &fields, Mode::Train)?;
            opt.backward_step(&loss)?;
        }
        let last = model
            .next_frame_loss(&window, &fields, Mode::Train)?
            .to_scalar::<f32>()?;
        assert!(last < 0.7 * first_value, "{kind:?}: {first_value} → {last}");
    }
    Ok(())
}

#[test]
fn the_same_seed_gives_bit_identical_predictions() -> Result<()> {
    let context = advected(1, 4)?;
    let fields = ActiveFields::first(2);
    for kind in BaselineKind::ALL {
        let run = |seed| -> Result<Vec<f32>> {
            let model = BaselineConfig::quick(kind, 2, [16, 16])
                .with_seed(seed)
                .init(&Device::Cpu)?;
            Ok(model
                .predict_next(&context, &fields)?
                .flatten_all()?
                .to_vec1()?)
        };
        assert_eq!(run(1)?, run(1)?);
        assert_ne!(run(1)?, run(2)?);
    }
    Ok(())
}
