//! xvrrpd: a VRRP daemon (RFC 3768, RFC 5798) whose hot path runs in XDP.
//!
//! - [`wire`]: VRRP, ARP and NDP encode/decode over byte slices.
//! - [`fsm`]: the sans-IO RFC 5798 state machine; time is an input.
//! - [`dataplane`]: the XDP data plane and its socket-only fallback, behind one trait.
//! - [`control`]: the control socket and the status it reports.
//! - [`units`]: the time units VRRP versions disagree on.
pub mod config;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod fsm;
pub mod metrics;
pub mod netlink;
pub mod notify;
pub mod sleeper;
pub mod track;
pub mod tx;
pub mod units;
pub mod wire;
