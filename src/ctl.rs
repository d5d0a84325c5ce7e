pub fn main(_a: crate::sys::args::Args, _skip: usize) -> core::ffi::c_int { 2 }
