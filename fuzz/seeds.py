#!/usr/bin/env python3
"""Writes the checked-in seed corpus, fuzz/corpus/<target>/, from the project's own test data,
and the libFuzzer dictionary of the TOML config target, fuzz/dict/config_toml.dict.

Sources: the frames captured from keepalived 2.2.7 (vrrp-user/tests/data/keepalived/*.hex),
the example configurations (vrrp-user/conf/*.toml) and a few test configurations, plus
variants built here from the captures: an 802.1Q tag, IPv4 options, Ethernet padding, a DAD
solicitation, an unknown NDP option. Each seed's name says where it comes from.

The dictionary holds the keys, table headers and quoted values of vrrp-user/conf/xvrrpd.toml,
which documents every key: libFuzzer splices them into the configs it mutates.

Run it again after changing a target's input layout, the captures or the example config; it
replaces everything it writes (python3, standard library only):

    python3 fuzz/seeds.py
"""
import pathlib
import re
import shutil
import struct

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CAPTURES = ROOT / "vrrp-user/tests/data/keepalived"
EXAMPLE_CONFIG = ROOT / "vrrp-user/conf/xvrrpd.toml"
KEEPALIVED_CONFIGS = ROOT / "vrrp-user/tests/data/keepalived-conf"
CONFIGS = [
    *sorted((ROOT / "vrrp-user/conf").glob("*.toml")),
    *(
        ROOT / "vrrp-user/tests/data/config" / name
        for name in [
            "minimal.toml",
            "good_ipv6.toml",
            "good_v2_unicast.toml",
            "warn_auth_long.toml",
            "bad_many.toml",
        ]
    ),
]

ETH_IPV4, ETH_ARP, ETH_IPV6, ETH_VLAN = 0x0800, 0x0806, 0x86DD, 0x8100
PROTO_VRRP, PROTO_ICMPV6 = 112, 58
# The `vrrp` target's flags byte (fuzz/src/lib.rs, VrrpInput).
FLAG_IPV6, FLAG_VRRP_ONLY, FLAG_REPAIR = 1, 2, 4


def read_hex(path):
    lines = [l for l in path.read_text().splitlines() if not l.lstrip().startswith("#")]
    return bytes(int(h, 16) for l in lines for h in l.split())


def fold_sum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data):
    return ~fold_sum(data) & 0xFFFF


def with_vlan(frame, tci=0x2064):
    """The frame with an 802.1Q tag (PCP 1, VID 100) after the addresses."""
    return frame[:12] + struct.pack("!HH", ETH_VLAN, tci) + frame[12:]


def with_ipv4_options(frame):
    """An untagged IPv4 frame with 4 bytes of NOP options and the header checksum redone
    (the VRRP checksum does not cover the options)."""
    ip = bytearray(frame[14:])
    ihl = (ip[0] & 0x0F) * 4
    header = bytearray(ip[:ihl] + b"\x01\x01\x01\x01")
    header[0] = 0x40 | (len(header) // 4)
    total = struct.unpack("!H", ip[2:4])[0] + 4
    header[2:4] = struct.pack("!H", total)
    header[10:12] = b"\0\0"
    header[10:12] = struct.pack("!H", checksum(bytes(header)))
    return frame[:14] + bytes(header) + bytes(ip[ihl:])


def padded(frame):
    """The frame as a real NIC delivers a short one: padded to 60 bytes."""
    return frame + b"\0" * max(0, 60 - len(frame))


def icmpv6_frame(eth, src, dst, message):
    """An Ethernet + IPv6 (hop limit 255) frame carrying `message` with its checksum filled."""
    pseudo = src + dst + struct.pack("!IxxxB", len(message), PROTO_ICMPV6)
    message = bytearray(message)
    message[2:4] = b"\0\0"
    message[2:4] = struct.pack("!H", checksum(pseudo + bytes(message)))
    ip = struct.pack("!IHBB", 6 << 28, len(message), PROTO_ICMPV6, 255) + src + dst
    return eth + ip + bytes(message)


def dad_solicitation(ns_frame):
    """The captured solicitation as duplicate address detection sends it: from ::, no
    source link-layer option (RFC 4862 §5.4.2)."""
    ip = ns_frame[14:]
    dst, message = ip[24:40], ip[40:64]
    return icmpv6_frame(ns_frame[:14], bytes(16), dst, message)


def with_unknown_ndp_option(ns_frame):
    """The captured solicitation with a nonce option (type 14, RFC 3971) before its source
    link-layer option: receivers skip options they do not use."""
    ip = ns_frame[14:]
    src, dst, message = ip[8:24], ip[24:40], ip[40:]
    nonce = bytes([14, 1, 1, 2, 3, 4, 5, 6])
    return icmpv6_frame(ns_frame[:14], src, dst, message[:24] + nonce + message[24:])


def vrrp_input(frame, flags=0):
    """The `vrrp` target's input for an untagged advert frame."""
    ethertype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if ethertype == ETH_IPV6:
        return bytes([flags | FLAG_IPV6]) + ip[8:40] + ip[40:]
    ihl = (ip[0] & 0x0F) * 4
    return bytes([flags]) + ip[12:20] + ip[ihl:]


def write(target, seeds):
    directory = FUZZ / "corpus" / target
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, data in seeds.items():
        (directory / name).write_bytes(data)
    print(f"{directory.relative_to(ROOT)}: {len(seeds)} seeds")


def write_dict(target, tokens, source):
    """A libFuzzer dictionary: one quoted token per line, non-printable bytes escaped."""
    def quote(token):
        return "".join(
            chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\' else f"\\x{b:02x}"
            for b in token.encode()
        )

    path = FUZZ / "dict" / f"{target}.dict"
    path.parent.mkdir(exist_ok=True)
    lines = [f"# Written by fuzz/seeds.py from {source.relative_to(ROOT)}."]
    lines += [f'"{quote(t)}"' for t in sorted(tokens)]
    path.write_text("\n".join(lines) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(tokens)} tokens")


def config_tokens(text):
    """Keys (also commented-out ones), table headers and quoted values of a TOML config."""
    tokens = set()
    for line in text.splitlines():
        line = line.strip()
        if key := re.match(r"#?\s*([a-z_]+)\s*=", line):
            tokens.add(key.group(1) + " = ")
        if re.fullmatch(r"\[\[?[a-z_]+\]\]?", line):
            tokens.add(line + "\n")
        tokens.update(f'"{v}"' for v in re.findall(r'"([^"]*)"', line))
    return tokens | {"true", "false", "ms", "s", "\n"}


def keepalived_tokens(text):
    """The keywords of a keepalived.conf (first word of each line) and its braces."""
    words = {line.split()[0] + " " for line in text.splitlines() if line.split()}
    return {w for w in words if re.fullmatch(r"[a-z_]+ ", w)} | {"{\n", "}\n", "\n", '"'}


def main():
    frames = {p.name.removesuffix(".hex"): read_hex(p) for p in sorted(CAPTURES.glob("*.hex"))}
    adverts = {n: f for n, f in frames.items() if n.endswith((".advert", ".prio0"))}
    ethertype = lambda f: struct.unpack("!H", f[12:14])[0]

    variants = {
        "a-v2-mcast.advert.vlan": with_vlan(frames["a-v2-mcast.advert"]),
        "d-v3-v6.advert.vlan": with_vlan(frames["d-v3-v6.advert"]),
        "c-v3-v4-fast.advert.ip-options": with_ipv4_options(frames["c-v3-v4-fast.advert"]),
        "b-v2-pass.advert.ip-options": with_ipv4_options(frames["b-v2-pass.advert"]),
        "f-v3-v4-unicast.advert.padded": padded(frames["f-v3-v4-unicast.advert"]),
        "e-v2-unicast.arp-request.vlan": with_vlan(frames["e-v2-unicast.arp-request"]),
        "e-v2-unicast.arp-request.padded": padded(frames["e-v2-unicast.arp-request"]),
        "g-v3-v6-unicast.ns.dad": dad_solicitation(frames["g-v3-v6-unicast.ns"]),
        "g-v3-v6-unicast.ns.nonce": with_unknown_ndp_option(frames["g-v3-v6-unicast.ns"]),
        "g-v3-v6-unicast.ns.vlan": with_vlan(frames["g-v3-v6-unicast.ns"]),
    }
    all_frames = {**frames, **variants}

    write("ethernet", all_frames)
    write("advert_frame", all_frames)
    write("arp", all_frames)
    write("ndp", all_frames)
    untagged = {n: f for n, f in all_frames.items() if ethertype(f) != ETH_VLAN}
    write("ipv4", {n: f[14:] for n, f in untagged.items() if ethertype(f) == ETH_IPV4})
    write("ipv6", {n: f[14:] for n, f in untagged.items() if ethertype(f) == ETH_IPV6})
    vrrp = {n: vrrp_input(f) for n, f in adverts.items()}
    # VRRPv3 over IPv4 checksummed over the message alone, as some peers send it.
    vrrp["c-v3-v4-fast.advert.vrrp-only"] = vrrp_input(
        frames["c-v3-v4-fast.advert"], FLAG_VRRP_ONLY | FLAG_REPAIR
    )
    write("vrrp", vrrp)
    write("config_toml", {p.name: p.read_bytes() for p in CONFIGS})
    write_dict("config_toml", config_tokens(EXAMPLE_CONFIG.read_text()), EXAMPLE_CONFIG)
    keepalived = sorted(p for p in KEEPALIVED_CONFIGS.rglob("*.conf") if p.is_file())
    write(
        "keepalived_conf",
        {"-".join(p.relative_to(KEEPALIVED_CONFIGS).parts): p.read_bytes() for p in keepalived},
    )
    write_dict(
        "keepalived_conf",
        set().union(*(keepalived_tokens(p.read_text(errors="replace")) for p in keepalived)),
        KEEPALIVED_CONFIGS,
    )


if __name__ == "__main__":
    main()
