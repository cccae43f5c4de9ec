//! Time units on the wire. VRRPv2 carries its advertisement interval in whole seconds
//! (RFC 3768 §5.3.7), VRRPv3 in centiseconds (RFC 5798 §5.2.7); mixing them is a classic bug,
//! so neither is ever a bare integer outside `wire`.
use std::time::Duration;

/// A time in centiseconds, VRRPv3's unit. The v3 field is 12 bits: 1..=4095 is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centiseconds(pub u16);

impl Centiseconds {
    /// The largest value the 12-bit Max Adver Int field can hold (40.95 s).
    pub const MAX_V3: Centiseconds = Centiseconds(0x0fff);

    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }
}

/// A time in whole seconds, VRRPv2's unit for the Adver Int field (8 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub u8);

impl Seconds {
    pub const fn as_duration(self) -> Duration {
        Duration::from_secs(self.0 as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_their_unit() {
        assert_eq!(Centiseconds(100).as_duration(), Duration::from_secs(1));
        assert_eq!(Centiseconds(1).as_duration(), Duration::from_millis(10));
        assert_eq!(
            Centiseconds::MAX_V3.as_duration(),
            Duration::from_millis(40_950)
        );
        assert_eq!(Seconds(1).as_duration(), Duration::from_secs(1));
        assert_eq!(Seconds(255).as_duration(), Duration::from_secs(255));
    }
}
