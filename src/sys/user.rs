//! Looking up the `user` and `group` of a service in `/etc/passwd` and
//! `/etc/group` (read here, parsed by `vigild_engine::accounts`).

use super::Errno;
use super::fs::each_line;
use core::ops::ControlFlow;
use vigild_engine::accounts::{group_line, numeric_id, user_line};
use vigild_engine::fixed::without_nul;

/// Supplementary groups a service may get.
pub const GROUPS_MAX: usize = 64;

/// The identity a service runs as.
#[derive(Clone, Copy)]
pub struct Creds {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: [u32; GROUPS_MAX],
    /// How many of `groups` are set.
    pub ngroups: usize,
}

/// Resolve `user` (name or number, NUL-terminated, may be empty) and `group`
/// (likewise) to the credentials to run with. With only `group`, the uid stays
/// vigild's own. A user's supplementary groups are the groups that list it.
pub fn lookup(user: &[u8], group: &[u8]) -> Result<Creds, Errno> {
    let (user, group) = (without_nul(user), without_nul(group));
    let mut creds = Creds {
        uid: rustix::process::getuid().as_raw(),
        gid: rustix::process::getgid().as_raw(),
        groups: [0; GROUPS_MAX],
        ngroups: 0,
    };
    if !user.is_empty() {
        let mut found = None;
        each_line(b"/etc/passwd", &mut |line| match user_line(line) {
            Some(u) if u.name == user => {
                found = Some((u.uid, u.gid));
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        })?;
        match found {
            Some(ids) => {
                (creds.uid, creds.gid) = ids;
                creds.groups[0] = creds.gid;
                creds.ngroups = 1;
                each_line(b"/etc/group", &mut |line| {
                    if let Some(g) = group_line(line)
                        && g.has_member(user)
                        && !creds.groups[..creds.ngroups].contains(&g.gid)
                        && creds.ngroups < GROUPS_MAX
                    {
                        creds.groups[creds.ngroups] = g.gid;
                        creds.ngroups += 1;
                    }
                    ControlFlow::Continue(())
                })?;
            }
            None => {
                let uid = numeric_id(user).ok_or(Errno::NOENT)?;
                (creds.uid, creds.gid) = (uid, uid);
            }
        }
    }
    if !group.is_empty() {
        creds.gid = group_id(group)?;
    }
    if creds.ngroups == 0 {
        creds.groups[0] = creds.gid;
        creds.ngroups = 1;
    }
    Ok(creds)
}

fn group_id(group: &[u8]) -> Result<u32, Errno> {
    let mut found = None;
    each_line(b"/etc/group", &mut |line| match group_line(line) {
        Some(g) if g.name == group => {
            found = Some(g.gid);
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })?;
    found.or_else(|| numeric_id(group)).ok_or(Errno::NOENT)
}
