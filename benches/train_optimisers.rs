//! SOAP and AdamW step times on the paper tokeniser's parameters (4.85 M, Table 5 shapes),
//! CPU. Gradients are a fixed tensor per variable (the loss `Σ c ⊙ p`), so only the
//! optimiser is timed. Writes the shapes to `target/train_optimisers_shapes.json` for
//! `benches/train_optimisers.py`, which times the PyTorch SOAP re-statement and
//! `torch.optim.AdamW` on the same shapes. Run both with `bash benches/train_optimisers.sh`.

use std::time::Instant;

use candle_core::{Device, Tensor};
use phystok::optim::{AdamWConfig, Optimiser, SoapConfig, sorted_vars};
use phystok::tokeniser::TokeniserConfig;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> phystok::Result<()> {
    let dev = Device::Cpu;
    let tokeniser = TokeniserConfig::paper().init(&dev)?;
    let vm = tokeniser.varmap().clone();
    let vars = sorted_vars(&vm)?;
    let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    let shapes: Vec<Vec<usize>> = vars.iter().map(|(_, v)| v.dims().to_vec()).collect();
    let n_params: usize = vars.iter().map(|(_, v)| v.elem_count()).sum();
    let largest = shapes.iter().flatten().max().copied().unwrap_or(0);
    println!(
        "paper tokeniser: {} variables, {n_params} parameters, largest dimension {largest}",
        vars.len()
    );
    std::fs::create_dir_all("target").ok();
    std::fs::write(
        "target/train_optimisers_shapes.json",
        serde_json::to_string(&shapes)?,
    )
    .map_err(|e| phystok::Error::io("target/train_optimisers_shapes.json", e))?;

    // Loss Σ c ⊙ p with c fixed: backward gives c as every gradient.
    let coefficients: Vec<Tensor> = vars
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let n = v.elem_count();
            let c: Vec<f32> = (0..n)
                .map(|k| ((k * 7 + i * 13) as f32 * 0.001).sin())
                .collect();
            Tensor::from_vec(c, v.dims(), &dev)
        })
        .collect::<candle_core::Result<_>>()?;
    let loss = || -> phystok::Result<Tensor> {
        let mut total = Tensor::zeros((), candle_core::DType::F32, &dev)?;
        for ((_, v), c) in vars.iter().zip(&coefficients) {
            total = (total + (v.as_tensor() * c)?.sum_all()?)?;
        }
        Ok(total)
    };
    let grads = loss()?.backward()?;

    let mut adamw = AdamWConfig::paper_rollout().build(&vm, names.clone())?;
    adamw.step(&grads)?;
    let t: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            adamw.step(&grads).map(|_| s.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<phystok::Result<_>>()?;
    println!("adamw step: median {:.1} ms", median(t));

    let mut soap = SoapConfig::paper_tokeniser().build(&vm, names)?;
    let s = Instant::now();
    soap.step(&grads)?;
    println!(
        "soap first step (eigh of every GG_i): {:.1} ms",
        s.elapsed().as_secs_f64() * 1e3
    );
    let (mut plain, mut refresh) = (Vec::new(), Vec::new());
    for call in 1..=20 {
        let s = Instant::now();
        soap.step(&grads)?;
        let ms = s.elapsed().as_secs_f64() * 1e3;
        if call % 10 == 0 {
            refresh.push(ms)
        } else {
            plain.push(ms)
        }
    }
    println!(
        "soap step: median {:.1} ms; with QR refresh: median {:.1} ms",
        median(plain),
        median(refresh)
    );
    Ok(())
}
