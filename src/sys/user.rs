//! Looking up the `user` and `group` of a service in `/etc/passwd` and
//! `/etc/group` (read here, parsed by `vigild_engine::accounts`).

use super::Errno;
use super::fs::open_read;
use super::spawn::{Creds, GROUPS_MAX};
use core::ops::ControlFlow;
use rustix::fd::{AsFd, BorrowedFd};
use vigild_engine::accounts::{group_line, numeric_id, user_line};
use vigild_engine::fixed::without_nul;

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

/// Call `each` on every line of the file at `path` until
/// it breaks. A missing file has no lines; lines longer than the buffer are
/// skipped whole.
pub(super) fn each_line(
    path: &[u8],
    each: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<(), Errno> {
    match open_read(path) {
        Ok(fd) => each_line_of(fd.as_fd(), each),
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `each_line` on the open file `fd`.
// Several callers: one copy (a `dyn` callback: a generic one would be
// copied for each, and the binary has a size budget).
#[inline(never)]
pub(super) fn each_line_of(
    fd: BorrowedFd<'_>,
    each: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<(), Errno> {
    let mut buf = [0u8; 2048];
    let (mut len, mut skipping) = (0, false);
    loop {
        let n = match rustix::io::read(fd, &mut buf[len..]) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        let end = len + n;
        let mut start = 0;
        while let Some(nl) = buf[start..end].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + nl];
            start += nl + 1;
            if !core::mem::take(&mut skipping) && each(line).is_break() {
                return Ok(());
            }
        }
        if n == 0 {
            // The last line may lack its newline.
            if !skipping && start < end {
                let _ = each(&buf[start..end]);
            }
            return Ok(());
        }
        if start == 0 && end == buf.len() {
            (len, skipping) = (0, true);
        } else {
            buf.copy_within(start..end, 0);
            len = end - start;
        }
    }
}
