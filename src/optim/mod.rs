//! Model-agnostic optimisation: optimisers (SOAP, AdamW) over named `VarMap` variables,
//! gradient clipping and learning-rate schedules (paper Sections 2.3 and 2.5, Appendix C,
//! Table 6, equations 7–10). Nothing here knows which model it trains.

mod adamw;
mod clip;
mod linalg;
mod optimiser;
mod schedule;
mod soap;
mod soap_basis;
mod soap_state;

pub use adamw::{AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, global_grad_norm};
pub use optimiser::{
    GradClip, Optimiser, OptimiserKind, OptimiserState, ParamGroup, StepStats, sorted_vars,
};
pub use schedule::{LrSchedule, ScheduleConfig, ScheduleKind, Stepping};
pub use soap::{
    BiasCorrection, DimMerging, OneDimPreconditioning, Soap, SoapConfig, UpdateNormalisation,
};
