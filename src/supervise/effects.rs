//! The engine's hands (`Effects`): spawning a service's process (its
//! credentials, readiness channel, cgroup, sockets and log), signalling,
//! looking for what is left of a service, and announcing every change (the
//! log line, monitors and waiting requests, the channel, the status file).

use super::launch::{EnvBuf, Launch, credentials, raw, start};
use super::listeners::pass_sockets;
use super::parts::Vigild;
use super::pipes::make_log_dir;
use super::status_file::StatusFile;
use super::world::World;
use super::world::{cgroup_for, output_of};
use crate::sys::message::{note, say};
use crate::sys::process;
use crate::sys::spawn::FDS_MAX;
use core::cell::Cell;
use rustix::fd::AsFd;
use vigild_engine::config::{Config, DurationText, Mode};
use vigild_engine::fixed::{ArrayStr, Lossy, ServiceId, SliceWriter};
use vigild_engine::machine::{Effects, Reason, Slot, State, Supervisor};
use vigild_engine::status::{is_quiet, write_transition};
use vigild_engine::unix::{ErrnoName, Pid};

/// The engine's hands: spawning, signalling, announcing.
pub struct Fx<'a> {
    /// The configuration in force.
    pub cfg: &'a Config,
    /// What the effects use and change.
    pub world: &'a mut World,
    /// What they mark as changed.
    pub status: &'a mut StatusFile,
}

impl<'a> Fx<'a> {
    /// The engine and its hands, over `v`'s configuration in force.
    pub fn of(v: &'a mut Vigild) -> (&'a mut Supervisor, Fx<'a>) {
        let fx = Fx {
            cfg: v.configs.active(),
            world: &mut v.world,
            status: &mut v.status,
        };
        (&mut *v.engine, fx)
    }
}

impl Effects for Fx<'_> {
    fn spawn(&mut self, id: ServiceId) -> Result<Pid, u16> {
        let (cfg, world) = (self.cfg, &mut *self.world);
        let devnull = raw(world.devnull.as_fd());
        let creds = credentials(cfg, id)?;
        let name = Lossy(cfg.name(id));
        if let Some(creds) = &creds
            && cfg.is_logger(id)
        {
            make_log_dir(cfg, id, creds);
        }
        let channel = world.channels.open(cfg, id).map_err(|e| {
            let errno = e.raw_os_error() as u16;
            say!(
                "{name}: unable to open its readiness channel: {}",
                ErrnoName(errno)
            );
            errno
        })?;
        let mut buf = [0u8; 1024];
        let mut env = EnvBuf(SliceWriter::new(&mut buf));
        let mut ready_fd = None;
        if let Some(opened) = &channel {
            if opened.socket_path_len > 0 {
                let path = Lossy(&opened.socket_path[..opened.socket_path_len]);
                env.entry(format_args!("NOTIFY_SOCKET={path}"));
            }
            ready_fd = opened
                .pipe_end
                .as_ref()
                .map(|(fd, n)| (raw(fd.as_fd()), *n));
        }
        world.containment.look_again();
        let cgroup = cgroup_for(&world.containment, cfg, id);
        // Socket activation (and a pool's workers): the sockets as fds 3..
        // and systemd's variables.
        let mut fds = [0; FDS_MAX];
        let mut n = 0;
        let mut pid_entry = *b"LISTEN_PID=\0\0\0\0\0\0\0\0\0\0\0\0";
        let mut listen_pid = None;
        if matches!(cfg.spec(id).mode, Mode::Activate | Mode::Pool) {
            n = pass_sockets(&world.listeners, cfg, id, &mut fds, &mut env);
            listen_pid = Some(Cell::from_mut(&mut pid_entry[..]).as_slice_of_cells());
        }
        let launch = Launch {
            // Container mode's main service reads what vigild reads (tini's way).
            stdin: world
                .pipes
                .input_of(id)
                .map_or(if cfg.main() == Some(id) { 0 } else { devnull }, raw),
            conn: false,
            out: output_of(&world.pipes, &world.devnull, cfg, id),
            fds: fds.get(..n).unwrap_or_default(),
            env: env.0.bytes(),
            listen_pid,
            creds: creds.as_ref(),
            ready_fd,
            cgroup: cgroup.as_ref().map(|fd| raw(fd.as_fd())),
        };
        let pid = start(cfg, id, &launch);
        self.status.spawned |= pid.is_ok();
        if let Some(opened) = channel {
            world.channels.started(id, opened, pid.ok());
        }
        pid
    }

    fn kill(&mut self, pid: Pid, signal: u8, group: bool) {
        // ESRCH: it is already gone, and its exit is on the way.
        let _ = process::kill(pid.0, signal, group);
    }

    fn kill_all(&mut self, id: ServiceId, groups: &mut dyn Iterator<Item = Pid>, signal: u8) {
        self.world
            .containment
            .kill_all(self.cfg, id, groups, signal);
    }

    fn populated(&mut self, id: ServiceId, group: Option<Pid>) -> bool {
        self.world.containment.populated(self.cfg, id, group)
    }

    fn changed(&mut self, id: ServiceId, from: State, slot: &Slot) {
        // A quiet one is no transition: told to nobody (monitors get an
        // empty line, which they skip).
        let mut line = ArrayStr::<480>::new();
        if !is_quiet(from, slot) {
            let _ = write_transition(&mut *line, self.cfg, id, from, slot);
            note!("{line}");
        }
        if from.pid().is_some() && slot.stopping_what_a_clean_exit_left() {
            say!(
                "{}: its main process exited 0 and left processes running: stopping them (a daemon that forks into the background must be run in the foreground)",
                Lossy(self.cfg.name(id))
            );
        }
        if slot.reason == Reason::GaveUp && matches!(slot.state, State::Down) {
            let spec = self.cfg.spec(id);
            let (name, max) = (Lossy(self.cfg.name(id)), spec.restart_max);
            say!(
                "{name}: gave up: {max} failed runs within {} (restart_max = {max}, restart_window); `vigilctl start {name}` tries again",
                DurationText(spec.restart_window_ms.into()),
            );
        }
        self.world.replies.changed(id, line.as_str(), slot);
        self.world.channels.state_changed(self.cfg, id, slot.state);
        self.status.dirty = true;
    }
}
