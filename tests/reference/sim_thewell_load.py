"""Loads phystok's generated default collection with the_well's own WellDataset.

Usage (after `phystok generate default --out DIR`, or sim::generate_default(DIR)):
    ~/.cache/phystok/the-well-venv/bin/python tests/reference/sim_thewell_load.py DIR

Checks that every dataset opens in every split with 9 input + 18 output frames and
normalisation from our stats.yaml, and prints the sample shapes and boundary codes.
"""

import sys

from the_well.data import WellDataset

NAMES = [
    "euler_multi_quadrants_periodicBC",
    "euler_multi_quadrants_openBC",
    "shear_flow",
    "rayleigh_benard",
    "gray_scott_reaction_diffusion",
]

root = sys.argv[1]
for name in NAMES:
    for split in ["train", "valid", "test"]:
        ds = WellDataset(
            well_base_path=root,
            well_dataset_name=name,
            well_split_name=split,
            n_steps_input=9,
            n_steps_output=18,
            use_normalization=True,
        )
        s = ds[len(ds) - 1]
        assert s["input_fields"].isfinite().all() and s["output_fields"].isfinite().all()
        if split == "train":
            print(name, len(ds), tuple(s["input_fields"].shape), tuple(s["output_fields"].shape),
                  s["boundary_conditions"].tolist())
print("ok")
