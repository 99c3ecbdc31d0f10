//! Boot: a nolibc init per arch in an initramfs written by the kernel's own gen_init_cpio,
//! QEMU under a deadline, and a pure classifier of the console; `run` is the stage itself.

pub mod console;
pub mod initramfs;
pub mod marker;
pub mod qemu;
pub mod run;
pub mod splat;
