#!/usr/bin/env python3
"""Turns frames of the pcaps written by capture.sh into the *.hex vectors the tests read.

Usage: extract.py PCAPDIR   (rewrites every vector listed in VECTORS below)
A vector file is '#' comment lines followed by the frame as hex, 16 bytes per line.
"""
import struct
import sys
import datetime
import os

# name: (capture, frame number as tshark counts it, what the frame is)
VECTORS = {
    "a-v2-mcast.advert": ("a-v2-mcast", 6, "first VRRPv2 advert after entering MASTER"),
    "a-v2-mcast.prio0": ("a-v2-mcast", 16, "VRRPv2 priority-0 advert sent on SIGTERM"),
    "a-v2-mcast.garp": ("a-v2-mcast", 7, "first gratuitous ARP for the VIP after entering MASTER"),
    "b-v2-pass.advert": ("b-v2-pass", 6, "first VRRPv2 advert with PASS authentication"),
    "b-v2-pass.prio0": ("b-v2-pass", 22, "VRRPv2 priority-0 advert with PASS authentication"),
    "c-v3-v4-fast.advert": ("c-v3-v4-fast", 3, "first VRRPv3 IPv4 advert, 10 cs interval"),
    "c-v3-v4-fast.prio0": ("c-v3-v4-fast", 92, "VRRPv3 IPv4 priority-0 advert"),
    "d-v3-v6.advert": ("d-v3-v6", 5, "first VRRPv3 IPv6 advert (link-local source)"),
    "d-v3-v6.prio0": ("d-v3-v6", 16, "VRRPv3 IPv6 priority-0 advert"),
    "d-v3-v6.na": ("d-v3-v6", 6, "first unsolicited NA for the VIP after entering MASTER"),
    "e-v2-unicast.advert": ("e-v2-unicast", 4, "first unicast VRRPv2 advert"),
    "e-v2-unicast.arp-request": ("e-v2-unicast", 2, "kernel ARP request (wcap-a resolving the peer)"),
    "e-v2-unicast.arp-reply": ("e-v2-unicast", 3, "kernel ARP reply from wcap-b to that request"),
    "f-v3-v4-unicast.advert": ("f-v3-v4-unicast", 4, "first unicast VRRPv3 IPv4 advert"),
    "g-v3-v6-unicast.advert": ("g-v3-v6-unicast", 4, "first unicast VRRPv3 IPv6 advert"),
    "g-v3-v6-unicast.ns": ("g-v3-v6-unicast", 2, "kernel NS (wcap-a resolving the peer, multicast)"),
    "g-v3-v6-unicast.na-solicited": ("g-v3-v6-unicast", 3, "kernel NA from wcap-b answering that NS"),
    "g-v3-v6-unicast.na": ("g-v3-v6-unicast", 6, "first unsolicited NA for the first VIP"),
}


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + incl]
        off += incl


def main():
    pcapdir = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    today = datetime.date.today().isoformat()
    for name, (cap, number, what) in VECTORS.items():
        frame = list(frames(os.path.join(pcapdir, cap + ".pcap")))[number - 1]
        lines = [
            f"# {what}.",
            f"# keepalived v2.2.7 (Debian package), config {cap}.conf, captured {today} with tcpdump",
            f"# on the peer end of a veth pair (capture.sh), frame {number} of {cap}.pcap.",
        ]
        for i in range(0, len(frame), 16):
            lines.append(" ".join(f"{b:02x}" for b in frame[i:i + 16]))
        with open(os.path.join(here, name + ".hex"), "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
