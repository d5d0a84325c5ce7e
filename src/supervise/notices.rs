//! What services say on their readiness channels (vigild.conf(5) `ready`): READY=1,
//! STOPPING=1, STATUS=, a pool's AVAILABLE= on a notify socket, a newline
//! on an s6-style pipe; believed only from the service's own processes.

use super::effects::Fx;
use super::parts::Vigild;
use super::readiness::NOTICE_MAX;
use crate::sys::{notify, process};
use vigild_engine::config::Mode;
use vigild_engine::sd_notify::{Notice, notices};
use vigild_engine::time::Instant;
use vigild_engine::unix::Pid;

/// Datagrams read from one notify socket per loop turn.
const NOTICES_PER_TURN: usize = 16;

/// How many generations up a notification may come from.
const OWNER_DEPTH: usize = 8;

/// Channel `i` has something to read: at most `NOTICES_PER_TURN`
/// datagrams, so a flood cannot starve the loop.
// Not inlined into the hot caller: cold code, as all of this file.
#[inline(never)]
pub fn on_channel(v: &mut Vigild, i: usize, now: Instant) {
    // Lent out while the channel is read (that needs all of `v`).
    if let Some(buf) = v.world.notice.take() {
        read_channel(v, i, now, buf);
        v.world.notice = Some(buf);
    }
}

fn read_channel(v: &mut Vigild, i: usize, now: Instant, buf: &mut [u8; NOTICE_MAX]) {
    for _ in 0..NOTICES_PER_TURN {
        let Some(c) = v.world.channels.get(i) else {
            return;
        };
        let (id, pid) = (c.service, c.pid);
        if !c.notify {
            // s6 style: the first newline means ready; then the pipe
            // has done its job.
            match notify::read_pipe(c.fd(), &mut *buf) {
                None => return,
                Some(n) if buf[..n].contains(&b'\n') => {
                    let (engine, mut fx) = Fx::of(v);
                    engine.ready(fx.cfg, id, pid, now, &mut fx);
                }
                Some(0) => {}
                Some(_) => continue,
            }
            return v.world.channels.close_at(i);
        }
        let Some((len, sender, passed)) = notify::receive(c.fd(), &mut *buf) else {
            return;
        };
        let cfg = v.configs.active();
        let pool = cfg.spec(id).mode == Mode::Pool;
        // A pool's socket takes any of its workers (and their children).
        let is_sender = |p: i32| match pool {
            true => v.engine.pool_of(cfg, Pid(p)) == Some(id),
            false => p == pid.0,
        };
        let from = ancestor(sender, is_sender);
        drop(passed);
        let Some(from) = from else {
            continue;
        };
        for notice in notices(&buf[..len]) {
            let (engine, mut fx) = Fx::of(v);
            let cfg = fx.cfg;
            match notice {
                Notice::Ready if !pool => {
                    engine.ready(cfg, id, pid, now, &mut fx);
                }
                Notice::Stopping if !pool => engine.stopping_itself(cfg, id, pid, now, &mut fx),
                Notice::Status(text) => {
                    fx.world.channels.set_status(i, text);
                    fx.status.texts_changed = true;
                }
                Notice::Available(n) if pool => {
                    engine.available(cfg, id, Pid(from), n, now, &mut fx)
                }
                Notice::Ready | Notice::Stopping | Notice::Available(_) => {}
            }
        }
    }
}

/// The first of `sender` and its ancestors that `is_sender` accepts (a
/// daemon may notify from a worker). Each step reads `/proc`; the walk
/// stops at a bounded depth, at init, and at vigild itself (an orphan
/// vigild adopted is no service's descendant, nor are vigild's parents).
fn ancestor(sender: i32, is_sender: impl Fn(i32) -> bool) -> Option<i32> {
    let me = process::getpid();
    let mut at = sender;
    for _ in 0..OWNER_DEPTH {
        if is_sender(at) {
            return Some(at);
        }
        match notify::parent_of(at) {
            Some(parent) if parent > 1 && parent != me => at = parent,
            _ => return None,
        }
    }
    None
}
