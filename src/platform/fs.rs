//! Files on the host: atomic writes, backups, metadata. Never a half-written file.
