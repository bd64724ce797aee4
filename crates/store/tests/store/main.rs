//! Integration tests of the store, built as one test binary: the public API
//! behaviour (`api`), the body files (`bodies`), a model-based property test (`model`), and the
//! SIGKILL crash test (`crash`).

mod api;
mod bodies;
mod crash;
mod model;
mod support;
