//! Helper for `tests/well_compat.sh`, the real-client check against The Well's Python package.
//!
//! `well_compat write DIR`: writes the formula dataset of `tests/common` (every value known
//! in closed form) as `DIR/formula/`, and a small simulated `DIR/active_matter/` (tensor
//! fields).
//! `well_compat dump FILE`: prints, as JSON, the channel names and all values of
//! trajectory 0 that phystok reads from a Well file, as `(time, *spatial, channels)`.

use std::path::PathBuf;

#[path = "../tests/common/mod.rs"]
mod common;

use phystok::data::{Split, WellReader, write_dataset};
use phystok::sim::{GenerateConfig, System};

fn main() -> phystok::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("write") => {
            let dir = PathBuf::from(&args[2]);
            let a = common::formula_file(2, 6, 8, 4);
            let b = common::formula_file(1, 6, 8, 4);
            write_dataset(&dir, "formula", &[(Split::Train, &a), (Split::Valid, &b)])?;
            GenerateConfig::new(System::ActiveMatter, &dir)
                .with_resolution(16)
                .with_trajectories(3)
                .with_steps(5)
                .generate()?;
        }
        Some("dump") => {
            let r = WellReader::open(&args[2])?;
            let h = r.header();
            let (n_t, frame) = (h.n_steps(), h.frame_len());
            let c = r.channel_count();
            let mut out = vec![0.0; c * n_t * frame];
            r.read_window_into(0, 0, n_t, 1, &mut out)?;
            // (channels, time, space) -> (time, space, channels), as the-well returns samples
            let mut tsc = vec![0.0f32; out.len()];
            for ch in 0..c {
                for tp in 0..n_t * frame {
                    tsc[tp * c + ch] = out[ch * n_t * frame + tp];
                }
            }
            let json = serde_json::json!({ "channels": h.channel_names(), "values": tsc });
            println!("{json}");
        }
        _ => eprintln!("usage: well_compat write DIR | dump FILE"),
    }
    Ok(())
}
