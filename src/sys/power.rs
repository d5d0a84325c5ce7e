//! How PID 1 ends the machine: Ctrl-Alt-Del as a signal, TERM and KILL to
//! every process, sync, reboot(2).

use super::Errno;
use rustix::system::RebootCommand;

/// How the machine ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Poweroff,
    Reboot,
    Halt,
    /// `switch_root`: into the new root, its init in vigild's place.
    SwitchRoot,
}

impl Action {
    /// The word `finish` gets as its argument.
    #[inline(never)]
    pub fn word(self) -> &'static str {
        match self {
            Action::Poweroff => "poweroff",
            Action::Reboot => "reboot",
            Action::Halt => "halt",
            Action::SwitchRoot => "switch_root",
        }
    }
}

/// Let Ctrl-Alt-Del send SIGINT to PID 1 instead of rebooting at once.
pub fn ctrl_alt_del_as_signal() {
    let _ = rustix::system::reboot(RebootCommand::CadOff);
}

/// `kill(-1, signal)`: every process but vigild itself (and init).
pub fn kill_every_process(signal: u8) {
    let _ = super::process::kill(-1, signal, false);
}

/// True while vigild has a child, ended or not (nothing is reaped).
pub fn has_children() -> bool {
    // SAFETY: waitid writes only into `info`, a local of the right type.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    // SAFETY: as above; WNOWAIT leaves every child as it is.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    r == 0
}

/// Flush every file system's dirty data to disk.
pub fn sync() {
    rustix::fs::sync();
}

/// Power off, reboot or halt. Returns only if the kernel refused (a
/// container without CAP_SYS_BOOT); in a PID namespace the kernel ends
/// the namespace's init instead, which is the container's end.
pub fn reboot(action: Action) -> Errno {
    let cmd = match action {
        Action::Poweroff => RebootCommand::PowerOff,
        Action::Reboot => RebootCommand::Restart,
        Action::Halt | Action::SwitchRoot => RebootCommand::Halt,
    };
    match rustix::system::reboot(cmd) {
        Ok(()) => Errno::INVAL,
        Err(e) => e,
    }
}
