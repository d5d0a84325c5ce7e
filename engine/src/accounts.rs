//! Lines of `/etc/passwd` and `/etc/group`, parsed without allocating. vigild
//! reads these files itself instead of calling libc's getpwnam and
//! getgrouplist: on a static musl binary those bring a heap allocator and
//! stdio (a sixth of the binary) for what is a split on colons. Like musl
//! without nscd, only the files are consulted.

use crate::unix::parse_u64;

/// The fields of a passwd line that vigild uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User<'a> {
    /// Login name.
    pub name: &'a [u8],
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// The fields of a group line that vigild uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group<'a> {
    /// Group name.
    pub name: &'a [u8],
    /// Group id.
    pub gid: u32,
    /// Comma-separated member names.
    members: &'a [u8],
}

impl Group<'_> {
    /// True if `user` is listed as a member.
    pub fn has_member(&self, user: &[u8]) -> bool {
        self.members.split(|&b| b == b',').any(|m| m == user)
    }
}

fn id(field: Option<&[u8]>) -> Option<u32> {
    parse_u64(field?).and_then(|n| u32::try_from(n).ok())
}

/// `name:password:uid:gid:...`; `None` for a malformed line (it is skipped,
/// as libc skips it).
pub fn user_line(line: &[u8]) -> Option<User<'_>> {
    let mut fields = line.split(|&b| b == b':');
    let name = fields.next().filter(|n| !n.is_empty())?;
    let _password = fields.next()?;
    let uid = id(fields.next())?;
    let gid = id(fields.next())?;
    Some(User { name, uid, gid })
}

/// `name:password:gid:member,member`; `None` for a malformed line.
pub fn group_line(line: &[u8]) -> Option<Group<'_>> {
    let mut fields = line.split(|&b| b == b':');
    let name = fields.next().filter(|n| !n.is_empty())?;
    let _password = fields.next()?;
    let gid = id(fields.next())?;
    let members = fields.next().unwrap_or(b"");
    Some(Group { name, gid, members })
}

/// A name, or failing that a number (`user = 1000` without a passwd entry).
pub fn numeric_id(name: &[u8]) -> Option<u32> {
    id(Some(name))
}
