//! (module node)
