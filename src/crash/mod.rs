//! Crash states: what a power cut at any point of a writer's trace could
//! leave on disk, and whether the target survives it.

pub mod enumerate;
pub mod model;
pub mod ops;
