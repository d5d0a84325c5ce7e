//! A reload (SIGHUP, `vigilctl reload`): the configuration read again and
//! adopted only if it has no error, its sockets and pipes prepared before
//! anything changes; services follow by name (vigild.conf(5) RELOAD).

use super::answers::send;
use super::configs::{in_force, print_errors, print_warnings};
use super::effects::Fx;
use super::parts::Vigild;
use super::status_file::write_then_answer;
use crate::sys::message::{note, say};
use rustix::fd::BorrowedFd;
use vigild_engine::fixed::{Lossy, Plain};
use vigild_engine::time::Instant;
use vigild_engine::unix::ErrnoName;

/// Say one line of a configuration's errors or warnings (start-up's too).
/// Every caller hands it, or a closure that calls it, to their printers
/// as `&mut dyn FnMut(&str)`: each printer is compiled once, not once per
/// closure (cold code, where the call through a pointer costs nothing).
pub fn say_line(line: &str) {
    say!("{}", Plain(line));
}

/// Re-read the configuration; adopt it only if it has no error.
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn reload(v: &mut Vigild, now: Instant, reply: Option<BorrowedFd<'_>>) {
    if v.engine.is_halting() {
        if let Some(fd) = reply {
            send(fd, format_args!("in-shutdown vigild"));
        }
        return;
    }
    let world = &mut v.world;
    let mut next = None;
    let mut pipes = None;
    let path = v.configs.source.path;
    {
        let (old, new, errors) = v.configs.load_spare();
        if errors.is_empty() && v.engine.carry_removed(old, new).is_err() {
            errors.push(
                0,
                format_args!("too many services while removed ones are still stopping"),
            );
        }
        // The pipes first: on failure they leave nothing behind (new
        // listeners may have made socket files).
        if errors.is_empty() {
            match world.pipes.prepare(Some(old), new) {
                Ok(p) => pipes = Some(p),
                Err(e) => errors.push(
                    0,
                    format_args!(
                        "unable to make the log pipes: {}",
                        ErrnoName(e.raw_os_error() as u16)
                    ),
                ),
            }
        }
        if errors.is_empty() {
            next = world.listeners.prepare(Some(old), new, errors);
        }
    }
    let errors = &*v.configs.errors;
    print_warnings(path, errors, &mut say_line as &mut dyn FnMut(&str));
    if !errors.is_empty() {
        say!("reload failed, keeping the running configuration:");
        let each = &mut |line: &str| {
            say_line(line);
            if let Some(fd) = reply {
                send(fd, format_args!("reload-failed vigild {}", Plain(line)));
            }
        };
        print_errors(path, errors, each as &mut dyn FnMut(&str));
        return;
    }
    // Requests resolved this turn are answered under their old names
    // first (the status file is brought up to date for them).
    if world.replies.has_outcomes() {
        write_then_answer(&mut v.status, v.configs.active(), v.engine, world, false);
    }
    world.worker_setup = None;
    let (old, new) = v.configs.both();
    if let Some(next) = next {
        world.listeners.commit(Some(old), next, new);
    }
    if let Some(pipes) = pipes {
        world.pipes = pipes;
    }
    // Waiting requests name services by id: move them to the new ids
    // before the engine announces changes in those ids.
    world.replies.remap(|id| new.find(old.name(id)));
    world.channels.renumber(old, new);
    let mut fx = Fx {
        cfg: new,
        world,
        status: &mut v.status,
    };
    v.engine.reload(old, new, now, &mut fx);
    v.configs.flip();
    in_force(v.configs.active());
    write_then_answer(
        &mut v.status,
        v.configs.active(),
        v.engine,
        &mut v.world,
        true,
    );
    note!("reloaded {}", Lossy(path));
    if let Some(fd) = reply {
        send(fd, format_args!("reloaded vigild"));
    }
}
