//! The source address of a request, for everything keyed by it (the link page's click
//! IP, the login and API-secret throttle): the socket peer, unless the peer is one of the
//! configured `trusted_proxies`; then the right-most `X-Forwarded-For` address that is not
//! itself a trusted proxy ([`source_ip`]). A client that talks to the server directly
//! cannot choose its address by sending the header.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

/// The source address of a request whose parts are `parts` (see the module doc). Without
/// a socket address (a router driven without a listener, as in unit tests) it is
/// `0.0.0.0`, one address for all such requests.
pub fn of_parts(parts: &Parts, state: &AppState) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    source_ip(peer, &parts.headers, &state.config.trusted_proxies)
}

/// The source address. The socket peer, unless the peer is a trusted proxy; then walk
/// `X-Forwarded-For` (every such header, in order, comma-separated) from the right and
/// take the first address that is not a trusted proxy. If every listed address is a
/// trusted proxy, the left-most is taken; a malformed entry stops the walk at the last
/// address read before it (the peer if none). IPv4-mapped IPv6 addresses count as IPv4.
pub fn source_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.to_canonical() == ip);
    let mut ip = peer.to_canonical();
    if !is_trusted(ip) {
        return ip;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in entries.iter().rev() {
        let Some(next) = parse_forwarded(entry) else { break };
        ip = next;
        if !is_trusted(ip) {
            break;
        }
    }
    ip
}

/// An address range: `10.0.0.0/8`, `2001:db8::/32`, or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Self> {
        let (ip, len) = match s.trim().split_once('/') {
            Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, Some(len.parse::<u8>().ok()?)),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let ip = ip.to_canonical();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        (len <= max).then_some(Cidr { net: ip, len })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> u128 {
            match ip.to_canonical() {
                IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
                IpAddr::V6(v) => u128::from(v),
            }
        };
        let ip = ip.to_canonical();
        if ip.is_ipv4() != self.net.is_ipv4() {
            return false;
        }
        let mask = if self.len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.len))
        };
        bits(ip) & mask == bits(self.net) & mask
    }
}

/// An `X-Forwarded-For` entry: an IP, or an IP with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_forwarded(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_peer() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        let h = xff(&["198.51.100.9, 203.0.113.7"]);
        // Untrusted peer: the header is ignored.
        assert_eq!(source_ip(ip("192.0.2.1"), &h, &trusted), ip("192.0.2.1"));
        assert_eq!(source_ip(ip("192.0.2.1"), &h, &[]), ip("192.0.2.1"));
        // Trusted peer: the right-most untrusted address; a spoofed left part is ignored.
        assert_eq!(source_ip(ip("10.0.0.1"), &h, &trusted), ip("203.0.113.7"));
        let chain = xff(&["198.51.100.9", "203.0.113.7, 10.0.0.2"]);
        assert_eq!(source_ip(ip("10.0.0.1"), &chain, &trusted), ip("203.0.113.7"));
        // No header: the peer. All trusted: the left-most.
        assert_eq!(source_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
        assert_eq!(source_ip(ip("10.0.0.1"), &xff(&["10.0.0.2"]), &trusted), ip("10.0.0.2"));
        // Garbage stops the walk at the last address read.
        assert_eq!(
            source_ip(ip("10.0.0.1"), &xff(&["203.0.113.7, junk, 10.0.0.2"]), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(source_ip(ip("10.0.0.1"), &xff(&["junk"]), &trusted), ip("10.0.0.1"));
        // Ports and mapped addresses.
        assert_eq!(
            source_ip(ip("::ffff:10.0.0.1"), &xff(&["203.0.113.7:5555"]), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            source_ip(ip("10.0.0.1"), &xff(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(source_ip(ip("::ffff:192.0.2.1"), &h, &trusted), ip("192.0.2.1"));
    }
}
