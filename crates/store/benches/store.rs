//! Store benchmarks (placeholder).

fn main() {}
