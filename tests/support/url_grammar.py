"""A URL grammar as Hypothesis strategies: odd schemes and separators, userinfo, IPv4 in every
inet_aton spelling, IPv6 with zones, embedded IPv4 and unbalanced brackets, IDNA and raw Unicode
labels, percent-encoded and full-width hosts, very long hosts, ports out of range, paths and queries
of any text, control characters anywhere."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from .fake_network import PUBLIC

INTERESTING_V4 = ["127.0.0.1", "127.3.2.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                  "100.64.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", PUBLIC, "8.8.8.8"]
INTERESTING_V6 = ["::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:93.184.216.34", "::127.0.0.1",
                  "fe80::1", "fc00::1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001:0:4136:e378:8000:63bf:80ff:fffe",
                  "2606:2800:220:1:248:1893:25c8:1946", "ff02::1"]


def _number(value: int, base: str) -> str:
    return {"dec": str(value), "oct": "0" + format(value, "o"), "hex": hex(value), "HEX": "0X" + format(value, "X")}[base]


@st.composite
def ipv4_hosts(draw: st.DrawFn) -> str:
    """An IPv4 address in one of inet_aton's spellings: 1 to 4 parts, each in any base."""
    address = draw(st.one_of(st.sampled_from(INTERESTING_V4), st.ip_addresses(v=4).map(str)))
    octets = [int(o) for o in address.split(".")]
    parts = draw(st.integers(1, 4))
    numbers = octets[: parts - 1]
    rest = octets[parts - 1:]
    last = 0
    for octet in rest:
        last = last * 256 + octet
    numbers.append(last)
    bases = st.sampled_from(["dec", "dec", "oct", "hex", "HEX"])
    text = ".".join(_number(n, draw(bases)) for n in numbers)
    return text + draw(st.sampled_from(["", "", ".", "..", ".0", "x"]))


@st.composite
def ipv6_hosts(draw: st.DrawFn) -> str:
    address = ipaddress.IPv6Address(draw(st.one_of(st.sampled_from(INTERESTING_V6), st.ip_addresses(v=6).map(str))))
    form = draw(st.sampled_from(["compressed", "exploded", "v4tail"]))
    text = address.exploded if form == "exploded" else address.compressed
    if form == "v4tail":
        text = address.exploded[:30] + str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    zone = draw(st.sampled_from(["", "", "", "%25eth0", "%eth0", "%251", "%"]))
    opening, closing = draw(st.sampled_from([("[", "]"), ("[", "]"), ("[", "]"), ("[", ""), ("", "]"), ("", "")]))
    return f"{opening}{text}{zone}{closing}"


LABEL = st.from_regex(r"[a-zA-Z0-9_-]{1,20}", fullmatch=True)
UNICODE_LABEL = st.text(st.characters(codec="utf-8", categories=["Ll", "Lu", "Lo", "Nd", "Mn", "Pd", "Zs", "Cf"]),
                        min_size=1, max_size=12)


@st.composite
def name_hosts(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.one_of(LABEL, UNICODE_LABEL, st.just("xn--"), st.just("localhost"),
                                     st.just("internal"), st.just("")), min_size=1, max_size=5))
    name = ".".join(labels)
    if draw(st.integers(0, 9)) == 0:
        name = name * draw(st.integers(10, 60))  # very long hosts
    return name


def percent_encoded(host: str) -> str:
    return "".join(f"%{b:02x}" for b in host.encode("utf-8"))


HOSTS = st.one_of(ipv4_hosts(), ipv6_hosts(), name_hosts(), ipv4_hosts().map(percent_encoded),
                  ipv4_hosts().map(lambda h: h.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})),
                  st.text(max_size=30))
SCHEMES = st.sampled_from(["http", "https", "HTTP", "hTtPs", "ftp", "file", "gopher", "javascript", "ws", "httpx"])
SEPARATORS = st.sampled_from(["://", "://", "://", "://", ":/", ":///", ":\\\\", ""])
USERINFO = st.one_of(st.just(""), st.from_regex(r"[a-z0-9:%@._-]{0,20}@", fullmatch=True), st.just("example.com@"))
PORTS = st.one_of(st.just(""), st.integers(-1, 70000).map(lambda p: f":{p}"), st.sampled_from([":", ":80:80", ":0x50"]))
TAILS = st.text(st.characters(codec="utf-8"), max_size=60).map(lambda t: "/" + t)
CONTROL = st.sampled_from(["", "", "", "", "\x00", "\t", "\n", "\r", "\x7f", "\x85", " "])


@st.composite
def grammar_urls(draw: st.DrawFn) -> str:
    url = (draw(SCHEMES) + draw(SEPARATORS) + draw(USERINFO) + draw(HOSTS) + draw(PORTS) + draw(TAILS)
           + draw(st.sampled_from(["", "?q=1", "?" + "q" * 500, "#frag"])))
    control = draw(CONTROL)
    if control:
        at = draw(st.integers(0, len(url)))
        url = url[:at] + control + url[at:]
    return url
