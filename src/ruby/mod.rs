//! (module ruby)
