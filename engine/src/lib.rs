//! vigild's engine: everything that decides, nothing that does.
//!
//! This crate is `no_std`, allocation-free and free of `unsafe`, and it has
//! no dependencies, so it cannot make a system call. The configuration
//! parser, the control-line parser, the status formats and the supervisor
//! state machine (`machine`) live here; the binary (`src/supervise/`)
//! feeds them events (exits, commands, the time) and performs what they ask
//! for (spawn, kill). That boundary is what lets the tests run every
//! timeline on a virtual clock (`engine/tests/`).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod accounts;
pub mod config;
pub mod control;
pub mod fixed;
pub mod ip;
pub mod limits;
pub mod log_rules;
pub mod machine;
pub mod sd_notify;
pub mod status;
pub mod time;
pub mod unix;
