//! One task per sync group: feeds its [`Coordinator`] the members' reports, sends the forced
//! transitions to the member tasks and runs the group's notify scripts.
use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::Duration,
};

use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use super::{Coordinator, Outcome, Report};
use crate::fsm::State;
use crate::{config::SyncGroup, daemon::instance::Input, notify::Notifier};

/// How long the group's queued notify scripts may still run when it stops or is replaced.
const NOTIFY_GRACE: Duration = Duration::from_secs(2);

enum Message {
    Report {
        member: String,
        report: Report,
    },
    /// A member's task (re)started with this inbox; `own_fault`: with a fault of its own.
    Attach {
        member: String,
        inbox: mpsc::Sender<Input>,
        own_fault: bool,
    },
    /// A member could not start (it waits for its interface).
    Leave {
        member: String,
    },
    /// A running member joined the group (a reload made it) as it is.
    Join {
        member: String,
        inbox: mpsc::Sender<Input>,
        state: State,
        own_fault: bool,
    },
    /// A reload changed the group's notify settings.
    Notifier(Notifier),
    Stop {
        notify: bool,
        done: oneshot::Sender<Ended>,
    },
}

/// A member's way to report to its group.
#[derive(Clone, Debug)]
pub struct MemberLink {
    member: String,
    tx: mpsc::UnboundedSender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Report { member, report } => write!(f, "Report({member}, {report:?})"),
            Message::Attach { member, .. } => write!(f, "Attach({member})"),
            Message::Leave { member } => write!(f, "Leave({member})"),
            Message::Join { member, state, .. } => write!(f, "Join({member}, {state})"),
            Message::Notifier(_) => f.write_str("Notifier"),
            Message::Stop { notify, .. } => write!(f, "Stop(notify: {notify})"),
        }
    }
}

/// What a stopped group leaves to the one that replaces it.
#[derive(Debug, Default)]
pub struct Ended {
    pub state: Option<State>,
    /// The members with a fault of their own.
    pub own_faults: BTreeSet<String>,
}

impl MemberLink {
    /// The member's task (re)started and takes its orders at `inbox`: as far as the group
    /// knows, it is initializing, with a fault of its own from the start (`own_fault`) or none.
    pub fn attach(&self, inbox: mpsc::Sender<Input>, own_fault: bool) {
        let _ = self.tx.send(Message::Attach {
            member: self.member.clone(),
            inbox,
            own_fault,
        });
    }

    /// The member could not start: it holds the group neither back nor in Fault.
    pub fn leave(&self) {
        let _ = self.tx.send(Message::Leave {
            member: self.member.clone(),
        });
    }

    /// The member, running, joins a group a reload made, in `state`; `own_fault`: with a
    /// fault of its own. Its orders come to `inbox` from now on.
    pub fn join(&self, inbox: mpsc::Sender<Input>, state: State, own_fault: bool) {
        let _ = self.tx.send(Message::Join {
            member: self.member.clone(),
            inbox,
            state,
            own_fault,
        });
    }

    /// Never waits: the group task never waits on a member either, so neither can block the
    /// other.
    pub fn report(&self, report: Report) {
        let _ = self.tx.send(Message::Report {
            member: self.member.clone(),
            report,
        });
    }
}

/// The daemon's handle on a running group.
#[derive(Debug)]
pub struct GroupHandle {
    config: SyncGroup,
    tx: mpsc::UnboundedSender<Message>,
    task: JoinHandle<()>,
}

impl GroupHandle {
    /// Starts the group. What the groups it replaces `left`: the members in `own_faults` hold
    /// it in Fault from the start ([`Coordinator::with_faults`]), which its notify scripts
    /// hear unless the group of its name was in Fault already (`left.state`). The running
    /// members in `joining` will join it as they are.
    pub fn spawn(
        config: &SyncGroup,
        notifier: Notifier,
        left: &Ended,
        joining: &BTreeSet<String>,
    ) -> GroupHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let coordinator = Coordinator::with_faults(&config.members, &left.own_faults, joining);
        let name: Arc<str> = config.name.as_str().into();
        if coordinator.state() == State::Fault && left.state != Some(State::Fault) {
            tracing::info!("sync group {name}: FAULT (a member's fault carried over)");
            notifier.transition(State::Fault, 0);
        }
        let task = tokio::spawn(run(name, coordinator, notifier, rx));
        GroupHandle {
            config: config.clone(),
            tx,
            task,
        }
    }

    pub fn config(&self) -> &SyncGroup {
        &self.config
    }

    /// The link for `member`'s task.
    pub fn link(&self, member: &str) -> MemberLink {
        MemberLink {
            member: member.to_owned(),
            tx: self.tx.clone(),
        }
    }

    pub fn replace_notifier(&mut self, config: &SyncGroup, notifier: Notifier) {
        self.config = config.clone();
        let _ = self.tx.send(Message::Notifier(notifier));
    }

    /// Stops the group; with `notify`, its stop scripts run first (daemon shutdown). Returns
    /// its state and the members that had a fault of their own.
    pub async fn stop(self, notify: bool) -> Ended {
        let (done, ack) = oneshot::channel();
        let mut ended = Ended::default();
        if self.tx.send(Message::Stop { notify, done }).is_ok()
            && let Ok(Ok(left)) = tokio::time::timeout(NOTIFY_GRACE * 2, ack).await
        {
            ended = left;
        }
        self.task.abort();
        ended
    }
}

async fn run(
    name: Arc<str>,
    mut coordinator: Coordinator,
    mut notifier: Notifier,
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    let mut inboxes: HashMap<String, mpsc::Sender<Input>> = HashMap::new();
    while let Some(message) = rx.recv().await {
        match message {
            Message::Report { member, report } => {
                let what = match report {
                    Report::Transition { to, .. } => format!("entered {to}"),
                    Report::OwnFault(true) => "reports a fault".to_owned(),
                    Report::OwnFault(false) => "no longer reports a fault".to_owned(),
                    Report::WantsMaster(true) => "wants Master".to_owned(),
                    Report::WantsMaster(false) => "no longer wants Master".to_owned(),
                };
                let outcome = coordinator.report(&member, report);
                carry_out(&name, &member, &what, outcome, &inboxes, &notifier).await;
            }
            Message::Attach {
                member,
                inbox,
                own_fault,
            } => {
                inboxes.insert(member.clone(), inbox);
                let outcome = coordinator.attached(&member, own_fault);
                carry_out(&name, &member, "started", outcome, &inboxes, &notifier).await;
            }
            Message::Leave { member } => {
                inboxes.remove(&member);
                let outcome = coordinator.left(&member);
                let what = "could not start";
                carry_out(&name, &member, what, outcome, &inboxes, &notifier).await;
            }
            Message::Join {
                member,
                inbox,
                state,
                own_fault,
            } => {
                inboxes.insert(member.clone(), inbox);
                let outcome = coordinator.joined(&member, state, own_fault);
                let what = format!("joined as {state}");
                carry_out(&name, &member, &what, outcome, &inboxes, &notifier).await;
            }
            Message::Notifier(new) => {
                let old = std::mem::replace(&mut notifier, new);
                tokio::spawn(old.close(NOTIFY_GRACE));
            }
            Message::Stop { notify, done } => {
                if notify {
                    notifier.stop(0);
                }
                notifier.close(NOTIFY_GRACE).await;
                let _ = done.send(Ended {
                    state: Some(coordinator.state()),
                    own_faults: coordinator.own_faults().clone(),
                });
                return;
            }
        }
    }
}

async fn carry_out(
    group: &Arc<str>,
    cause: &str,
    what: &str,
    outcome: Outcome,
    inboxes: &HashMap<String, mpsc::Sender<Input>>,
    notifier: &Notifier,
) {
    if let Some(state) = outcome.entered {
        tracing::info!("sync group {group}: {state} ({cause} {what})");
        notifier.transition(state, 0);
    }
    for (member, force) in outcome.forced {
        tracing::info!(
            "sync group {group}: {cause} {what}: syncing {member} {}",
            force.describe()
        );
        let Some(inbox) = inboxes.get(&member) else {
            continue;
        };
        let input = Input::Sync {
            force,
            group: Arc::clone(group),
            cause: cause.to_owned(),
        };
        let _ = inbox.send(input).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::Notify,
        daemon::sync_group::Force,
        fsm::State,
        notify::{DEFAULT_SCRIPT_TIMEOUT, Subject},
        track::exec::RunAs,
    };

    fn group() -> GroupHandle {
        group_after(&Ended::default())
    }

    /// Group G1 of VI_1 and VI_2, after groups that `left` this.
    fn group_after(left: &Ended) -> GroupHandle {
        let config = SyncGroup {
            name: "G1".into(),
            members: vec!["VI_1".into(), "VI_2".into()],
            notify: Notify::default(),
            tracking_weight: false,
            line: 1,
        };
        let notifier = Notifier::with(
            Subject::Group,
            "G1",
            &config.notify,
            Ok(RunAs::daemon()),
            false,
            None,
            DEFAULT_SCRIPT_TIMEOUT,
        );
        GroupHandle::spawn(&config, notifier, left, &BTreeSet::new())
    }

    async fn next_order(inbox: &mut mpsc::Receiver<Input>) -> (Force, String) {
        let input = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
            .await
            .expect("an order in time")
            .expect("the inbox is open");
        match input {
            Input::Sync {
                force,
                group,
                cause,
            } => {
                assert_eq!(&*group, "G1");
                (force, cause)
            }
            other => panic!("not a sync order: {other:?}"),
        }
    }

    /// Group G1 with members VI_1 and VI_2, both started as Backup: the handle, their inboxes
    /// and their links.
    fn two_backups() -> (GroupHandle, [mpsc::Receiver<Input>; 2], [MemberLink; 2]) {
        let handle = group();
        let (tx1, rx1) = mpsc::channel(8);
        let (tx2, rx2) = mpsc::channel(8);
        let links = [handle.link("VI_1"), handle.link("VI_2")];
        links[0].attach(tx1, false);
        links[1].attach(tx2, false);
        for link in &links {
            link.report(Report::Transition {
                from: State::Initialize,
                to: State::Backup,
                forced: false,
            });
        }
        (handle, [rx1, rx2], links)
    }

    #[tokio::test]
    async fn reports_reach_the_other_members_as_orders() {
        let (handle, [mut rx1, mut rx2], [vi1, vi2]) = two_backups();
        vi2.report(Report::Transition {
            from: State::Backup,
            to: State::Master,
            forced: false,
        });
        assert_eq!(next_order(&mut rx1).await, (Force::ToMaster, "VI_2".into()));
        vi1.report(Report::OwnFault(true));
        for inbox in [&mut rx1, &mut rx2] {
            assert_eq!(next_order(inbox).await, (Force::Fault, "VI_1".into()));
        }
        vi1.report(Report::OwnFault(false));
        for inbox in [&mut rx1, &mut rx2] {
            assert_eq!(
                next_order(inbox).await,
                (Force::FaultCleared, "VI_1".into())
            );
        }
        handle.stop(true).await;
        assert!(rx1.try_recv().is_err() && rx2.try_recv().is_err());
    }

    #[tokio::test]
    async fn the_last_member_to_want_master_is_let_go() {
        let (handle, [mut rx1, mut rx2], [vi1, vi2]) = two_backups();
        vi1.report(Report::WantsMaster(true));
        vi2.report(Report::WantsMaster(true));
        assert_eq!(next_order(&mut rx2).await, (Force::TakeOver, "VI_2".into()));
        handle.stop(false).await;
        assert!(rx1.try_recv().is_err() && rx2.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_stopped_group_hands_over_its_faults_and_a_member_joins_the_next_as_it_is() {
        let (handle, [mut rx1, _rx2], [vi1, _vi2]) = two_backups();
        vi1.report(Report::OwnFault(true));
        assert_eq!(next_order(&mut rx1).await, (Force::Fault, "VI_1".into()));
        let ended = handle.stop(false).await;
        assert_eq!(ended.own_faults, BTreeSet::from(["VI_1".to_owned()]));
        assert_eq!(ended.state, Some(State::Fault));

        // The next group starts in Fault: VI_2, held, joins and stays held (no order), and VI_1's
        // fault ending releases both.
        let next = group_after(&ended);
        let (tx1, mut rx1) = mpsc::channel(8);
        let (tx2, mut rx2) = mpsc::channel(8);
        let (vi1, vi2) = (next.link("VI_1"), next.link("VI_2"));
        vi2.join(tx2, State::Fault, false);
        vi1.join(tx1, State::Fault, true);
        assert_eq!(next_order(&mut rx1).await, (Force::Fault, "VI_1".into()));
        vi1.report(Report::OwnFault(false));
        assert_eq!(
            next_order(&mut rx2).await,
            (Force::FaultCleared, "VI_1".into())
        );
        assert_eq!(
            next_order(&mut rx1).await,
            (Force::FaultCleared, "VI_1".into())
        );
        next.stop(false).await;
    }
}
