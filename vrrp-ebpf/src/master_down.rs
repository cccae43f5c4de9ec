//! Backups' Master_Down_Timers in the kernel, so that a Backup's daemon sleeps while the
//! Master it hears is alive (RFC 5798 §6.4.2: the timer is reset by each advert).
//!
//! Each observation slot has a `bpf_timer`. The daemon arms it by running the watch program on
//! a [`MasterDownRequest`]; when the timer fires, its callback compares the deadline with the
//! slot's last advert: a live Master moves the deadline on by `postpone_ns` and the timer
//! sleeps again (no wake-up of userspace), a silent one gets a `MASTER_DOWN_DUE` event. The
//! daemon's state machine, fed the observation, still makes the decision.
use core::ffi::c_void;

use aya_ebpf::{
    bindings::{bpf_timer, xdp_action},
    btf_maps::Array,
    helpers::{
        bpf_ktime_get_ns, bpf_timer_cancel, bpf_timer_init, bpf_timer_set_callback, bpf_timer_start,
    },
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use vrrp_common::{
    Counter,
    maps::{AdvertEvent, MAX_INSTANCES, MasterDownRequest, MasterDownWatch, event_reasons},
};

use crate::{EVENTS, OBSERVATIONS, count, packet::ptr_at};

/// What each slot of [`MASTER_DOWN_TIMERS`] holds. The kernel finds the timer through the
/// map's BTF, which is why this map is declared the BTF way.
#[repr(C)]
pub struct MasterDownTimer {
    timer: bpf_timer,
    /// Written by the watch program only; the callback reads it.
    watch: MasterDownWatch,
    /// Counts the watch program's requests, each counted after its watch is written: a
    /// callback that sees the count move while it ran knows the watch changed under it.
    requests: u64,
}

#[btf_map]
static MASTER_DOWN_TIMERS: Array<MasterDownTimer, { MAX_INSTANCES as usize }> = Array::new();

/// `bpf_timer_init`'s clock: CLOCK_MONOTONIC, bpf_ktime_get_ns's.
const CLOCK_MONOTONIC: u64 = 1;
const EBUSY: i64 = 16;

/// Arms (or stops) a slot's timer with the [`MasterDownRequest`] it is run on. Never attached:
/// the daemon runs it with BPF_PROG_TEST_RUN. XDP_PASS: done; XDP_DROP: a request too short
/// or for a slot beyond the array; XDP_ABORTED: a timer helper failed.
#[xdp]
pub fn xvrrpd_master_down(ctx: XdpContext) -> u32 {
    match watch(&ctx) {
        Ok(()) => xdp_action::XDP_PASS,
        Err(action) => action,
    }
}

#[inline(always)]
fn watch(ctx: &XdpContext) -> Result<(), u32> {
    let request = ptr_at::<MasterDownRequest>(ctx, 0).map_err(|_| xdp_action::XDP_DROP)?;
    // SAFETY: inside the frame (checked by `ptr_at`); the frame may be unaligned.
    let request = unsafe { core::ptr::read_unaligned(request) };
    if request.slot >= MAX_INSTANCES {
        return Err(xdp_action::XDP_DROP);
    }
    let slot = MASTER_DOWN_TIMERS
        .get_ptr_mut(request.slot)
        .ok_or(xdp_action::XDP_DROP)?;
    // SAFETY: a live array element. The callback may run on another CPU meanwhile: it only
    // reads the watch, and `requests` tells it that the watch changed.
    let slot = unsafe { &mut *slot };
    slot.watch = request.watch;
    // SAFETY: plain loads and stores of a field of the element.
    unsafe {
        let requests = core::ptr::read_volatile(&slot.requests);
        core::ptr::write_volatile(&mut slot.requests, requests.wrapping_add(1));
    }
    let timer = &mut slot.timer as *mut bpf_timer;
    if request.watch.armed == 0 {
        // SAFETY: a timer of this map; cancelling one never initialised is a harmless error.
        // A callback running meanwhile may arm it once more: that run finds it unarmed.
        unsafe { bpf_timer_cancel(timer) };
        return Ok(());
    }
    let map = &MASTER_DOWN_TIMERS as *const _ as *mut c_void;
    // SAFETY: `timer` is in `map`; -EBUSY means it was initialised before, which is fine.
    let status = unsafe { bpf_timer_init(timer, map, CLOCK_MONOTONIC) };
    if status != 0 && status != -EBUSY {
        return Err(xdp_action::XDP_ABORTED);
    }
    // SAFETY: `master_down_fired` has the callback signature the kernel calls it with.
    if unsafe { bpf_timer_set_callback(timer, master_down_fired as *mut c_void) } != 0 {
        return Err(xdp_action::XDP_ABORTED);
    }
    // SAFETY: no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let delay = request.watch.deadline_ns.saturating_sub(now);
    // SAFETY: an initialised timer of this map.
    if unsafe { bpf_timer_start(timer, delay, 0) } != 0 {
        return Err(xdp_action::XDP_ABORTED);
    }
    Ok(())
}

/// The timer's callback (the kernel passes the map, the slot's key and its value).
#[inline(never)]
extern "C" fn master_down_fired(
    _map: *mut c_void,
    slot: *mut u32,
    timer: *mut MasterDownTimer,
) -> i32 {
    // SAFETY: the kernel passes this map's key and value, live for the call.
    let (slot, timer) = unsafe { (*slot, &mut *timer) };
    // SAFETY: a plain load of a field of the element.
    let requests = unsafe { core::ptr::read_volatile(&timer.requests) };
    if timer.watch.armed == 0 {
        return 0;
    }
    // SAFETY: no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let deadline = watched_deadline(slot, &timer.watch);
    if deadline <= now {
        let event = AdvertEvent {
            ktime_ns: now,
            instance: timer.watch.instance,
            reasons: event_reasons::MASTER_DOWN_DUE,
            ..AdvertEvent::default()
        };
        match EVENTS.output::<AdvertEvent>(&event, 0) {
            Ok(()) => count(Counter::MasterDownDue),
            Err(_) => count(Counter::EventLost),
        }
        // Not re-armed: the daemon watches anew if its state machine wants to.
        return 0;
    }
    // SAFETY: this very timer, initialised before it could fire.
    unsafe { bpf_timer_start(&mut timer.timer, deadline - now, 0) };
    count(Counter::MasterDownRearmed);
    // SAFETY: as above.
    if unsafe { core::ptr::read_volatile(&timer.requests) } != requests {
        // A request came while we ran, and our start may have followed its own: the new
        // watch's deadline, not the one computed from the old.
        let deadline = watched_deadline(slot, &timer.watch);
        // SAFETY: as above.
        unsafe { bpf_timer_start(&mut timer.timer, deadline.saturating_sub(now), 0) };
    }
    0
}

/// The watch's deadline, moved on to Master_Down_Interval past the last advert seen (of the
/// watched generation) when adverts postpone it.
#[inline(always)]
fn watched_deadline(slot: u32, watch: &MasterDownWatch) -> u64 {
    if watch.postpone_ns != 0
        && let Some(observation) = OBSERVATIONS.get(slot)
        && observation.generation == watch.generation
    {
        return watch
            .deadline_ns
            .max(observation.last_advert_ns + watch.postpone_ns);
    }
    watch.deadline_ns
}
