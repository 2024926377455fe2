use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn internal_ranges_are_recognized() {
    for a in [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fd00::1",
        "fc12::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
        "ff02::1",
    ] {
        assert!(is_internal(ip(a)), "{a} is internal");
    }
    for a in [
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ] {
        assert!(!is_internal(ip(a)), "{a} is public");
    }
}

#[test]
fn networks_parse_and_contain() {
    let n = Network::parse("127.0.0.0/8").unwrap();
    assert!(n.contains(ip("127.9.9.9")));
    assert!(n.contains(ip("::ffff:127.0.0.1")), "mapped forms match");
    assert!(!n.contains(ip("128.0.0.1")));
    let one = Network::parse("::1/128").unwrap();
    assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
    let host = Network::parse("10.0.0.5").unwrap();
    assert!(host.contains(ip("10.0.0.5")) && !host.contains(ip("10.0.0.6")));
    let all = Network::parse("0.0.0.0/0").unwrap();
    assert!(all.contains(ip("10.0.0.1")) && !all.contains(ip("::1")));
    for bad in [
        "10.0.0.0/33",
        "::/129",
        "example.com",
        "10.0.0/8",
        "1.2.3.4/x",
        "",
    ] {
        assert!(Network::parse(bad).is_err(), "{bad} refused");
    }
}

#[test]
fn the_policy_allows_only_what_the_operator_names() {
    let none = UpstreamPolicy::default();
    assert!(!none.allows(ip("127.0.0.1")));
    assert!(none.allows(ip("8.8.8.8")));
    let p = UpstreamPolicy::parse(&["127.0.0.0/8, ::1/128".into()]).unwrap();
    assert!(p.allows(ip("127.0.0.1")) && p.allows(ip("::1")));
    assert!(!p.allows(ip("10.0.0.1")) && !p.allows(ip("169.254.169.254")));
    assert!(UpstreamPolicy::parse(&["127.0.0.0/8,nonsense".into()]).is_err());
    assert!(
        UpstreamPolicy::parse(&[" , ".into()]).is_ok(),
        "empty entries ignored"
    );
}

#[tokio::test]
async fn urls_are_checked_by_scheme_credentials_and_address() {
    let none = UpstreamPolicy::default();
    for bad in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/v1",
        "http://[::1]:6379/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:8080/",
        "http://localhost:8080/v1",
        "http://2130706433/",
        "http://127.1/",
        "ftp://example.com/",
        "http://user:pw@8.8.8.8/",
        "not a url",
    ] {
        assert!(none.check_url(bad).await.is_err(), "{bad} refused");
    }
    assert!(none.check_url("https://8.8.8.8/v1").await.is_ok());
    let loopback = UpstreamPolicy::parse(&["127.0.0.0/8,::1/128".into()]).unwrap();
    assert!(loopback.check_url("http://127.0.0.1:9/v1").await.is_ok());
    assert!(loopback.check_url("http://localhost:9/v1").await.is_ok());
    assert!(loopback.check_url("http://10.0.0.1/v1").await.is_err());
}
