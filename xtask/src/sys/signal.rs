//! SIGINT and SIGTERM: a flag every long wait polls, and the process groups of running
//! children, which are sent SIGTERM at once so that a make or a QEMU ends with the harness.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Process groups of the running children (the groups `proc::spawn` made).
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Has SIGINT or SIGTERM arrived?
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The running children's process groups.
pub fn groups() -> MutexGuard<'static, Vec<i32>> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Route SIGINT and SIGTERM to the flag and to the children's groups. The signals are taken
/// by a thread of ours (signal-hook's self-pipe), so what follows runs outside the handler.
pub fn install() -> std::io::Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    for _ in signals.forever() {
                        INTERRUPTED.store(true, Ordering::SeqCst);
                        for &pgid in groups().iter() {
                            // SAFETY: kill(2) with a negative pid signals a process group.
                            unsafe {
                                libc::kill(-pgid, libc::SIGTERM);
                            }
                        }
                    }
                });
            }
            Err(e) => result = Err(e),
        }
    });
    result
}
