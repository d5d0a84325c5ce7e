//! What the running supervisor owns, in parts that are lent out one by
//! one: the configurations, the engine (the state machine), the world it
//! acts on, the status file, the control FIFO, and how this vigild runs.

use super::configs::Configs;
use super::control_fifo::Control;
use super::reexec::{BINARY_MAX, Resumed};
use super::role::Role;
use super::status_file::StatusFile;
use super::world::World;
use crate::sys::args::Args;
use vigild_engine::fixed::ArrayStr;
use vigild_engine::machine::Supervisor;

/// The running supervisor.
pub struct Vigild {
    /// The configuration in force, the spare a reload parses into, and
    /// where they come from.
    pub configs: Configs,
    /// The state machine.
    pub engine: &'static mut Supervisor,
    /// What vigild holds open for its services.
    pub world: World,
    /// The status file.
    pub status: StatusFile,
    /// The control FIFO.
    pub control: Control,
    /// PID 1, daemon mode, `-d FD`.
    pub role: Role,
    /// The command line (a re-exec passes it on).
    pub args: Args,
    /// The binary this vigild was started from: what `reexec` executes
    /// when not told which.
    pub binary: ArrayStr<BINARY_MAX>,
    /// Set when this image resumed from a re-exec's hand-off, until its
    /// first turn.
    pub resumed: Option<Resumed>,
}
