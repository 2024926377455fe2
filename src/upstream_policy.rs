//! Which addresses a tenant's provider `base_url` may reach. An organization admin sets that
//! URL, and the gateway POSTs there with answers passed back: without a guard it would be a
//! way into the gateway's own networks (cloud metadata at 169.254.169.254, databases on
//! loopback, services on private ranges). Addresses in blocked ranges are refused unless the
//! operator allows their network (`TOLLGATE_ALLOWED_UPSTREAM_NETWORKS`). The check runs when
//! the URL is set and again whenever a connection is opened, since a name may resolve
//! elsewhere later. A leaf: used by the management API and the proxy's connector.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// How long the management API waits for a `base_url`'s name to resolve.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// An IP network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// `10.0.0.0/8`, `::1/128`, or a bare address (a single host).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP network (e.g. 127.0.0.0/8, ::1/128)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8, bits: u32) -> bool {
    let shift = bits - u32::from(prefix);
    shift >= bits || (a >> shift) == (b >> shift)
}

/// An IPv4 address written in IPv6 (`::ffff:127.0.0.1`, `::127.0.0.1`) as the IPv4 address it
/// reaches, so that one rule covers both forms.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => match v6.segments() {
                // IPv4-compatible (deprecated, still routed by some stacks); `::` and `::1`
                // stay IPv6.
                [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => v6.to_ipv4().map_or(ip, IpAddr::V4),
                // NAT64's well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address.
                [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
                    IpAddr::V4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))
                }
                _ => ip,
            },
        },
        v4 => v4,
    }
}

/// Whether `ip` lies in a range a tenant must not reach by default: this host, its links,
/// private and shared networks, multicast and reserved space.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || ip.is_multicast()
        || a >= 240 // reserved, broadcast
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || ip.is_multicast()
}

/// The operator's allowances over the default rule.
#[derive(Debug, Clone, Default)]
pub struct UpstreamPolicy {
    allowed: Vec<Network>,
}

impl UpstreamPolicy {
    /// A comma-separated list of networks; empty entries are ignored.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let allowed = list
            .iter()
            .flat_map(|l| l.split(','))
            .filter(|s| !s.trim().is_empty())
            .map(Network::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { allowed })
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed.iter().any(|n| n.contains(ip))
    }

    /// Why `ip` may not be reached, if it may not.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        (!self.allows(ip)).then(|| {
            format!(
                "{ip} is on a loopback, private, link-local or otherwise internal network; \
                 the gateway's operator can allow it with TOLLGATE_ALLOWED_UPSTREAM_NETWORKS"
            )
        })
    }

    /// Checks a URL a tenant gives: `http` or `https`, no credentials in it, and a host that
    /// is, or resolves only to, addresses this policy allows.
    pub async fn check_url(&self, url: &str) -> Result<(), String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| "base_url must be an absolute http(s) URL".to_string())?;
        let port = match uri.scheme_str() {
            Some("https") => 443,
            Some("http") => 80,
            _ => return Err("base_url must use http or https".into()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "base_url must name a host".to_string())?;
        if authority.as_str().contains('@') {
            return Err("base_url must not carry credentials (user@host)".into());
        }
        let host = authority.host();
        let port = authority.port_u16().unwrap_or(port);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.refusal(ip).map_or(Ok(()), Err);
        }
        let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((bare, port)))
            .await
            .map_err(|_| format!("base_url's host `{bare}` did not resolve in time"))?
            .map_err(|_| format!("base_url's host `{bare}` does not resolve"))?
            .collect::<Vec<_>>();
        if found.is_empty() {
            return Err(format!("base_url's host `{bare}` does not resolve"));
        }
        match found.iter().find_map(|a| self.refusal(a.ip())) {
            Some(why) => Err(format!("base_url's host `{bare}` resolves to {why}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "upstream_policy_tests.rs"]
mod tests;
