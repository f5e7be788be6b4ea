//! (module repo)
