//! The terminal of a login: a pseudo-terminal from the host's own devpts, so the shell inside
//! is a session leader with a controlling terminal (job control works, `tty` names a device of
//! the host), relayed to the user's terminal, which is raw meanwhile so every key (Ctrl-C,
//! Ctrl-Z) reaches the shell. Size changes of the user's terminal are passed on.
//!
//! Runs in `__enter --tty` after the process has joined the host: /dev/ptmx is then the host's.

use super::host_enter::{exec, exit_code, failed, EnterSpec, Entered};
use crate::error::{Error, Result};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGWINCH: the user's terminal changed size.
static RESIZED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_resize(_: libc::c_int) {
    RESIZED.store(true, Ordering::SeqCst);
}

/// Forks the command on a new terminal of the host and relays until it exits.
pub(super) fn run(spec: &EnterSpec, entered: Entered) -> Result<i32> {
    let master = open_master()?;
    let slave = slave_path(master)?;
    copy_size(libc::STDIN_FILENO, master);
    // SAFETY: this process is single-threaded (freshly executed).
    match unsafe { fork() }.map_err(|e| failed("fork", e))? {
        ForkResult::Child => {
            // SAFETY: plain system calls on descriptors this process owns.
            unsafe { libc::close(master) };
            attach_terminal(&slave);
            exec(spec, entered.exe, &entered.argv, &entered.env)
        }
        ForkResult::Parent { child } => {
            let saved = raw_mode(libc::STDIN_FILENO);
            // SAFETY: the handler only stores to an atomic.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_resize as extern "C" fn(libc::c_int) as usize;
                libc::sigaction(libc::SIGWINCH, &action, std::ptr::null_mut());
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
            }
            let code = relay(master, child);
            if let Some(termios) = saved {
                // SAFETY: restores the settings read from the same descriptor.
                unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &termios) };
            }
            Ok(code)
        }
    }
}

fn open_master() -> Result<libc::c_int> {
    // SAFETY: plain system calls; the descriptor is checked before use.
    let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(os_failure("opening /dev/ptmx in the host"));
    }
    // SAFETY: fd is a pseudo-terminal master.
    if unsafe { libc::grantpt(fd) } != 0 || unsafe { libc::unlockpt(fd) } != 0 {
        return Err(os_failure("unlocking the host's terminal"));
    }
    Ok(fd)
}

fn slave_path(master: libc::c_int) -> Result<CString> {
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: the buffer's length is passed with it.
    if unsafe { libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()) } != 0 {
        return Err(os_failure("naming the host's terminal"));
    }
    // SAFETY: ptsname_r wrote a NUL-terminated string into the buffer.
    Ok(unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_owned())
}

/// In the child: a new session whose controlling terminal is `slave`, on fds 0, 1 and 2.
fn attach_terminal(slave: &CString) {
    // SAFETY: plain system calls in the freshly forked child; failures leave the command on
    // the descriptors it inherited, which still works, without job control.
    unsafe {
        libc::setsid();
        let fd = libc::open(slave.as_ptr(), libc::O_RDWR);
        if fd < 0 {
            return;
        }
        libc::ioctl(fd, libc::TIOCSCTTY, 0);
        for target in 0..3 {
            libc::dup2(fd, target);
        }
        if fd > 2 {
            libc::close(fd);
        }
    }
}

fn copy_size(from: libc::c_int, to: libc::c_int) {
    // SAFETY: winsize is plain data filled by the kernel.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &size);
        }
    }
}

fn raw_mode(fd: libc::c_int) -> Option<libc::termios> {
    // SAFETY: termios is plain data filled by the kernel.
    unsafe {
        let mut saved: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut saved) != 0 {
            return None;
        }
        let mut raw = saved;
        libc::cfmakeraw(&mut raw);
        libc::tcsetattr(fd, libc::TCSANOW, &raw);
        Some(saved)
    }
}

/// Copies the user's keys to the host's terminal and its output back until the command exits.
fn relay(master: libc::c_int, child: Pid) -> i32 {
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    loop {
        if RESIZED.swap(false, Ordering::SeqCst) {
            copy_size(libc::STDIN_FILENO, master);
        }
        let mut fds = [
            libc::pollfd {
                fd: if stdin_open { libc::STDIN_FILENO } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: master,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: the array and its length go together.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, 200) };
        if ready > 0 {
            if fds[0].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
                match read(libc::STDIN_FILENO, &mut buf) {
                    Some(n) if n > 0 => write_all(master, &buf[..n]),
                    _ => stdin_open = false,
                }
            }
            if fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                match read(master, &mut buf) {
                    Some(n) if n > 0 => write_all(libc::STDOUT_FILENO, &buf[..n]),
                    // EIO: the last holder of the terminal closed it.
                    _ => break,
                }
            }
        }
        if let Some(code) = exited(child, false) {
            drain(master, &mut buf);
            return code;
        }
    }
    exited(child, true).unwrap_or(1)
}

/// Whatever the command wrote just before it exited.
fn drain(master: libc::c_int, buf: &mut [u8]) {
    loop {
        let mut fd = libc::pollfd {
            fd: master,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, count 1.
        if unsafe { libc::poll(&mut fd, 1, 0) } <= 0 || fd.revents & libc::POLLIN == 0 {
            return;
        }
        match read(master, buf) {
            Some(n) if n > 0 => write_all(libc::STDOUT_FILENO, &buf[..n]),
            _ => return,
        }
    }
}

fn exited(child: Pid, block: bool) -> Option<i32> {
    let flags = (!block).then_some(WaitPidFlag::WNOHANG);
    loop {
        match waitpid(child, flags) {
            Ok(WaitStatus::StillAlive) => return None,
            Ok(status) => match exit_code(status) {
                Some(code) => return Some(code),
                None if block => continue,
                None => return None,
            },
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return Some(1),
        }
    }
}

fn read(fd: libc::c_int, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: the buffer and its length go together.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Some(n as usize);
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}

fn write_all(fd: libc::c_int, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: the slice and its length go together.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n > 0 {
            data = &data[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            return;
        }
    }
}

fn os_failure(what: &str) -> Error {
    Error::input(
        "Kitchen::ActionFailed",
        format!("{what} failed: {}", std::io::Error::last_os_error()),
    )
}
