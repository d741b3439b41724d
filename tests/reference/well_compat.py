"""Real-client check of phystok's Well files against The Well's Python package.

Run by tests/well_compat.sh. Modes:
  full DIR FILE_DUMP_CMD...  the-well's WellDataset loads phystok's formula dataset with the
                             same channel order and values, and phystok reads a file written by
                             the-well's own dummy-data writer with the same values.
  h5py DIR                   structure-only check of phystok's files with h5py (no the-well).
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np


def formula(f, traj, t, x, y, c):
    # float32 at every step, in the order of tests/common/mod.rs
    f32 = np.float32
    v = (f32(f) + f32(1.0)) * f32(100.0) + f32(traj) * f32(10.0)
    v = v + f32(t)
    v = v + f32(x) * f32(0.01)
    v = v + f32(y) * f32(0.0001)
    return v + f32(c) * f32(0.1)


# channel -> (field index, component) for density, velocity_{x,y}, D_{xx,xy,yx,yy}
CHANNELS = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (2, 3)]
NAMES = ["density", "velocity_x", "velocity_y", "D_xx", "D_xy", "D_yx", "D_yy"]


def check_structure(path):
    with h5py.File(path, "r") as f:
        for key in ["dataset_name", "grid_type", "n_spatial_dims", "n_trajectories", "simulation_parameters"]:
            assert key in f.attrs, f"missing root attribute {key}"
        assert f.attrs["grid_type"] == "cartesian"
        assert int(f.attrs["n_spatial_dims"]) == 2
        for p in f.attrs["simulation_parameters"]:
            assert p in f.attrs, f"parameter {p} has no attribute"
        assert list(f["dimensions"].attrs["spatial_dims"]) == ["x", "y"]
        assert f["dimensions"]["time"].dtype == np.float32
        for name in ["boundary_conditions", "scalars", "t0_fields", "t1_fields", "t2_fields"]:
            assert name in f, f"missing group {name}"
        for bc in f["boundary_conditions"].values():
            assert bc.attrs["bc_type"] in ("PERIODIC", "WALL", "OPEN")
            assert bc["mask"].dtype == bool
        n_traj, n_t = int(f.attrs["n_trajectories"]), f["dimensions"]["time"].shape[-1]
        nx, ny = f["dimensions"]["x"].shape[0], f["dimensions"]["y"].shape[0]
        for order, group in enumerate(["t0_fields", "t1_fields", "t2_fields"]):
            for name in f[group].attrs["field_names"]:
                ds = f[group][name]
                assert ds.dtype == np.float32
                assert ds.shape == (n_traj, n_t, nx, ny) + (2,) * order, (name, ds.shape)
                assert list(ds.attrs["dim_varying"]) == [True, True]
                assert ds.attrs["sample_varying"] and ds.attrs["time_varying"]
                assert ds.attrs["dim_varying"].dtype == bool
    print(f"h5py structure check passed: {path}")


def check_formula_dataset(root):
    from the_well.data import WellDataset

    ds = WellDataset(path=os.path.join(root, "formula"), well_split_name="train",
                     n_steps_input=2, n_steps_output=1, use_normalization=False)
    names = [n for group in ds.metadata.field_names.values() for n in group]
    assert names == NAMES, names
    # train: one file of 2 trajectories and 6 steps -> 2 * (6 - 3 + 1) windows
    assert len(ds) == 8, len(ds)
    for i in range(len(ds)):
        sample = ds[i]
        traj, t0 = divmod(i, 4)
        x = np.concatenate([sample["input_fields"].numpy(), sample["output_fields"].numpy()])
        assert x.shape == (3, 8, 4, 7), x.shape
        for k in range(3):
            for ch, (f, c) in enumerate(CHANNELS):
                want = np.array([[formula(f, traj, t0 + k, xx, yy, c) for yy in range(4)] for xx in range(8)],
                                dtype=np.float32)
                np.testing.assert_array_equal(x[k, :, :, ch], want)
    print(f"the-well WellDataset reads phystok's files: {len(ds)} windows, channels {names}")


def check_active_matter(root, dump_cmd):
    """the-well loads phystok's simulated active matter with its t2 channels (D, E) in the
    order phystok reads them, with the same values."""
    from the_well.data import WellDataset

    base = os.path.join(root, "active_matter")
    ds = WellDataset(path=base, well_split_name="train", n_steps_input=4, n_steps_output=1,
                     use_normalization=False)
    names = [n for group in ds.metadata.field_names.values() for n in group]
    path = os.path.join(base, "data", "train", sorted(os.listdir(os.path.join(base, "data", "train")))[0])
    ours = json.loads(subprocess.run(dump_cmd + [path], check=True, capture_output=True, text=True).stdout)
    assert names == ours["channels"], (names, ours["channels"])
    assert names[3:] == ["D_xx", "D_xy", "D_yx", "D_yy", "E_xx", "E_xy", "E_yx", "E_yy"], names
    sample = ds[0]
    x = np.concatenate([sample["input_fields"].numpy(), sample["output_fields"].numpy()])
    v = np.array(ours["values"], dtype=np.float32).reshape(5, 16, 16, 11)
    np.testing.assert_array_equal(v, x)
    print(f"the-well WellDataset reads phystok's active_matter: channels {names}")


def check_dummy_read(tmp, dump_cmd):
    from the_well.data import WellDataset
    from the_well.utils.dummy_data import write_dummy_data

    np.random.seed(0)
    base = os.path.join(tmp, "dummy")
    os.makedirs(os.path.join(base, "data", "train"), exist_ok=True)
    path = os.path.join(base, "data", "train", "dummy.hdf5")
    write_dummy_data(path)
    ds = WellDataset(path=base, well_split_name="train", n_steps_input=9, n_steps_output=1,
                     use_normalization=False)
    sample = ds[0]  # trajectory 0, frames 0..9
    x = np.concatenate([sample["input_fields"].numpy(), sample["output_fields"].numpy()])
    const = sample["constant_fields"].numpy()
    ours = json.loads(subprocess.run(dump_cmd + [path], check=True, capture_output=True, text=True).stdout)
    # the-well splits constant fields off; phystok keeps them as channels in file order
    assert ours["channels"] == ["constant_field", "field_x", "field_y"], ours["channels"]
    v = np.array(ours["values"], dtype=np.float32).reshape(10, 32, 32, 3)
    np.testing.assert_array_equal(v[..., 1:], x)
    for t in range(10):
        np.testing.assert_array_equal(v[t, :, :, 0], const[:, :, 0])
    print("phystok reads the-well's dummy file with the same values")


if __name__ == "__main__":
    mode, root = sys.argv[1], sys.argv[2]
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".hdf5") and "dummy" not in dirpath:
                check_structure(os.path.join(dirpath, name))
    if mode == "full":
        check_formula_dataset(root)
        check_active_matter(root, sys.argv[3:])
        check_dummy_read(root, sys.argv[3:])
