//! Per-CPU counters of the XDP program, one slot per reason a frame took a path.

/// Indices into the per-CPU `COUNTERS` array.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Valid adverts for an instance we run (consumed or passed on, as the instance asks).
    AdvertAccepted = 0,
    /// Of those, the ones pushed to userspace through the ring buffer.
    AdvertEvent,
    /// Valid-looking adverts for a VRID we do not run on that interface: passed on.
    AdvertUnknownVrid,
    /// Adverts cut short, or whose IP header lengths disagree with the frame.
    DropTruncated,
    /// IPv4 header with IHL < 5, a fragment, a length below its own, or a wrong checksum.
    DropIpHeader,
    /// TTL / hop limit other than 255 (RFC 5798 §7.1).
    DropTtl,
    /// Version other than the instance's, or VRRPv2 over IPv6.
    DropVersion,
    /// Type other than ADVERTISEMENT.
    DropType,
    /// Address count that does not match the message length.
    DropAddressCount,
    /// Checksum that does not verify in the instance's checksum mode.
    DropChecksum,
    /// VRRPv2 authentication type or PASS data that does not match the instance's.
    DropAuth,
    /// Source not in the instance's peer allow-list (unicast mode).
    DropPeer,
    /// Events the ring buffer had no room for (userspace too slow).
    EventLost,
    /// ARP requests for an owned VIP answered with XDP_TX.
    ArpReply,
    /// Neighbour solicitations for an owned VIP answered with XDP_TX.
    NaReply,
    /// ARP requests / solicitations for a VIP, or frames to a virtual MAC, whose ownership
    /// lapsed (stale heartbeat): passed untouched.
    OwnershipStale,
    /// Frames to an owned virtual MAC, given the interface's MAC as destination and passed.
    VmacDelivered,
    /// Runs of a Backup's Master_Down_Timer in the kernel that found its Master alive and
    /// slept again.
    MasterDownRearmed,
    /// Runs that found the Master silent and woke the daemon.
    MasterDownDue,
}

impl Counter {
    /// Number of slots the counter array must have.
    pub const COUNT: u32 = 19;
    pub const ALL: [Counter; Self::COUNT as usize] = [
        Counter::AdvertAccepted,
        Counter::AdvertEvent,
        Counter::AdvertUnknownVrid,
        Counter::DropTruncated,
        Counter::DropIpHeader,
        Counter::DropTtl,
        Counter::DropVersion,
        Counter::DropType,
        Counter::DropAddressCount,
        Counter::DropChecksum,
        Counter::DropAuth,
        Counter::DropPeer,
        Counter::EventLost,
        Counter::ArpReply,
        Counter::NaReply,
        Counter::OwnershipStale,
        Counter::VmacDelivered,
        Counter::MasterDownRearmed,
        Counter::MasterDownDue,
    ];

    pub const fn index(self) -> u32 {
        self as u32
    }

    /// A stable snake_case name for status output and metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::AdvertAccepted => "advert_accepted",
            Counter::AdvertEvent => "advert_event",
            Counter::AdvertUnknownVrid => "advert_unknown_vrid",
            Counter::DropTruncated => "drop_truncated",
            Counter::DropIpHeader => "drop_ip_header",
            Counter::DropTtl => "drop_ttl",
            Counter::DropVersion => "drop_version",
            Counter::DropType => "drop_type",
            Counter::DropAddressCount => "drop_address_count",
            Counter::DropChecksum => "drop_checksum",
            Counter::DropAuth => "drop_auth",
            Counter::DropPeer => "drop_peer",
            Counter::EventLost => "event_lost",
            Counter::ArpReply => "arp_reply",
            Counter::NaReply => "na_reply",
            Counter::OwnershipStale => "ownership_stale",
            Counter::VmacDelivered => "vmac_delivered",
            Counter::MasterDownRearmed => "master_down_rearmed",
            Counter::MasterDownDue => "master_down_due",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_counter_at_its_index() {
        for (position, counter) in Counter::ALL.iter().enumerate() {
            assert_eq!(counter.index() as usize, position, "{counter:?}");
        }
    }
}
