"""The one URL parser of pagefix: every URL a user gives (path argument, list item, the service's
`file` field, a redirect's Location) is read here, into one normalised form, before anything is
resolved or fetched.

The host is read the way a browser and the system resolver read it, so that the address checked
is the address reached: IPv4 in any spelling `inet_aton` accepts (`2130706433`, `0x7f.1`,
`0177.0.0.1`, `127.1`) becomes dotted-decimal, IPv6 is unbracketed and compressed, a non-ASCII
name goes through IDNA (UTS 46), and a name that is neither is checked against DNS's rules. What
cannot be read that way is refused with a `FetchError` saying why, never passed on to a library
that might read it differently.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import idna

from ..errors import FetchError

__all__ = ["WebURL", "is_url", "parse_url"]

#: What `parse_url` accepts when no limit is given (`Limits.max_url_length` is the setting).
DEFAULT_MAX_LENGTH = 8192

# C0 controls, DEL and C1 controls: never part of a URL; some parsers drop them silently (so
# `http://12\t7.0.0.1/` would reach 127.0.0.1), others stop at them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PORT = re.compile(r"[0-9]{1,5}")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_HEX = re.compile(r"0x[0-9a-f]{1,64}")  # a bare "0x": the URL standard reads 0, the C library refuses
_OCTAL = re.compile(r"0[0-7]{1,64}")
_DECIMAL = re.compile(r"[1-9][0-9]*|0")
_SHOWN = 80  # characters of a refused URL quoted back in its message


@dataclass(frozen=True)
class WebURL:
    """A URL as pagefix will request it."""

    #: The URL sent: scheme and host normalised, the fragment dropped.
    url: str
    scheme: str
    #: A lower-case ASCII name (IDNA applied), dotted-decimal IPv4, or IPv6 without brackets.
    host: str
    port: int
    #: The host as an address when it is one, however it was spelled; None for a name.
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None


def is_url(text: object) -> bool:
    """Whether `text` is meant as a web URL (an http or https scheme); `parse_url` says whether it is a
    usable one.

    >>> is_url("HTTPS://example.com/a.jpg"), is_url("scan.jpg")
    (True, False)
    """
    return isinstance(text, str) and text[:8].lower().startswith(("http://", "https://"))


def parse_url(text: str, max_length: int = DEFAULT_MAX_LENGTH) -> WebURL:
    """Read an http(s) URL, or raise `FetchError` naming what is wrong with it.

    >>> parse_url("http://0x7f.1:8080/page.jpg#top").url
    'http://127.0.0.1:8080/page.jpg'
    """
    if not isinstance(text, str):
        raise FetchError(f"a URL must be text, not {type(text).__name__}", reason="invalid_url")
    if len(text) > max_length:
        raise FetchError(
            f"invalid URL {_shown(text)}: it is {len(text)} characters long, over the limit of {max_length} "
            "(Limits.max_url_length)", reason="invalid_url",
        )
    control = _CONTROL.search(text)
    if control:
        raise FetchError(
            f"invalid URL {_shown(text)}: control character U+{ord(control.group()):04X} at position {control.start()}",
            reason="invalid_url",
        )
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise FetchError(f"only http and https URLs can be fetched, not {_shown(text)}", reason="scheme", url=text)
    scheme = scheme.lower()
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # unbalanced brackets, mostly; the checks below say it better
        parts = None
        reason = str(exc)
    else:
        reason = ""
    authority = text[len(scheme) + 3:]
    authority = authority[: min((authority.find(c) for c in "/?#" if c in authority), default=len(authority))]
    try:
        host, address, port, userinfo = _authority(authority, scheme)
    except _Refused as exc:
        raise FetchError(f"invalid URL {_shown(text)}: {exc}", reason="invalid_url") from None
    if parts is None:
        raise FetchError(f"invalid URL {_shown(text)}: {reason}", reason="invalid_url")
    shown_host = f"[{host}]" if isinstance(address, ipaddress.IPv6Address) else host
    default_port = 443 if scheme == "https" else 80
    netloc = (f"{userinfo}@" if userinfo is not None else "") + shown_host
    if port != default_port:
        netloc += f":{port}"
    rebuilt = f"{scheme}://{netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    try:
        checked = httpx.URL(rebuilt)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        raise FetchError(f"invalid URL {_shown(text)}: {exc}", reason="invalid_url") from None
    # Defence in depth: the client must read the host exactly as it was checked here.
    if checked.raw_host.decode("ascii", "replace") != host or (checked.port or default_port) != port:
        raise FetchError(f"invalid URL {_shown(text)}: its host cannot be read unambiguously", reason="invalid_url")
    return WebURL(str(checked), scheme, host, port, address)


class _Refused(Exception):
    pass


def _authority(
    authority: str, scheme: str
) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None, int, str | None]:
    """(host, address or None, port, userinfo or None) of `user@host:port`."""
    if not authority:
        raise _Refused("it has no host")
    if "\\" in authority:
        # Browsers read a backslash as a slash, Python as part of the name: two readings, refused.
        raise _Refused("a backslash in the host part")
    userinfo: str | None
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        userinfo = None
    elif "@" in userinfo:
        raise _Refused("more than one '@' before the host (write '%40' inside a user name or password)")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _Refused("the host has an unbalanced '[' (an IPv6 address is written [address])")
        literal, rest = hostport[1:end], hostport[end + 1:]
        if rest and not rest.startswith(":"):
            raise _Refused(f"unexpected {rest[:20]!r} after the IPv6 address")
        port_text = rest[1:] if rest else None
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = _ipv6(literal)
        host = str(address)
    else:
        if "[" in hostport or "]" in hostport:
            raise _Refused("a '[' or ']' outside an IPv6 address (an IPv6 address is written [address])")
        name, colon, port_text_or_empty = hostport.partition(":")
        port_text = port_text_or_empty if colon else None
        host, address = _host(name)
    return host, address, _port(port_text, scheme), userinfo


def _port(text: str | None, scheme: str) -> int:
    if text is None or text == "":
        return 443 if scheme == "https" else 80
    if not _PORT.fullmatch(text) or not 0 < int(text) <= 65535:
        raise _Refused(f"the port {text[:20]!r} is not a number from 1 to 65535")
    return int(text)


def _ipv6(literal: str) -> ipaddress.IPv6Address:
    if literal[:1] in ("v", "V"):
        raise _Refused("IPvFuture addresses ([v...]) are not supported")
    if "%" in literal:
        # Zones name an interface of this machine; browsers refuse them in URLs, and so do we.
        raise _Refused("an IPv6 zone identifier ('%25...') is not accepted in a URL")
    try:
        return ipaddress.IPv6Address(literal)
    except ValueError:
        raise _Refused(f"[{literal[:60]}] is not a valid IPv6 address") from None


def _host(name: str) -> tuple[str, ipaddress.IPv4Address | None]:
    """A host that is not in brackets: an IPv4 address in any spelling, or a DNS name."""
    if not name:
        raise _Refused("it has no host")
    if "%" in name:
        raise _Refused(f"the host {name[:60]!r} is percent-encoded (write the name itself)")
    if name.isascii():
        ascii_name = name.lower()
    else:
        try:
            # UTS 46 maps what a browser maps (full-width digits and dots, case) before the check below,
            # so `１２７.０.０.１` is read as the address it spells.
            ascii_name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise _Refused(f"the host {name[:60]!r} is not a valid internationalised domain name ({exc})") from None
    labels = ascii_name.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()  # one trailing dot: the root, allowed
    if _numeric(labels[-1]):
        address = _ipv4(labels, ascii_name)
        return str(address), address
    if len(ascii_name.rstrip(".")) > 253:
        raise _Refused(f"the host name is {len(ascii_name)} characters long, over DNS's 253")
    for label in labels:
        if not label:
            raise _Refused(f"the host {ascii_name[:60]!r} has an empty label ('..')")
        if len(label) > 63:
            raise _Refused(f"the host has a label of {len(label)} characters, over DNS's 63")
        if not _LABEL.fullmatch(label):
            bad = next((c for c in label if not (c.isalnum() or c in "-_")), "-")
            what = f"the character {bad!r}" if bad != "-" else "a '-' at the start or end of a label"
            raise _Refused(f"the host {ascii_name[:60]!r} has {what}, not allowed in a host name")
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError) as exc:
                raise _Refused(f"the host label {label[:63]!r} is not valid punycode ({exc})") from None
    return ascii_name, None


def _numeric(label: str) -> bool:
    """A host whose last label is a number is an IPv4 address (the URL standard's rule), whatever
    its other labels hold."""
    if label.startswith("0x"):
        return all(c in "0123456789abcdef" for c in label[2:])
    return label.isascii() and label.isdigit()


def _ipv4(labels: list[str], shown: str) -> ipaddress.IPv4Address:
    """inet_aton's reading: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last
    part fills the bytes the others leave."""
    if len(labels) > 4:
        raise _Refused(f"the host {shown[:60]!r} ends in a number but has more than 4 parts, so it is no IPv4 address")
    values = []
    for part in labels:
        # Digits only, checked before int(), which would also take "+1", "-1", " 1" and "1_0".
        if _HEX.fullmatch(part):
            value = int(part[2:], 16)
        elif _OCTAL.fullmatch(part):
            value = int(part, 8)
        elif _DECIMAL.fullmatch(part) and len(part) <= 20:
            value = int(part, 10)
        else:
            raise _Refused(f"the host {shown[:60]!r} ends in a number but {part[:20]!r} is not one, "
                           "so it is no IPv4 address")
        values.append(value)
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 256 ** (5 - len(values)):
        raise _Refused(f"the host {shown[:60]!r} is an IPv4 address out of range")
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def _shown(text: str) -> str:
    return repr(text[:_SHOWN] + ("..." if len(text) > _SHOWN else ""))
