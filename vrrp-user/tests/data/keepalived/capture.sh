#!/bin/sh
# Re-captures the keepalived frames in this directory (root; needs keepalived, tcpdump, iproute2).
# Builds two throwaway namespaces joined by a veth pair (documentation addresses only), runs
# keepalived as MASTER in wcap-a with each *.conf here for a few seconds, captures in wcap-b,
# then stops keepalived with SIGTERM (so the priority-0 advert is captured too) and cleans up.
# Usage: capture.sh OUTDIR      (writes OUTDIR/<conf-name>.pcap)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: capture.sh OUTDIR}
mkdir -p "$out"
cleanup() {
    [ -n "${ka:-}" ] && kill "$ka" 2>/dev/null || true
    [ -n "${td:-}" ] && kill "$td" 2>/dev/null || true
    ip netns del wcap-a 2>/dev/null || true
    ip netns del wcap-b 2>/dev/null || true
}
trap cleanup EXIT INT TERM
cleanup
ip netns add wcap-a
ip netns add wcap-b
for ns in wcap-a wcap-b; do
    # No DAD, so the link-local and global IPv6 addresses are usable at once.
    ip netns exec $ns sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
done
ip -n wcap-a link add wa0 address 02:00:00:00:0a:01 type veth peer name wb0 address 02:00:00:00:0b:01 netns wcap-b
ip -n wcap-a addr add 192.0.2.1/24 dev wa0
ip -n wcap-a addr add 2001:db8::1/64 dev wa0
ip -n wcap-b addr add 192.0.2.2/24 dev wb0
ip -n wcap-b addr add 2001:db8::2/64 dev wb0
ip -n wcap-a link set wa0 up
ip -n wcap-b link set wb0 up
sleep 1
for conf in "$here"/*.conf; do
    name=$(basename "$conf" .conf)
    ip netns exec wcap-b tcpdump -U -n -i wb0 -w "$out/$name.pcap" 2>/dev/null &
    td=$!
    sleep 1
    ip netns exec wcap-a keepalived -n -l -D -P -f "$conf" \
        -p /tmp/wcap-ka.pid -r /tmp/wcap-ka-vrrp.pid >"$out/$name.log" 2>&1 &
    ka=$!
    sleep 7
    kill -TERM "$ka"; wait "$ka" || true; ka=
    sleep 1
    kill -INT "$td"; wait "$td" || true; td=
    # VIPs keepalived left behind would confuse the next run; keep the link-local address,
    # which keepalived needs to send IPv6 adverts.
    ip -n wcap-a addr flush dev wa0 scope global
    ip -n wcap-a addr add 192.0.2.1/24 dev wa0
    ip -n wcap-a addr add 2001:db8::1/64 dev wa0
done
