//! Tests of ERB.
