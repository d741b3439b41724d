//! The rollout model and freezing strategies.

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use phystok::checkpoint::Checkpoint;
use phystok::data::ActiveFields;
use phystok::emulator::Emulator;
use phystok::freeze::FreezeStrategy;
use phystok::model::{RolloutConfig, RolloutModel};
use phystok::nn::Mode;
use phystok::optim::{AdamWConfig, Optimiser};
use phystok::tokeniser::TokeniserConfig;
use phystok::{ConfigError, Error};

fn tiny() -> RolloutModel {
    RolloutConfig::tiny()
        .with_n_steps_input(5)
        .with_seed(3)
        .init(&Device::Cpu)
        .unwrap()
}

fn window(seed: u64) -> Tensor {
    let n = 2 * 2 * 6 * 16 * 16;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i as f64 * 0.731 + seed as f64).sin() * 2.0 + 0.5) as f32)
        .collect();
    Tensor::from_vec(v, (2, 2, 6, 16, 16), &Device::Cpu).unwrap()
}

fn snapshot(vm: &VarMap) -> Vec<(String, Vec<f32>)> {
    let data = vm.data().lock().unwrap();
    let mut v: Vec<(String, Vec<f32>)> = data
        .iter()
        .map(|(n, var)| {
            (
                n.clone(),
                var.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn predict_and_rollout_shapes() {
    let m = tiny();
    let f = ActiveFields::first(2);
    let ctx = window(0).narrow(2, 0, 5).unwrap();
    assert_eq!(m.predict_next(&ctx, &f).unwrap().dims(), [2, 2, 1, 16, 16]);
    assert_eq!(m.rollout(&ctx, &f, 4).unwrap().dims(), [2, 2, 4, 16, 16]);
    // a context of the wrong length is a typed error
    let bad = window(0).narrow(2, 0, 4).unwrap();
    assert!(matches!(
        m.predict_next(&bad, &f),
        Err(phystok::Error::Shape { .. })
    ));
}

#[test]
fn gradients_reach_every_parameter() {
    let m = tiny();
    let loss = m
        .next_frame_loss(&window(1), &ActiveFields::first(2), Mode::Train)
        .unwrap();
    let grads = loss.backward().unwrap();
    let data = m.varmap().data().lock().unwrap();
    let mut missing = Vec::new();
    for (name, var) in data.iter() {
        // the tiny tokeniser has more fields than the batch; inactive head slices get zeros
        match grads.get(var.as_tensor()) {
            Some(g)
                if g.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
                    > 0.0 => {}
            _ => missing.push(name.clone()),
        }
    }
    assert!(missing.is_empty(), "no gradient for {missing:?}");
}

#[test]
fn mostly_frozen_keeps_the_tokeniser_core_bit_identical() {
    let m = tiny();
    let strategy = FreezeStrategy::MostlyFrozen;
    let names = strategy.trainable_names(m.varmap()).unwrap();
    assert!(names.iter().all(|n| strategy.is_trainable(n)));
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("tokeniser.encoder.head."))
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("tokeniser.decoder.bottleneck."))
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("tokeniser.encoder.levels."))
    );
    let before = snapshot(m.varmap());
    let mut opt = AdamWConfig::paper_rollout()
        .with_lr(1e-3)
        .build(m.varmap(), names.clone())
        .unwrap();
    for s in 0..3 {
        let loss = m
            .next_frame_loss(&window(s), &ActiveFields::first(2), Mode::Train)
            .unwrap();
        opt.backward_step(&loss).unwrap();
    }
    let after = snapshot(m.varmap());
    let (mut frozen, mut moved) = (0, 0);
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        if strategy.is_trainable(name) {
            moved += usize::from(a != b);
        } else {
            assert_eq!(a, b, "frozen {name} changed");
            frozen += 1;
        }
    }
    assert!(frozen > 0);
    assert_eq!(moved, names.len(), "every trainable variable moved");
}

#[test]
fn strategies_select_what_they_say() {
    let m = tiny();
    let vm = m.varmap();
    let all = FreezeStrategy::FullyTrainable.trainable_names(vm).unwrap();
    let frozen = FreezeStrategy::Frozen.trainable_names(vm).unwrap();
    assert!(frozen.iter().all(|n| n.starts_with("processor.")));
    assert_eq!(
        frozen.len(),
        all.iter().filter(|n| n.starts_with("processor.")).count()
    );
    let custom = FreezeStrategy::custom()
        .freeze("**")
        .train("tokeniser.decoder")
        .freeze("**.bias");
    let names = custom.trainable_names(vm).unwrap();
    assert!(
        !names.is_empty()
            && names
                .iter()
                .all(|n| n.starts_with("tokeniser.decoder.") && !n.ends_with(".bias"))
    );
    let none = FreezeStrategy::custom().freeze("**");
    assert!(matches!(none.trainable_names(vm), Err(Error::Empty { .. })));
    let typo = FreezeStrategy::custom().train("tokeniser.decoder.heads");
    assert!(matches!(
        typo.trainable_names(vm),
        Err(Error::Config(ConfigError::SelectorMatchesNothing { .. }))
    ));
    let table = m
        .param_table()
        .with_freeze(&FreezeStrategy::MostlyFrozen)
        .unwrap();
    let sizes: std::collections::HashMap<String, usize> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.clone(), v.elem_count()))
        .collect();
    assert_eq!(table.total(), sizes.values().sum::<usize>());
    let mostly = FreezeStrategy::MostlyFrozen.trainable_names(vm).unwrap();
    assert_eq!(
        table.trainable(),
        mostly.iter().map(|n| sizes[n]).sum::<usize>()
    );
    assert!(table.trainable() < table.total());
    assert!(table.to_html().contains("tokeniser"));
}

#[test]
fn paper_preset_counts_match_tables_2_and_3() {
    let m = RolloutConfig::paper().init(&Device::Cpu).unwrap();
    let t = m
        .param_table()
        .with_freeze(&FreezeStrategy::MostlyFrozen)
        .unwrap();
    let (tok_trainable, tok_total) = t.under("tokeniser");
    let (proc_trainable, proc_total) = t.under("processor");
    // Table 2: tokeniser 5 M, processor and projections 100 M, total 105 M
    assert_eq!(tok_total, 4_852_196);
    assert_eq!(proc_total, 99_572_090);
    assert_eq!(t.total(), 104_424_286);
    // Table 3: mostly frozen keeps the heads and bottlenecks trainable (the paper: 85 k, 2 %)
    assert_eq!(tok_trainable, 47_924);
    assert!((tok_trainable as f64 / tok_total as f64) < 0.02);
    assert_eq!(proc_trainable, proc_total);
    let full = m.param_table();
    assert_eq!(full.trainable(), full.total());
    assert!(full.rows().iter().all(|r| r.component != "other"));
}

#[test]
fn pretrained_tokeniser_loads_into_a_rollout_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = RolloutConfig::tiny();
    let tok = TokeniserConfig {
        seed: 99,
        ..cfg.tokeniser.clone()
    }
    .init(&Device::Cpu)
    .unwrap();
    let vm = tok.varmap().clone();
    Checkpoint::new(10)
        .with_weights(&vm)
        .unwrap()
        .save(dir.path())
        .unwrap();
    let m = tiny();
    let processor_before: Vec<_> = snapshot(m.varmap())
        .into_iter()
        .filter(|(n, _)| n.starts_with("processor."))
        .collect();
    let set = m.load_tokeniser(dir.path()).unwrap();
    assert_eq!(set.len(), snapshot(&vm).len());
    let pre = snapshot(&vm);
    let after = snapshot(m.varmap());
    for (name, v) in &pre {
        let got = &after
            .iter()
            .find(|(n, _)| *n == format!("tokeniser.{name}"))
            .unwrap()
            .1;
        assert_eq!(got, v, "{name}");
    }
    let processor_after: Vec<_> = after
        .into_iter()
        .filter(|(n, _)| n.starts_with("processor."))
        .collect();
    assert_eq!(processor_before, processor_after);
}

/// A tokeniser in memory (standalone, or inside another rollout model) copies into a
/// rollout model's `tokeniser.*` weights, leaving the processor alone; a tokeniser of
/// another architecture is refused before anything changes.
#[test]
fn a_tokeniser_in_memory_copies_into_a_rollout_model() {
    let m = tiny();
    let processor_before: Vec<_> = snapshot(m.varmap())
        .into_iter()
        .filter(|(n, _)| n.starts_with("processor."))
        .collect();
    let tok = TokeniserConfig {
        seed: 42,
        ..m.config().tokeniser.clone()
    }
    .init(&Device::Cpu)
    .unwrap();
    let set = m.copy_tokeniser(&tok).unwrap();
    assert_eq!(set.len(), snapshot(tok.varmap()).len());
    let after = snapshot(m.varmap());
    for (name, v) in snapshot(tok.varmap()) {
        let got = &after
            .iter()
            .find(|(n, _)| *n == format!("tokeniser.{name}"))
            .unwrap()
            .1;
        assert_eq!(got, &v, "{name}");
    }
    let processor_after: Vec<_> = after
        .iter()
        .filter(|(n, _)| n.starts_with("processor."))
        .cloned()
        .collect();
    assert_eq!(processor_before, processor_after);

    // from another rollout model's tokeniser (its weights sit under `tokeniser.`)
    let other = RolloutConfig::tiny()
        .with_n_steps_input(5)
        .with_seed(77)
        .init(&Device::Cpu)
        .unwrap();
    m.copy_tokeniser(other.tokeniser()).unwrap();
    let tok_of = |vm: &VarMap| -> Vec<(String, Vec<f32>)> {
        snapshot(vm)
            .into_iter()
            .filter(|(n, _)| n.starts_with("tokeniser."))
            .collect()
    };
    assert_eq!(tok_of(m.varmap()), tok_of(other.varmap()));

    let wider = TokeniserConfig::tiny()
        .with_channels([4, 8, 16])
        .init(&Device::Cpu)
        .unwrap();
    let before = snapshot(m.varmap());
    assert!(matches!(m.copy_tokeniser(&wider), Err(Error::Shape { .. })));
    assert_eq!(before, snapshot(m.varmap()), "nothing changed on refusal");
}

/// A clone is a handle on the same weights (what a notebook hands a trainer): changing the
/// clone's weights changes the original's, and both predict the same.
#[test]
fn a_clone_shares_the_weights() {
    let m = tiny();
    let alias = m.clone();
    let tok = TokeniserConfig {
        seed: 5,
        ..m.config().tokeniser.clone()
    }
    .init(&Device::Cpu)
    .unwrap();
    let before = snapshot(m.varmap());
    alias.copy_tokeniser(&tok).unwrap();
    assert_ne!(before, snapshot(m.varmap()));
    let ctx = window(2).narrow(2, 0, 5).unwrap();
    let f = ActiveFields::first(2);
    let a: Vec<f32> = m
        .predict_next(&ctx, &f)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = alias
        .predict_next(&ctx, &f)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn sampled_training_compression_draws_per_forward_and_evaluation_stays_fixed() {
    use phystok::model::TrainingCompression;
    let cfg = RolloutConfig::tiny()
        .with_n_steps_input(5)
        .with_training_compression(TrainingCompression::Sampled);
    assert_eq!(
        RolloutConfig::paper().training_compression,
        TrainingCompression::Sampled,
        "the paper samples during rollout training (Appendix C)"
    );
    let model = cfg.init(&Device::Cpu).unwrap();
    let fields = ActiveFields::first(2);
    let dims = [1, 2, 5, 16, 16];
    let all = model.tokeniser().config().all_compressions();
    let mut seen = Vec::new();
    for seed in 0..40 {
        model.tokeniser().reseed(seed);
        let c = model.compression_for(&dims, &fields, Mode::Train).unwrap();
        assert!(all.contains(&c), "{c:?} is one of the tokeniser's");
        if !seen.contains(&c) {
            seen.push(c);
        }
        assert_eq!(
            model.compression_for(&dims, &fields, Mode::Eval).unwrap(),
            cfg.compression
        );
    }
    assert!(seen.len() > 1, "draws vary: {seen:?}");
    // the same seed draws the same compression (the run stays reproducible)
    model.tokeniser().reseed(7);
    let a = model.compression_for(&dims, &fields, Mode::Train).unwrap();
    model.tokeniser().reseed(7);
    assert_eq!(
        model.compression_for(&dims, &fields, Mode::Train).unwrap(),
        a
    );
    // a training loss runs at every drawn compression and reaches the processor
    let ctx = Tensor::randn(0f32, 1.0, (1, 2, 6, 16, 16), &Device::Cpu).unwrap();
    for seed in 0..4 {
        model.tokeniser().reseed(seed);
        let loss = model.next_frame_loss(&ctx, &fields, Mode::Train).unwrap();
        assert!(loss.to_scalar::<f32>().unwrap().is_finite());
    }
    // fixed (the default): training runs at the model's compression
    let fixed = RolloutConfig::tiny()
        .with_n_steps_input(5)
        .init(&Device::Cpu)
        .unwrap();
    fixed.tokeniser().reseed(3);
    assert_eq!(
        fixed.compression_for(&dims, &fields, Mode::Train).unwrap(),
        fixed.config().compression
    );
}
