//! The Well's HDF5 file format, in memory.
//!
//! A [`WellFile`] holds one file of a Well dataset: root attributes, the `dimensions`
//! group (time and coordinates), `boundary_conditions`, `scalars`, and the fields of
//! `t0_fields`, `t1_fields` and `t2_fields`. Field data is kept fully tiled as
//! `(n_trajectories, n_steps, *spatial, [D, [D]])`, whatever axes the file omits.
//!
//! ```text
//! file.hdf5
//! ├── attrs: dataset_name, grid_type, n_spatial_dims, n_trajectories,
//! │          simulation_parameters, <one attr per parameter>
//! ├── dimensions/          attrs: spatial_dims = ["x", "y"]
//! │   ├── time   (T)                      f32
//! │   ├── x      (W_x) attrs: sample_varying, time_varying
//! │   └── y      (W_y)
//! ├── boundary_conditions/
//! │   └── x_periodic/      attrs: associated_dims, associated_fields, bc_type,
//! │       ├── mask (N_x) bool              sample_varying, time_varying
//! │       └── values
//! ├── scalars/             attrs: field_names
//! ├── t0_fields/           attrs: field_names; density (B, T, X, Y)
//! ├── t1_fields/           attrs: field_names; velocity (B, T, X, Y, 2)
//! └── t2_fields/           attrs: field_names; D (B, T, X, Y, 2, 2)
//! ```

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Tensor order of a field: which `t{0,1,2}_fields` group it lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TensorOrder {
    /// One component (`t0_fields`).
    Scalar,
    /// `D` components, `{name}_x, {name}_y` (`t1_fields`).
    Vector,
    /// `D × D` components, `{name}_xx, {name}_xy, …` (`t2_fields`).
    Tensor,
}

impl TensorOrder {
    /// 0, 1 or 2.
    pub fn rank(self) -> usize {
        match self {
            TensorOrder::Scalar => 0,
            TensorOrder::Vector => 1,
            TensorOrder::Tensor => 2,
        }
    }

    /// The HDF5 group that holds fields of this order.
    pub fn group(self) -> &'static str {
        match self {
            TensorOrder::Scalar => "t0_fields",
            TensorOrder::Vector => "t1_fields",
            TensorOrder::Tensor => "t2_fields",
        }
    }

    /// Number of components for `n_dims` spatial dimensions: `n_dims ^ rank`.
    pub fn n_components(self, n_dims: usize) -> usize {
        n_dims.pow(self.rank() as u32)
    }
}

/// Grid geometry (root attribute `grid_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GridType {
    /// A uniform Cartesian grid (`"cartesian"`).
    #[default]
    Cartesian,
    /// A spherical grid (`"spherical"`).
    Spherical,
}

/// Boundary condition type, with The Well's integer codes (`WALL=0, OPEN=1, PERIODIC=2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoundaryType {
    /// A wall (code 0).
    Wall = 0,
    /// Open / outflow (code 1).
    Open = 1,
    /// Periodic (code 2).
    Periodic = 2,
}

/// One entry of the `boundary_conditions` group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundaryCondition {
    /// Subgroup name, e.g. `x_periodic`.
    pub name: String,
    /// Spatial dims it applies to, e.g. `["x"]`.
    pub associated_dims: Vec<String>,
    /// Fields it applies to (often empty, meaning all).
    pub associated_fields: Vec<String>,
    /// Its type.
    pub bc_type: BoundaryType,
    /// Whether it varies across trajectories.
    pub sample_varying: bool,
    /// Whether it varies in time.
    pub time_varying: bool,
    /// Which grid points along the associated dim lie on the boundary.
    pub mask: Vec<bool>,
    /// Boundary values (empty for periodic).
    pub values: Vec<f32>,
}

/// One field: name, order, flags, and data tiled to `(n_traj, n_steps, *spatial, [D, [D]])`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldData {
    /// Field name (`density`, `velocity`, `D`).
    pub name: String,
    /// Tensor order.
    pub order: TensorOrder,
    /// Whether the field changes in time (fields that do not are constant fields).
    pub time_varying: bool,
    /// Whether the field differs across trajectories.
    pub sample_varying: bool,
    /// Per spatial dim, whether the field varies along it.
    pub dim_varying: Vec<bool>,
    /// Row-major values of the full tiled shape.
    pub data: Vec<f32>,
}

/// One entry of the `scalars` group, tiled to `(n_traj, n_steps)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarData {
    /// Scalar name.
    pub name: String,
    /// Whether it changes in time.
    pub time_varying: bool,
    /// Whether it differs across trajectories.
    pub sample_varying: bool,
    /// Row-major `(n_traj, n_steps)` values.
    pub data: Vec<f32>,
}

/// One Well-format file, in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct WellFile {
    /// Root attribute `dataset_name`.
    pub dataset_name: String,
    /// Root attribute `grid_type`.
    pub grid_type: GridType,
    /// Names of the spatial dims (`["x", "y"]`).
    pub spatial_dims: Vec<String>,
    /// Grid points per spatial dim.
    pub spatial_shape: Vec<usize>,
    /// Number of trajectories (root attribute `n_trajectories`).
    pub n_trajectories: usize,
    /// Simulation parameters in order, with their values (root attributes).
    pub parameters: Vec<(String, f64)>,
    /// Output times, `n_steps` of them.
    pub time: Vec<f32>,
    /// Coordinates per spatial dim.
    pub coords: Vec<Vec<f32>>,
    /// Boundary conditions.
    pub boundary_conditions: Vec<BoundaryCondition>,
    /// Scalars.
    pub scalars: Vec<ScalarData>,
    /// Fields, in file order within each tensor order.
    pub fields: Vec<FieldData>,
}

impl WellFile {
    /// An empty file description: no fields, scalars or boundary conditions yet.
    ///
    /// Coordinates default to cell centres on the unit interval per dim; set
    /// [`WellFile::coords`] to override.
    pub fn new(
        dataset_name: impl Into<String>,
        spatial_dims: &[&str],
        spatial_shape: &[usize],
        n_trajectories: usize,
        time: Vec<f32>,
    ) -> Result<Self> {
        if spatial_dims.len() != spatial_shape.len() {
            return Err(Error::Shape {
                what: "spatial dims vs spatial shape".into(),
                left: vec![spatial_dims.len()],
                right: vec![spatial_shape.len()],
            });
        }
        if spatial_shape.contains(&0) || spatial_shape.is_empty() {
            return Err(Error::Empty {
                what: "spatial shape".into(),
            });
        }
        let coords = spatial_shape
            .iter()
            .map(|&n| (0..n).map(|i| (i as f32 + 0.5) / n as f32).collect())
            .collect();
        Ok(WellFile {
            dataset_name: dataset_name.into(),
            grid_type: GridType::Cartesian,
            spatial_dims: spatial_dims.iter().map(|s| s.to_string()).collect(),
            spatial_shape: spatial_shape.to_vec(),
            n_trajectories,
            parameters: Vec::new(),
            time,
            coords,
            boundary_conditions: Vec::new(),
            scalars: Vec::new(),
            fields: Vec::new(),
        })
    }

    /// Number of output time steps.
    pub fn n_steps(&self) -> usize {
        self.time.len()
    }

    /// Number of spatial dims.
    pub fn n_spatial_dims(&self) -> usize {
        self.spatial_dims.len()
    }

    /// Number of values in one frame of one scalar component (`∏ spatial_shape`).
    pub fn frame_len(&self) -> usize {
        self.spatial_shape.iter().product()
    }

    /// Expected length of a fully tiled field of this order.
    pub fn field_len(&self, order: TensorOrder) -> usize {
        self.n_trajectories
            * self.n_steps()
            * self.frame_len()
            * order.n_components(self.n_spatial_dims())
    }

    /// Adds a time- and sample-varying field of full shape
    /// `(n_traj, n_steps, *spatial, [D, [D]])`, checking its length.
    pub fn push_field(
        &mut self,
        name: impl Into<String>,
        order: TensorOrder,
        data: Vec<f32>,
    ) -> Result<&mut Self> {
        let name = name.into();
        let want = self.field_len(order);
        if data.len() != want {
            return Err(Error::Shape {
                what: format!("field {name}"),
                left: vec![data.len()],
                right: vec![want],
            });
        }
        self.fields.push(FieldData {
            name,
            order,
            time_varying: true,
            sample_varying: true,
            dim_varying: vec![true; self.n_spatial_dims()],
            data,
        });
        Ok(self)
    }

    /// Adds a simulation parameter (a root attribute listed in `simulation_parameters`).
    pub fn push_parameter(&mut self, name: impl Into<String>, value: f64) -> &mut Self {
        self.parameters.push((name.into(), value));
        self
    }

    /// Adds a boundary condition of `bc_type` on both ends of spatial dim `dim`.
    pub fn push_boundary(&mut self, dim: usize, bc_type: BoundaryType) -> Result<&mut Self> {
        let n = *self
            .spatial_shape
            .get(dim)
            .ok_or_else(|| Error::OutOfRange {
                what: "spatial dim of boundary condition".into(),
                index: dim,
                len: self.spatial_shape.len(),
            })?;
        let dim_name = self.spatial_dims[dim].clone();
        let kind = match bc_type {
            BoundaryType::Wall => "wall",
            BoundaryType::Open => "open",
            BoundaryType::Periodic => "periodic",
        };
        let mut mask = vec![false; n];
        mask[0] = true;
        mask[n - 1] = true;
        self.boundary_conditions.push(BoundaryCondition {
            name: format!("{dim_name}_{kind}"),
            associated_dims: vec![dim_name],
            associated_fields: Vec::new(),
            bc_type,
            sample_varying: false,
            time_varying: false,
            mask,
            values: Vec::new(),
        });
        Ok(self)
    }

    /// Fields in channel order: t0, then t1, then t2, each in the order pushed.
    pub fn fields_in_channel_order(&self) -> Vec<&FieldData> {
        let mut fields: Vec<&FieldData> = self.fields.iter().collect();
        fields.sort_by_key(|f| f.order); // stable: keeps file order within a group
        fields
    }

    /// For each channel (in channel order), the index of its field in
    /// [`WellFile::fields_in_channel_order`].
    pub fn field_of_channel(&self) -> Vec<usize> {
        let n = self.n_spatial_dims();
        self.fields_in_channel_order()
            .iter()
            .enumerate()
            .flat_map(|(i, f)| std::iter::repeat_n(i, f.order.n_components(n)))
            .collect()
    }

    /// Channel names in The Well's order (`density, …, velocity_x, velocity_y, D_xx, …`).
    pub fn channel_names(&self) -> Vec<String> {
        let fields = self.fields_in_channel_order();
        fields
            .iter()
            .flat_map(|f| component_names(&f.name, f.order, &self.spatial_dims))
            .collect()
    }
}

/// Component channel names of one field: `{name}` for scalars; `{name}_{d}` for each dim
/// of a vector; `{name}_{d1}{d2}` in `itertools.product(dims, repeat=2)` order for tensors.
pub fn component_names(name: &str, order: TensorOrder, dims: &[String]) -> Vec<String> {
    match order {
        TensorOrder::Scalar => vec![name.to_string()],
        TensorOrder::Vector => dims.iter().map(|d| format!("{name}_{d}")).collect(),
        TensorOrder::Tensor => dims
            .iter()
            .flat_map(|a| dims.iter().map(move |b| format!("{name}_{a}{b}")))
            .collect(),
    }
}
