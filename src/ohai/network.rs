//! network, counters, ipaddress, ip6address and macaddress: what Ohai parses out of `ip addr`,
//! `ip -d -s link`, `ip route` and `ip neigh`, built here from the rtnetlink replies the `ip`
//! tool itself reads.
//!
//! Interfaces are keyed by name; each has `addresses` keyed by address (MACs upper-case), with
//! Ohai's string values (`"prefixlen": "24"`), `flags`, `state`, `mtu`, `encapsulation`, `arp`
//! and `routes`. The default interface and gateway come from the main routing table.

use super::netlink::{dump, Dump, Message};
use super::{Host, Map};
use indexmap::IndexMap;
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address of an interface, as Ohai records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    /// `lladdr`, `inet` or `inet6`.
    pub family: &'static str,
    /// Prefix length as a string (none for `lladdr`).
    pub prefixlen: Option<String>,
    /// Dotted netmask (IPv4 only).
    pub netmask: Option<String>,
    /// Point-to-point peer (IPv4 only).
    pub peer: Option<String>,
    /// Broadcast address (IPv4 only).
    pub broadcast: Option<String>,
    /// `Global`, `Link`, `Node`...
    pub scope: Option<String>,
    /// IPv6 flags `ip` prints after the scope (`nodad`, `dynamic`...).
    pub tags: Option<Vec<String>>,
}

impl Address {
    fn lladdr() -> Self {
        Address {
            family: "lladdr",
            prefixlen: None,
            netmask: None,
            peer: None,
            broadcast: None,
            scope: None,
            tags: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("family".into(), Value::from(self.family));
        let fields = [
            ("prefixlen", &self.prefixlen),
            ("netmask", &self.netmask),
            ("peer", &self.peer),
            ("broadcast", &self.broadcast),
            ("scope", &self.scope),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                out.insert(key.into(), Value::from(value.as_str()));
            }
        }
        if let Some(tags) = &self.tags {
            out.insert("tags".into(), Value::from(tags.clone()));
        }
        Value::Object(out)
    }
}

/// One route of the main table, as Ohai records it under its interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// `default`, `10.0.0.0/8`, a host address, or the route type (`unreachable`).
    pub destination: String,
    /// `inet` or `inet6`.
    pub family: &'static str,
    /// Gateway.
    pub via: Option<String>,
    /// Scope name when not `global`.
    pub scope: Option<String>,
    /// Metric (priority).
    pub metric: Option<String>,
    /// Protocol name when not `boot`.
    pub proto: Option<String>,
    /// Preferred source address.
    pub src: Option<String>,
}

impl Route {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("destination".into(), Value::from(self.destination.as_str()));
        out.insert("family".into(), Value::from(self.family));
        let fields = [
            ("via", &self.via),
            ("scope", &self.scope),
            ("metric", &self.metric),
            ("proto", &self.proto),
            ("src", &self.src),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                out.insert(key.into(), Value::from(value.as_str()));
            }
        }
        Value::Object(out)
    }

    fn metric_value(&self) -> u64 {
        self.metric
            .as_deref()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0)
    }
}

/// One interface (or IPv4 alias such as `eth0:1`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interface {
    /// Kernel index (0 for aliases).
    pub index: u32,
    /// `eth` of `eth0`.
    pub kind: Option<(String, String)>,
    /// MTU as a string.
    pub mtu: Option<String>,
    /// Flags as `ip` prints them, when Ohai records them.
    pub flags: Option<Vec<&'static str>>,
    /// `Ethernet`, `Loopback`...
    pub encapsulation: Option<String>,
    /// Addresses by address text.
    pub addresses: IndexMap<String, Address>,
    /// Operational state, lower-case.
    pub state: Option<String>,
    /// IPv4 neighbours: address → MAC.
    pub arp: IndexMap<String, String>,
    /// IPv6 neighbours: address → MAC.
    pub neighbour_inet6: IndexMap<String, String>,
    /// Main-table routes through this interface.
    pub routes: Vec<Route>,
    /// Transmit and receive counters.
    pub counters: Option<Value>,
}

impl Interface {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some((kind, number)) = &self.kind {
            out.insert("type".into(), Value::from(kind.as_str()));
            out.insert("number".into(), Value::from(number.as_str()));
        }
        if let Some(mtu) = &self.mtu {
            out.insert("mtu".into(), Value::from(mtu.as_str()));
        }
        if let Some(flags) = &self.flags {
            out.insert("flags".into(), Value::from(flags.clone()));
        }
        if let Some(encapsulation) = &self.encapsulation {
            out.insert("encapsulation".into(), Value::from(encapsulation.as_str()));
        }
        if !self.addresses.is_empty() {
            let addresses: Map = self
                .addresses
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            out.insert("addresses".into(), Value::Object(addresses));
        }
        if let Some(state) = &self.state {
            out.insert("state".into(), Value::from(state.as_str()));
        }
        for (key, neighbours) in [
            ("arp", &self.arp),
            ("neighbour_inet6", &self.neighbour_inet6),
        ] {
            if !neighbours.is_empty() {
                let map: Map = neighbours
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                out.insert(key.into(), Value::Object(map));
            }
        }
        if !self.routes.is_empty() {
            let routes: Vec<Value> = self.routes.iter().map(Route::to_json).collect();
            out.insert("routes".into(), Value::from(routes));
        }
        Value::Object(out)
    }

    fn has_family(&self, family: &str) -> bool {
        self.addresses.values().any(|a| a.family == family)
    }

    fn mac(&self) -> Option<String> {
        self.addresses
            .iter()
            .find(|(_, a)| a.family == "lladdr")
            .map(|(k, _)| k.clone())
    }
}

/// network, counters, ipaddress, ip6address, macaddress for this machine (nothing for another
/// root: there is no file holding IPv4 addresses).
pub fn collect(host: &Host, out: &mut Map) {
    if !host.is_local() {
        return;
    }
    let ipv6 = host.exists("/proc/net/if_inet6");
    let mut interfaces = match read_interfaces(ipv6) {
        Ok(interfaces) => interfaces,
        Err(_) => IndexMap::new(),
    };
    let mut network = Map::new();
    let mut chosen = Chosen::default();
    let families: &[&'static str] = if ipv6 { &["inet", "inet6"] } else { &["inet"] };
    for family in families {
        choose_default(&mut interfaces, family, &mut network, &mut chosen);
    }
    fallback_addresses(&interfaces, &network, &mut chosen);
    let mut counters = Map::new();
    let mut ifaces = Map::new();
    for (name, iface) in &interfaces {
        if let Some(c) = &iface.counters {
            counters.insert(name.clone(), c.clone());
        }
        ifaces.insert(name.clone(), iface.to_json());
    }
    let mut tree = Map::new();
    tree.insert("interfaces".into(), Value::Object(ifaces));
    tree.extend(network);
    out.insert("network".into(), Value::Object(tree));
    out.insert(
        "counters".into(),
        json!({"network": {"interfaces": counters}}),
    );
    for (key, value) in [
        ("ipaddress", chosen.ipaddress),
        ("ip6address", chosen.ip6address),
        ("macaddress", chosen.macaddress),
    ] {
        if let Some(value) = value {
            out.insert(key.into(), Value::from(value));
        }
    }
}

/// ipaddress, ip6address and macaddress as they are chosen.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Chosen {
    /// The IPv4 address of the host.
    pub ipaddress: Option<String>,
    /// The IPv6 address of the host.
    pub ip6address: Option<String>,
    /// The MAC address of the host.
    pub macaddress: Option<String>,
}

fn read_interfaces(ipv6: bool) -> std::io::Result<IndexMap<String, Interface>> {
    let mut interfaces: IndexMap<String, Interface> = IndexMap::new();
    let links = dump(Dump::Links, 0)?;
    let mut names: Vec<(u32, String)> = Vec::new();
    for link in &links {
        if let Some((name, iface)) = interface_from_link(link) {
            names.push((iface.index, name.clone()));
            interfaces.insert(name, iface);
        }
    }
    let mut addresses = dump(Dump::Addresses, 2)?;
    if ipv6 {
        addresses.extend(dump(Dump::Addresses, 10)?);
    }
    // `ip addr` prints each interface's link, then IPv4, then IPv6 addresses.
    let order: Vec<String> = interfaces.keys().cloned().collect();
    for name in order {
        let Some(index) = interfaces.get(&name).map(|i| i.index) else {
            continue;
        };
        for message in addresses.iter().filter(|m| m.u32_at(4) == index) {
            add_address(&mut interfaces, &name, message);
        }
    }
    let name_of = |index: u32| {
        names
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, n)| n.clone())
    };
    let families: &[(u8, &'static str)] = if ipv6 {
        &[(2, "inet"), (10, "inet6")]
    } else {
        &[(2, "inet")]
    };
    for (number, family) in families {
        if let Ok(neighbours) = dump(Dump::Neighbours, *number) {
            for message in &neighbours {
                add_neighbour(&mut interfaces, &name_of, message, family);
            }
        }
        for message in &dump(Dump::Routes, *number)? {
            if let Some((dev, route)) = route_from_message(message, family, &name_of) {
                add_route(&mut interfaces, &dev, route);
            }
        }
    }
    Ok(interfaces)
}

const IFF_RUNNING: u32 = 0x40;

/// Interface flags in the order `ip` prints them between `<` and `>`.
const LINK_FLAGS: &[(u32, &str)] = &[
    (0x8, "LOOPBACK"),
    (0x2, "BROADCAST"),
    (0x10, "POINTOPOINT"),
    (0x1000, "MULTICAST"),
    (0x80, "NOARP"),
    (0x200, "ALLMULTI"),
    (0x100, "PROMISC"),
    (0x20, "NOTRAILERS"),
    (0x4, "DEBUG"),
    (0x8000, "DYNAMIC"),
    (0x4000, "AUTOMEDIA"),
    (0x2000, "PORTSEL"),
    (0x400, "MASTER"),
    (0x800, "SLAVE"),
    (0x1, "UP"),
    (0x10000, "LOWER_UP"),
    (0x20000, "DORMANT"),
    (0x40000, "ECHO"),
];

/// The flags Ohai records: the printed flags its pattern knows (not POINTOPOINT: Ohai looks
/// for `POINTTOPOINT`), plus the `UP` of `state UP`; kept only when more than one matched.
pub fn ohai_flags(flags: u32, operstate: &str) -> Option<Vec<&'static str>> {
    const KNOWN: &[&str] = &[
        "UP",
        "BROADCAST",
        "DEBUG",
        "LOOPBACK",
        "NOTRAILERS",
        "LOWER_UP",
        "NOARP",
        "PROMISC",
        "ALLMULTI",
        "SLAVE",
        "MASTER",
        "MULTICAST",
        "DYNAMIC",
    ];
    let mut matched: Vec<&'static str> = LINK_FLAGS
        .iter()
        .filter(|(bit, name)| flags & bit != 0 && KNOWN.contains(name))
        .map(|(_, name)| *name)
        .collect();
    if operstate == "up" {
        matched.push("UP");
    }
    if matched.len() < 2 {
        return None;
    }
    let mut unique = Vec::new();
    for flag in matched {
        if !unique.contains(&flag) {
            unique.push(flag);
        }
    }
    Some(unique)
}

/// `eth0` → (`eth`, `0`): the shortest word prefix followed by a digit, and the rest.
pub fn split_name(name: &str) -> Option<(String, String)> {
    let bytes = name.as_bytes();
    (1..bytes.len())
        .take_while(|i| bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
        .find(|i| bytes[*i].is_ascii_digit())
        .map(|i| (name[..i].to_string(), name[i..].to_string()))
}

fn operstate_name(code: u8) -> &'static str {
    match code {
        1 => "notpresent",
        2 => "down",
        3 => "lowerlayerdown",
        4 => "testing",
        5 => "dormant",
        6 => "up",
        _ => "unknown",
    }
}

/// Ohai's encapsulation name for a hardware type whose address `ip` prints as hex pairs.
fn encapsulation(hw_type: u16) -> Option<&'static str> {
    match hw_type {
        1 => Some("Ethernet"),
        772 => Some("Loopback"),
        512 => Some("PPP"),
        32 => Some("infiniband"),
        24 => Some("ieee1394"),
        // IPv4 or IPv6 tunnels: `ip` prints their addresses as IP addresses, which Ohai skips.
        768 | 769 | 776 | 778 | 823 => None,
        65534 => None,
        _ => Some("ether"),
    }
}

fn mac_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn interface_from_link(link: &Message) -> Option<(String, Interface)> {
    const IFLA_ADDRESS: u16 = 1;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MTU: u16 = 4;
    const IFLA_TXQLEN: u16 = 13;
    const IFLA_OPERSTATE: u16 = 16;
    const IFLA_STATS64: u16 = 23;
    let name = link.attr_str(IFLA_IFNAME)?;
    let hw_type = link.u16_at(2);
    let flags = link.u32_at(8);
    let state = link
        .attr(IFLA_OPERSTATE)
        .and_then(|v| v.first().copied())
        .map_or("unknown", operstate_name);
    let mut iface = Interface {
        index: link.u32_at(4),
        kind: split_name(&name),
        mtu: link.attr_u32(IFLA_MTU).map(|m| m.to_string()),
        flags: ohai_flags(flags & !IFF_RUNNING, state),
        state: Some(state.to_string()),
        ..Interface::default()
    };
    if let (Some(address), Some(encap)) = (link.attr(IFLA_ADDRESS), encapsulation(hw_type)) {
        iface.encapsulation = Some(encap.to_string());
        if !address.iter().all(|b| *b == 0) {
            iface
                .addresses
                .insert(mac_text(address).to_uppercase(), Address::lladdr());
        }
    }
    let qlen = link.attr_u32(IFLA_TXQLEN).filter(|q| *q > 0);
    iface.counters = link
        .attr(IFLA_STATS64)
        .map(|stats| counters_json(stats, qlen));
    Some((name, iface))
}

/// counters.network.interfaces.<if>: `ip -s link`'s columns (RX: bytes packets errors dropped
/// missed; TX: bytes packets errors dropped carrier collisions) under Ohai's names.
pub fn counters_json(stats64: &[u8], qlen: Option<u32>) -> Value {
    let field = |n: usize| {
        stats64
            .get(n * 8..n * 8 + 8)
            .map(|b| u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .unwrap_or(0)
            .to_string()
    };
    // struct rtnl_link_stats64 field positions.
    let (rx_packets, tx_packets, rx_bytes, tx_bytes) = (field(0), field(1), field(2), field(3));
    let (rx_errors, tx_errors, rx_dropped, tx_dropped) = (field(4), field(5), field(6), field(7));
    let (collisions, rx_missed, tx_carrier) = (field(9), field(15), field(17));
    let mut tx = Map::new();
    if let Some(qlen) = qlen {
        tx.insert("queuelen".into(), Value::from(qlen.to_string()));
    }
    for (key, value) in [
        ("bytes", tx_bytes),
        ("packets", tx_packets),
        ("errors", tx_errors),
        ("drop", tx_dropped),
        ("carrier", tx_carrier),
        ("collisions", collisions),
    ] {
        tx.insert(key.into(), Value::from(value));
    }
    json!({
        "tx": tx,
        "rx": {"bytes": rx_bytes, "packets": rx_packets, "errors": rx_errors,
               "drop": rx_dropped, "overrun": rx_missed}
    })
}

fn scope_name(scope: u8) -> String {
    match scope {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// Ohai's address scope: `ip`'s name capitalised, `host` as `Node`.
fn ohai_scope(scope: u8) -> String {
    let name = scope_name(scope);
    if name == "host" {
        return "Node".into();
    }
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The IPv6 address flags `ip` prints after the scope, in its order.
pub fn inet6_tags(flags: u32) -> Vec<String> {
    const NAMED: &[(u32, &str)] = &[
        (0x01, "temporary"),
        (0x02, "nodad"),
        (0x04, "optimistic"),
        (0x08, "dadfailed"),
        (0x10, "home"),
        (0x20, "deprecated"),
        (0x40, "tentative"),
        (0x80, "permanent"),
        (0x100, "mngtmpaddr"),
        (0x200, "noprefixroute"),
        (0x400, "autojoin"),
        (0x800, "stable-privacy"),
    ];
    let mut tags = Vec::new();
    for (bit, name) in NAMED {
        if *bit == 0x80 {
            if flags & bit == 0 {
                tags.push("dynamic".to_string());
            }
        } else if flags & bit != 0 {
            tags.push((*name).to_string());
        }
    }
    tags
}

/// The dotted IPv4 netmask of a prefix length.
pub fn netmask(prefix: u8) -> String {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    Ipv4Addr::from(bits).to_string()
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            Some(Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

fn add_address(interfaces: &mut IndexMap<String, Interface>, name: &str, message: &Message) {
    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_LABEL: u16 = 3;
    const IFA_BROADCAST: u16 = 4;
    const IFA_FLAGS: u16 = 8;
    let family = message.byte(0);
    let prefix = message.byte(1);
    let scope = message.byte(3);
    let flags = message
        .attr_u32(IFA_FLAGS)
        .unwrap_or(u32::from(message.byte(2)));
    if family == 2 {
        let address = message.attr(IFA_ADDRESS).and_then(ip_text);
        let local = message.attr(IFA_LOCAL).and_then(ip_text);
        let Some(shown) = local.clone().or_else(|| address.clone()) else {
            return;
        };
        // With a peer, `ip` prints `inet LOCAL peer PEER/LEN`: Ohai sees no length and uses 32.
        let peer = match (&local, &address) {
            (Some(l), Some(a)) if l != a => Some(a.clone()),
            _ => None,
        };
        let prefixlen = if peer.is_some() { 32 } else { prefix };
        let entry = Address {
            family: "inet",
            prefixlen: Some(prefixlen.to_string()),
            netmask: Some(netmask(prefixlen)),
            peer,
            broadcast: message.attr(IFA_BROADCAST).and_then(ip_text),
            scope: Some(ohai_scope(scope)),
            tags: None,
        };
        let target = match message.attr_str(IFA_LABEL) {
            Some(label) if is_alias_of(&label, name) => label,
            _ => name.to_string(),
        };
        interfaces
            .entry(target)
            .or_default()
            .addresses
            .insert(shown, entry);
    } else if family == 10 {
        let Some(shown) = message
            .attr(IFA_ADDRESS)
            .or_else(|| message.attr(IFA_LOCAL))
            .and_then(ip_text)
        else {
            return;
        };
        let entry = Address {
            family: "inet6",
            prefixlen: Some(prefix.to_string()),
            netmask: None,
            peer: None,
            broadcast: None,
            scope: Some(ohai_scope(scope)),
            tags: Some(inet6_tags(flags)),
        };
        if let Some(iface) = interfaces.get_mut(name) {
            iface.addresses.insert(shown, entry);
        }
    }
}

/// `eth0:1` is an alias of `eth0` (Ohai's `<if>:<digits>` label).
fn is_alias_of(label: &str, name: &str) -> bool {
    label
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn add_neighbour(
    interfaces: &mut IndexMap<String, Interface>,
    name_of: &dyn Fn(u32) -> Option<String>,
    message: &Message,
    family: &str,
) {
    const NDA_DST: u16 = 1;
    const NDA_LLADDR: u16 = 2;
    const NTF_PROXY: u8 = 0x08;
    const NUD_NOARP: u16 = 0x40;
    // `ip neigh show` leaves out proxies, entries without a state and NOARP entries.
    let state = message.u16_at(8);
    if message.byte(10) & NTF_PROXY != 0 || state == 0 || state & NUD_NOARP != 0 {
        return;
    }
    let (Some(dst), Some(lladdr)) = (
        message.attr(NDA_DST).and_then(ip_text),
        message.attr(NDA_LLADDR),
    ) else {
        return;
    };
    let Some(iface) = name_of(message.u32_at(4)).and_then(|n| interfaces.get_mut(&n)) else {
        return;
    };
    let table = if family == "inet" {
        &mut iface.arp
    } else {
        &mut iface.neighbour_inet6
    };
    table.insert(dst, mac_text(lladdr));
}

fn route_type_name(kind: u8) -> Option<&'static str> {
    match kind {
        1 => None,
        2 => Some("local"),
        3 => Some("broadcast"),
        4 => Some("anycast"),
        5 => Some("multicast"),
        6 => Some("blackhole"),
        7 => Some("unreachable"),
        8 => Some("prohibit"),
        9 => Some("throw"),
        10 => Some("nat"),
        _ => Some("unspec"),
    }
}

fn protocol_name(proto: u8) -> String {
    match proto {
        0 => "unspec".into(),
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        8 => "gated".into(),
        9 => "ra".into(),
        10 => "mrt".into(),
        11 => "zebra".into(),
        12 => "bird".into(),
        13 => "dnrouted".into(),
        14 => "xorp".into(),
        15 => "ntk".into(),
        16 => "dhcp".into(),
        17 => "mrouted".into(),
        42 => "babel".into(),
        186 => "bgp".into(),
        187 => "isis".into(),
        188 => "ospf".into(),
        189 => "rip".into(),
        192 => "eigrp".into(),
        n => n.to_string(),
    }
}

/// A main-table route as `ip route show` prints it, and the name of its device.
fn route_from_message(
    message: &Message,
    family: &'static str,
    name_of: &dyn Fn(u32) -> Option<String>,
) -> Option<(String, Route)> {
    const RTA_DST: u16 = 1;
    const RTA_OIF: u16 = 4;
    const RTA_GATEWAY: u16 = 5;
    const RTA_PRIORITY: u16 = 6;
    const RTA_PREFSRC: u16 = 7;
    const RTA_TABLE: u16 = 15;
    const RTA_VIA: u16 = 18;
    const RT_TABLE_MAIN: u32 = 254;
    const RTM_F_CLONED: u32 = 0x200;
    let table = message
        .attr_u32(RTA_TABLE)
        .unwrap_or(u32::from(message.byte(4)));
    if table != RT_TABLE_MAIN || message.u32_at(8) & RTM_F_CLONED != 0 {
        return None;
    }
    let dev = name_of(message.attr_u32(RTA_OIF)?)?;
    let dst_len = message.byte(1);
    let full = if family == "inet" { 32 } else { 128 };
    let destination = match (route_type_name(message.byte(7)), message.attr(RTA_DST)) {
        (Some(kind), _) => kind.to_string(),
        (None, Some(dst)) => {
            let addr = ip_text(dst)?;
            if dst_len == full {
                addr
            } else {
                format!("{addr}/{dst_len}")
            }
        }
        (None, None) if dst_len == 0 => "default".to_string(),
        (None, None) => format!("0/{dst_len}"),
    };
    let via = message.attr(RTA_GATEWAY).and_then(ip_text).or_else(|| {
        // RTA_VIA: a 2-byte family, then the address.
        message
            .attr(RTA_VIA)
            .and_then(|v| v.get(2..))
            .and_then(ip_text)
    });
    let proto = message.byte(5);
    let scope = message.byte(6);
    let route = Route {
        destination,
        family,
        via,
        scope: (scope != 0).then(|| scope_name(scope)),
        metric: message.attr_u32(RTA_PRIORITY).map(|m| m.to_string()),
        proto: (proto != 3).then(|| protocol_name(proto)),
        src: message.attr(RTA_PREFSRC).and_then(ip_text),
    };
    Some((dev, route))
}

/// Adds a route to its interface unless its source address is not on it (while the interface
/// has addresses of that family), as Ohai does.
fn add_route(interfaces: &mut IndexMap<String, Interface>, dev: &str, route: Route) {
    let Some(iface) = interfaces.get_mut(dev) else {
        return;
    };
    if let Some(src) = &route.src {
        if !iface.addresses.contains_key(src) && iface.has_family(route.family) {
            return;
        }
    }
    iface.routes.push(route);
}

/// The family's routes with their device, interfaces in order.
fn family_routes<'a>(
    interfaces: &'a IndexMap<String, Interface>,
    family: &str,
) -> Vec<(&'a str, &'a Route)> {
    interfaces
        .iter()
        .flat_map(|(name, iface)| {
            iface
                .routes
                .iter()
                .filter(move |r| r.family == family)
                .map(move |r| (name.as_str(), r))
        })
        .collect()
}

/// Sets default_interface/default_gateway (or the inet6 ones) and, from the favoured route,
/// ipaddress/ip6address and macaddress.
fn choose_default(
    interfaces: &mut IndexMap<String, Interface>,
    family: &str,
    network: &mut Map,
    chosen: &mut Chosen,
) {
    let routes = family_routes(interfaces, family);
    let default = routes
        .iter()
        .filter(|(_, r)| r.destination == "default")
        .min_by_key(|(_, r)| r.metric_value());
    let Some((dev, default)) = default else {
        return;
    };
    let prefix = if family == "inet" {
        "default"
    } else {
        "default_inet6"
    };
    let gateway = default.via.clone().unwrap_or_else(|| {
        if family == "inet" {
            "0.0.0.0".into()
        } else {
            "::".into()
        }
    });
    network.insert(format!("{prefix}_interface"), Value::from(*dev));
    network.insert(format!("{prefix}_gateway"), Value::from(gateway));
    let favoured = routes
        .iter()
        .filter(|(dev, r)| route_can_give_address(interfaces, dev, r, default, family))
        .min_by_key(|(_, r)| (u8::from(r.destination != "default"), r.metric_value()));
    let Some((dev, route)) = favoured else {
        return;
    };
    let iface = interfaces.get(*dev);
    if family == "inet" {
        chosen.ipaddress = route.src.clone();
        chosen.macaddress = iface.and_then(|i| {
            let noarp = i.flags.as_ref().is_some_and(|f| f.contains(&"NOARP"));
            (!noarp).then(|| i.mac()).flatten()
        });
    } else {
        chosen.ip6address = route.src.clone();
        if chosen.macaddress.is_none() {
            chosen.macaddress = iface.and_then(|i| {
                let noarp = i.flags.as_ref().is_some_and(|f| f.contains(&"NOARP"));
                (!noarp).then(|| i.mac()).flatten()
            });
        }
    }
}

/// Ohai's test for a route whose source can be the host's address: for IPv4 a source on the
/// interface (not link-scoped) and either a default route or one whose network holds the
/// default gateway; for IPv6 an interface that is up and the same route test.
fn route_can_give_address(
    interfaces: &IndexMap<String, Interface>,
    dev: &str,
    route: &Route,
    default: &Route,
    family: &str,
) -> bool {
    let Some(iface) = interfaces.get(dev) else {
        return false;
    };
    let valid_for_default = route.destination == "default"
        || default
            .via
            .as_deref()
            .is_some_and(|via| network_holds(&route.destination, via));
    if family == "inet6" {
        return iface.state.as_deref() == Some("up") && valid_for_default;
    }
    let Some(src) = route.src.as_deref().filter(|s| !s.is_empty()) else {
        return false;
    };
    let source_ok = !iface.has_family("inet")
        || iface.addresses.get(src).is_some_and(|a| {
            !a.scope
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("link"))
        });
    source_ok && valid_for_default
}

/// True when `network` (`10.0.0.0/8`, or a bare address) holds `address`, same family.
pub fn network_holds(network: &str, address: &str) -> bool {
    let (base, len) = match network.split_once('/') {
        Some((base, len)) => (base, len.parse::<u32>().ok()),
        None => (network, None),
    };
    let (Ok(base), Ok(address)) = (base.parse::<IpAddr>(), address.parse::<IpAddr>()) else {
        return false;
    };
    match (base, address) {
        (IpAddr::V4(b), IpAddr::V4(a)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(b) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(b), IpAddr::V6(a)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(b) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// One candidate of Ohai's fallback address choice.
struct Candidate<'a> {
    ip: IpAddr,
    prefix: u32,
    scope: Option<String>,
    iface: &'a str,
    peer: Option<&'a str>,
}

fn sorted_candidates<'a>(
    interfaces: &'a IndexMap<String, Interface>,
    family: &str,
) -> Vec<Candidate<'a>> {
    let mut out: Vec<Candidate<'a>> = interfaces
        .iter()
        .flat_map(|(name, iface)| {
            iface
                .addresses
                .iter()
                .filter(move |(_, a)| a.family == family)
                .filter_map(move |(addr, a)| {
                    Some(Candidate {
                        ip: addr.parse().ok()?,
                        prefix: a.prefixlen.as_deref()?.parse().ok()?,
                        scope: a.scope.as_ref().map(|s| s.to_lowercase()),
                        iface: name.as_str(),
                        peer: a.peer.as_deref(),
                    })
                })
        })
        .collect();
    const SCOPES: &[&str] = &["global", "site", "link", "host", "node"];
    out.sort_by_key(|c| {
        let rank = match &c.scope {
            None => SCOPES.len(),
            Some(s) => SCOPES.iter().position(|p| p == s).unwrap_or(999_999),
        };
        let value = match c.ip {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        (rank, 128u32.saturating_sub(c.prefix), value)
    });
    out
}

/// Ohai's second pass: where the routes chose nothing, the best-scoped address on the default
/// interface (the one on the gateway's network), else the best address anywhere.
fn fallback_addresses(
    interfaces: &IndexMap<String, Interface>,
    network: &Map,
    chosen: &mut Chosen,
) {
    for family in ["inet", "inet6"] {
        let prefix = if family == "inet" {
            "default"
        } else {
            "default_inet6"
        };
        let candidates = sorted_candidates(interfaces, family);
        let default_if = network
            .get(&format!("{prefix}_interface"))
            .and_then(Value::as_str);
        let gateway = network
            .get(&format!("{prefix}_gateway"))
            .and_then(Value::as_str);
        let pick = match default_if {
            None => candidates.first(),
            Some(dev) => {
                let on_dev: Vec<&Candidate> =
                    candidates.iter().filter(|c| c.iface == dev).collect();
                let link_level =
                    gateway.is_some_and(|g| g == "0.0.0.0" || g == "::" || g.starts_with("fe80:"));
                match gateway {
                    Some(gw) if !link_level => on_dev
                        .iter()
                        .find(|c| match c.peer {
                            Some(peer) => peer == gw,
                            None => network_holds(&format!("{}/{}", c.ip, c.prefix), gw),
                        })
                        .or(on_dev.first())
                        .copied(),
                    _ => on_dev.first().copied(),
                }
            }
        };
        let Some(pick) = pick else { continue };
        let slot = if family == "inet" {
            &mut chosen.ipaddress
        } else {
            &mut chosen.ip6address
        };
        if slot.is_none() {
            *slot = Some(pick.ip.to_string());
        }
        if chosen.macaddress.is_none() {
            chosen.macaddress = interfaces.get(pick.iface).and_then(Interface::mac);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_as_ohai_reads_them() {
        // BROADCAST|MULTICAST|UP|LOWER_UP with state UP.
        assert_eq!(
            ohai_flags(0x2 | 0x1000 | 0x1 | 0x10000, "up"),
            Some(vec!["BROADCAST", "MULTICAST", "UP", "LOWER_UP"])
        );
        assert_eq!(
            ohai_flags(0x8 | 0x1 | 0x10000, "unknown"),
            Some(vec!["LOOPBACK", "UP", "LOWER_UP"])
        );
        assert_eq!(
            ohai_flags(0x2 | 0x80, "down"),
            Some(vec!["BROADCAST", "NOARP"])
        );
        // One match only: Ohai records no flags.
        assert_eq!(ohai_flags(0x80, "down"), None);
        // POINTOPOINT is not in Ohai's pattern.
        assert_eq!(
            ohai_flags(0x10 | 0x80 | 0x1, "unknown"),
            Some(vec!["NOARP", "UP"])
        );
    }

    #[test]
    fn interface_type_and_number() {
        assert_eq!(split_name("eth0"), Some(("eth".into(), "0".into())));
        assert_eq!(split_name("enp0s3"), Some(("enp".into(), "0s3".into())));
        assert_eq!(split_name("lo"), None);
        assert_eq!(split_name("br-1abc"), None);
        assert_eq!(split_name("ifb1"), Some(("ifb".into(), "1".into())));
    }

    #[test]
    fn ipv6_tags_in_ip_order() {
        assert_eq!(inet6_tags(0x82), vec!["nodad"]);
        assert_eq!(inet6_tags(0x80), Vec::<String>::new());
        assert_eq!(
            inet6_tags(0x100 | 0x200),
            vec!["dynamic", "mngtmpaddr", "noprefixroute"]
        );
    }

    #[test]
    fn netmasks_and_networks() {
        assert_eq!(netmask(24), "255.255.255.0");
        assert_eq!(netmask(8), "255.0.0.0");
        assert_eq!(netmask(32), "255.255.255.255");
        assert_eq!(netmask(0), "0.0.0.0");
        assert!(network_holds("192.0.2.0/24", "192.0.2.1"));
        assert!(!network_holds("192.0.2.0/24", "192.0.3.1"));
        assert!(network_holds("fd00::2/64", "fd00::1"));
        assert!(!network_holds("fe80::/64", "fd00::1"));
        assert!(!network_holds("192.0.2.0/24", "fd00::1"));
    }

    #[test]
    fn scopes() {
        assert_eq!(ohai_scope(254), "Node");
        assert_eq!(ohai_scope(0), "Global");
        assert_eq!(ohai_scope(253), "Link");
    }

    fn iface_with(addresses: &[(&str, Address)], state: &str, routes: Vec<Route>) -> Interface {
        Interface {
            addresses: addresses
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            state: Some(state.into()),
            routes,
            ..Interface::default()
        }
    }

    fn inet(prefix: u8, scope: &str) -> Address {
        Address {
            family: "inet",
            prefixlen: Some(prefix.to_string()),
            netmask: Some(netmask(prefix)),
            peer: None,
            broadcast: None,
            scope: Some(scope.into()),
            tags: None,
        }
    }

    fn route(dest: &str, family: &'static str, via: Option<&str>, src: Option<&str>) -> Route {
        Route {
            destination: dest.into(),
            family,
            via: via.map(Into::into),
            scope: None,
            metric: None,
            proto: None,
            src: src.map(Into::into),
        }
    }

    #[test]
    fn ipaddress_from_the_route_to_the_gateway_network() {
        let mut interfaces = IndexMap::new();
        interfaces.insert(
            "eth0".to_string(),
            iface_with(
                &[
                    ("02:FC:00:00:00:01", Address::lladdr()),
                    ("192.0.2.2", inet(24, "Global")),
                ],
                "up",
                vec![
                    route("default", "inet", Some("192.0.2.1"), None),
                    route("192.0.2.0/24", "inet", None, Some("192.0.2.2")),
                ],
            ),
        );
        let mut network = Map::new();
        let mut chosen = Chosen::default();
        choose_default(&mut interfaces, "inet", &mut network, &mut chosen);
        assert_eq!(network["default_interface"], json!("eth0"));
        assert_eq!(network["default_gateway"], json!("192.0.2.1"));
        assert_eq!(chosen.ipaddress.as_deref(), Some("192.0.2.2"));
        assert_eq!(chosen.macaddress.as_deref(), Some("02:FC:00:00:00:01"));
    }

    #[test]
    fn ip6address_falls_back_to_the_address_on_the_gateway_network() {
        let inet6 = |prefix: u8, scope: &str| Address {
            family: "inet6",
            prefixlen: Some(prefix.to_string()),
            netmask: None,
            peer: None,
            broadcast: None,
            scope: Some(scope.into()),
            tags: Some(vec![]),
        };
        let mut interfaces = IndexMap::new();
        interfaces.insert(
            "eth0".to_string(),
            iface_with(
                &[
                    ("fe80::1", inet6(64, "Link")),
                    ("fd00::2", inet6(64, "Global")),
                ],
                "up",
                vec![
                    route("fd00::/64", "inet6", None, None),
                    route("default", "inet6", Some("fd00::1"), None),
                ],
            ),
        );
        let mut network = Map::new();
        let mut chosen = Chosen::default();
        choose_default(&mut interfaces, "inet6", &mut network, &mut chosen);
        assert_eq!(chosen.ip6address, None);
        fallback_addresses(&interfaces, &network, &mut chosen);
        assert_eq!(chosen.ip6address.as_deref(), Some("fd00::2"));
        assert_eq!(network["default_inet6_gateway"], json!("fd00::1"));
    }

    #[test]
    fn counters_from_link_stats() {
        let mut stats = vec![0u8; 24 * 8];
        let mut put = |n: usize, v: u64| stats[n * 8..n * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        put(0, 29);
        put(2, 3193);
        put(1, 30);
        put(3, 4000);
        let counters = counters_json(&stats, Some(1000));
        assert_eq!(counters["rx"]["bytes"], json!("3193"));
        assert_eq!(counters["rx"]["packets"], json!("29"));
        assert_eq!(counters["tx"]["packets"], json!("30"));
        assert_eq!(counters["tx"]["queuelen"], json!("1000"));
        assert_eq!(counters["rx"]["overrun"], json!("0"));
    }

    fn message(header: Vec<u8>, attrs: Vec<(u16, Vec<u8>)>) -> Message {
        Message { header, attrs }
    }

    fn index_bytes(index: u32) -> Vec<u8> {
        index.to_ne_bytes().to_vec()
    }

    #[test]
    fn routes_as_ip_route_prints_them() {
        let name_of = |index: u32| (index == 4).then(|| "eth0".to_string());
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        let mut header = vec![2, 24, 0, 0, 254, 2, 253, 1];
        header.extend(0u32.to_ne_bytes());
        let connected = message(
            header,
            vec![
                (1, vec![192, 0, 2, 0]),
                (4, index_bytes(4)),
                (7, vec![192, 0, 2, 2]),
            ],
        );
        let (dev, route) = route_from_message(&connected, "inet", &name_of).unwrap();
        assert_eq!(dev, "eth0");
        assert_eq!(
            route.to_json(),
            json!({"destination": "192.0.2.0/24", "family": "inet", "scope": "link",
                   "proto": "kernel", "src": "192.0.2.2"})
        );
        let mut header = vec![2, 0, 0, 0, 254, 3, 0, 1];
        header.extend(0u32.to_ne_bytes());
        let default = message(header, vec![(5, vec![192, 0, 2, 1]), (4, index_bytes(4))]);
        let (_, route) = route_from_message(&default, "inet", &name_of).unwrap();
        assert_eq!(
            route.to_json(),
            json!({"destination": "default", "family": "inet", "via": "192.0.2.1"})
        );
        let mut header = vec![2, 0, 0, 0, 255, 2, 254, 2];
        header.extend(0u32.to_ne_bytes());
        let local_table = message(header, vec![(4, index_bytes(4))]);
        assert!(route_from_message(&local_table, "inet", &name_of).is_none());
    }

    #[test]
    fn addresses_as_ip_addr_prints_them() {
        let mut interfaces = IndexMap::new();
        interfaces.insert("eth0".to_string(), Interface::default());
        // ifaddrmsg: family, prefixlen, flags, scope, index.
        let mut header = vec![2, 24, 0, 0];
        header.extend(index_bytes(4));
        let v4 = message(
            header,
            vec![
                (1, vec![192, 0, 2, 2]),
                (2, vec![192, 0, 2, 2]),
                (4, vec![192, 0, 2, 255]),
                (3, b"eth0:1\0".to_vec()),
            ],
        );
        add_address(&mut interfaces, "eth0", &v4);
        assert_eq!(
            interfaces["eth0:1"].addresses["192.0.2.2"].to_json(),
            json!({"family": "inet", "prefixlen": "24", "netmask": "255.255.255.0",
                   "broadcast": "192.0.2.255", "scope": "Global"})
        );
        let mut header = vec![10, 64, 0x82, 253];
        header.extend(index_bytes(4));
        let mut fe80 = [0u8; 16];
        fe80[0] = 0xfe;
        fe80[1] = 0x80;
        fe80[15] = 1;
        let v6 = message(header, vec![(1, fe80.to_vec())]);
        add_address(&mut interfaces, "eth0", &v6);
        assert_eq!(
            interfaces["eth0"].addresses["fe80::1"].to_json(),
            json!({"family": "inet6", "prefixlen": "64", "scope": "Link", "tags": ["nodad"]})
        );
    }

    #[test]
    fn this_host_has_loopback() {
        let mut out = Map::new();
        collect(&Host::local(), &mut out);
        let lo = &out["network"]["interfaces"]["lo"];
        assert_eq!(lo["encapsulation"], json!("Loopback"));
        assert_eq!(lo["addresses"]["127.0.0.1"]["netmask"], json!("255.0.0.0"));
    }
}
