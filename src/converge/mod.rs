//! (module converge)
