//! The functions under `cargo lambda watch`, as the run command starts them.

/// A running `cargo lambda watch`; killed when dropped.
pub struct LambdaWatch;
