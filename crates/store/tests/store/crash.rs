//! The crash test (filled in below).
