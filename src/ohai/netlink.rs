//! A minimal rtnetlink client: dump links, addresses, routes or neighbours and split each
//! reply into its fixed header and its attributes. What `ip` asks the kernel, without `ip`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Dump requests and the reply type each answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    /// RTM_GETLINK: interfaces (`ifinfomsg`, 16 bytes).
    Links,
    /// RTM_GETADDR: addresses (`ifaddrmsg`, 8 bytes).
    Addresses,
    /// RTM_GETROUTE: routes (`rtmsg`, 12 bytes).
    Routes,
    /// RTM_GETNEIGH: neighbours (`ndmsg`, 12 bytes).
    Neighbours,
}

impl Dump {
    fn request_type(self) -> u16 {
        match self {
            Dump::Links => 18,
            Dump::Addresses => 22,
            Dump::Routes => 26,
            Dump::Neighbours => 30,
        }
    }

    fn reply_type(self) -> u16 {
        self.request_type() - 2
    }

    /// The size of the fixed header after `nlmsghdr`.
    pub fn header_len(self) -> usize {
        match self {
            Dump::Links => 16,
            Dump::Addresses => 8,
            Dump::Routes | Dump::Neighbours => 12,
        }
    }
}

/// One reply: the fixed header bytes and the attributes `(type, payload)` in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The fixed header (`ifinfomsg`, `ifaddrmsg`, `rtmsg`, `ndmsg`).
    pub header: Vec<u8>,
    /// The attributes, nested flag bits cleared from their types.
    pub attrs: Vec<(u16, Vec<u8>)>,
}

impl Message {
    /// The first attribute of this type.
    pub fn attr(&self, kind: u16) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| v.as_slice())
    }

    /// An attribute holding a NUL-terminated string.
    pub fn attr_str(&self, kind: u16) -> Option<String> {
        self.attr(kind).map(|v| {
            let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        })
    }

    /// An attribute holding a native-endian u32.
    pub fn attr_u32(&self, kind: u16) -> Option<u32> {
        self.attr(kind).and_then(read_u32)
    }

    /// A byte of the fixed header.
    pub fn byte(&self, at: usize) -> u8 {
        self.header.get(at).copied().unwrap_or(0)
    }

    /// A native-endian u32 of the fixed header.
    pub fn u32_at(&self, at: usize) -> u32 {
        self.header.get(at..).and_then(read_u32).unwrap_or(0)
    }

    /// A native-endian u16 of the fixed header.
    pub fn u16_at(&self, at: usize) -> u16 {
        self.header
            .get(at..at + 2)
            .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]))
    }
}

/// The first four bytes as a native-endian u32.
pub fn read_u32(bytes: &[u8]) -> Option<u32> {
    let b = bytes.get(..4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Asks the kernel for a full dump of one family (`AF_UNSPEC` 0, `AF_INET` 2, `AF_INET6` 10).
pub fn dump(what: Dump, family: u8) -> io::Result<Vec<Message>> {
    let socket = open_socket()?;
    send_request(&socket, what, family)?;
    receive(&socket, what)
}

fn open_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned by the OwnedFd from here on.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn send_request(socket: &OwnedFd, what: Dump, family: u8) -> io::Result<()> {
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    let total = 16 + what.header_len();
    let mut request = Vec::with_capacity(total);
    request.extend_from_slice(&u32::try_from(total).unwrap_or(0).to_ne_bytes());
    request.extend_from_slice(&what.request_type().to_ne_bytes());
    request.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes());
    request.extend_from_slice(&0u32.to_ne_bytes());
    request.push(family);
    request.resize(total, 0);
    // SAFETY: sockaddr_nl is plain data; we pass its exact size and a buffer we own.
    let sent = unsafe {
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        libc::sendto(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn receive(socket: &OwnedFd, what: Dump) -> io::Result<Vec<Message>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut messages = Vec::new();
    loop {
        // SAFETY: recv writes at most buf.len() bytes into the buffer we own.
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            return Ok(messages);
        }
        if parse_replies(&buf[..n], what, &mut messages)? {
            return Ok(messages);
        }
    }
}

/// Parses one datagram of replies into `out`; true once the dump is done.
pub fn parse_replies(mut data: &[u8], what: Dump, out: &mut Vec<Message>) -> io::Result<bool> {
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    while data.len() >= 16 {
        let len = read_u32(data).unwrap_or(0) as usize;
        if len < 16 || len > data.len() {
            break;
        }
        let kind = u16::from_ne_bytes([data[4], data[5]]);
        let body = &data[16..len];
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = body.get(..4).and_then(read_u32).unwrap_or(0) as i32;
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code));
                }
                return Ok(true);
            }
            k if k == what.reply_type() => out.push(parse_message(body, what.header_len())),
            _ => {}
        }
        data = data.get(align4(len)..).unwrap_or(&[]);
    }
    Ok(false)
}

fn parse_message(body: &[u8], header_len: usize) -> Message {
    let header = body.get(..header_len).unwrap_or(body).to_vec();
    let mut attrs = Vec::new();
    let mut rest = body.get(align4(header_len)..).unwrap_or(&[]);
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            break;
        }
        attrs.push((kind, rest[4..len].to_vec()));
        rest = rest.get(align4(len)..).unwrap_or(&[]);
    }
    Message { header, attrs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&u16::try_from(4 + payload.len()).unwrap().to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(align4(out.len()), 0);
        out
    }

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&u32::try_from(16 + body.len()).unwrap().to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&[0; 10]);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn replies_split_into_header_and_attributes() {
        let mut body = vec![2, 24, 0, 0, 1, 0, 0, 0];
        body.extend(attr(2, &[192, 0, 2, 2]));
        body.extend(attr(3, b"eth0\0"));
        let mut data = message(20, &body);
        data.extend(message(3, &[0, 0, 0, 0]));
        let mut out = Vec::new();
        assert!(parse_replies(&data, Dump::Addresses, &mut out).unwrap());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].byte(1), 24);
        assert_eq!(out[0].u32_at(4), 1);
        assert_eq!(out[0].attr(2), Some(&[192u8, 0, 2, 2][..]));
        assert_eq!(out[0].attr_str(3).as_deref(), Some("eth0"));
    }

    #[test]
    fn kernel_errors_are_returned() {
        let data = message(2, &(-1i32).to_ne_bytes());
        let mut out = Vec::new();
        assert!(parse_replies(&data, Dump::Links, &mut out).is_err());
    }

    #[test]
    fn this_host_has_a_loopback_link() {
        let links = dump(Dump::Links, 0).unwrap();
        assert!(links.iter().any(|l| l.attr_str(3).as_deref() == Some("lo")));
    }
}
