//! Looking up the `user` and `group` of a service in the passwd and group
//! databases (libc's reentrant calls into buffers on our stack).

use super::Errno;
use super::spawn::{Creds, GROUPS_MAX};
use vigild::event::parse_u64;

/// Resolve `user` (name or number, NUL-terminated, may be empty) and `group`
/// (likewise) to the credentials to run with. With only `group`, the uid stays
/// vigild's own.
pub fn lookup(user: &[u8], group: &[u8]) -> Result<Creds, Errno> {
    let mut creds = Creds {
        uid: 0,
        gid: 0,
        groups: [0; GROUPS_MAX],
        ngroups: 0,
    };
    creds.uid = rustix::process::getuid().as_raw();
    creds.gid = rustix::process::getgid().as_raw();
    if !is_empty(user) {
        let mut buf = [0 as libc::c_char; 4096];
        // SAFETY: a zeroed passwd is valid plain data for getpwnam_r to fill.
        let mut pw: libc::passwd = unsafe { core::mem::zeroed() };
        let mut found: *mut libc::passwd = core::ptr::null_mut();
        // SAFETY: `user` is NUL-terminated; `pw`, `buf` and `found` are ours
        // and outlive the call; the strings it stores point into `buf`.
        let rc = unsafe {
            libc::getpwnam_r(
                user.as_ptr().cast(),
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        if rc == 0 && !found.is_null() {
            creds.uid = pw.pw_uid;
            creds.gid = pw.pw_gid;
            let mut n = GROUPS_MAX as libc::c_int;
            // SAFETY: pw_name points into `buf` (still alive); `groups` has
            // room for `n` entries and getgrouplist writes at most that many.
            let rc = unsafe {
                libc::getgrouplist(pw.pw_name, pw.pw_gid, creds.groups.as_mut_ptr(), &mut n)
            };
            creds.ngroups = if rc < 0 {
                GROUPS_MAX
            } else {
                n.max(0) as usize
            };
        } else {
            let uid = number(user).ok_or(Errno::NOENT)?;
            (creds.uid, creds.gid) = (uid, uid);
        }
    }
    if !is_empty(group) {
        creds.gid = group_id(group)?;
    }
    if creds.ngroups == 0 {
        creds.groups[0] = creds.gid;
        creds.ngroups = 1;
    }
    Ok(creds)
}

fn group_id(group: &[u8]) -> Result<u32, Errno> {
    let mut buf = [0 as libc::c_char; 4096];
    // SAFETY: a zeroed group is valid plain data for getgrnam_r to fill.
    let mut gr: libc::group = unsafe { core::mem::zeroed() };
    let mut found: *mut libc::group = core::ptr::null_mut();
    // SAFETY: `group` is NUL-terminated; all out-pointers are ours.
    let rc = unsafe {
        libc::getgrnam_r(
            group.as_ptr().cast(),
            &mut gr,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    match rc == 0 && !found.is_null() {
        true => Ok(gr.gr_gid),
        false => number(group).ok_or(Errno::NOENT),
    }
}

fn is_empty(name: &[u8]) -> bool {
    name.first().is_none_or(|&b| b == 0)
}

fn number(name: &[u8]) -> Option<u32> {
    parse_u64(name.strip_suffix(&[0]).unwrap_or(name)).and_then(|n| u32::try_from(n).ok())
}
