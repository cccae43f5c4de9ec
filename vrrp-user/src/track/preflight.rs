//! What `xvrrpd check` finds about a configuration's scripts on this host, beyond the file: a
//! program that is missing or not executable, a user or group that does not exist, a script
//! that script security refuses (or would, were it enforced). The daemon meets the same
//! problems when it runs the scripts, and logs them then; `check` tells them before the
//! configuration goes live.
//!
//! It looks as the user running it, with its PATH and working directory: the daemon's (root,
//! under systemd) may differ. Scripts without a user are vetted as the daemon runs them: as
//! `keepalived_script` if that user exists, else as root.
//!
//! This matters more than with keepalived, which leaves a check script it cannot find out of
//! tracking: xvrrpd runs it and counts every run failed, so its weight applies, or, with weight
//! 0, its instances stay in Fault.
use std::{os::unix::fs::PermissionsExt, path::Path};

use super::{
    exec::{KEEPALIVED_SCRIPT_USER, RunAs},
    security::{Vetting, locate, vet_script},
};
use crate::config::{Command, Config, Notify, ScriptSecurity, ScriptUser};

/// Every problem found, once each, with the scripts that have it: `problem (used by …)`.
pub fn script_problems(config: &Config) -> Vec<String> {
    let security = &config.global.script_security;
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let mut note = |user: &str, problems: Vec<String>| {
        for problem in problems {
            match found.iter_mut().find(|(known, _)| *known == problem) {
                Some((_, users)) => users.push(user.to_owned()),
                None => found.push((problem, vec![user.to_owned()])),
            }
        }
    };
    for script in &config.scripts {
        let user = script.user.as_ref().map(|user| ScriptUser {
            user: user.clone(),
            group: script.group.clone(),
        });
        let problems = problems_of(&script.command, user.as_ref(), security);
        note(&format!("vrrp_script {}", script.name), problems);
    }
    let notifies = (config.instances.iter())
        .map(|instance| (format!("instance {}", instance.name), &instance.notify))
        .chain(
            (config.sync_groups.iter())
                .map(|group| (format!("sync group {}", group.name), &group.notify)),
        );
    for (owner, notify) in notifies {
        for (key, script) in notify_scripts(notify) {
            let problems = problems_of(&script.command, script.user.as_ref(), security);
            note(&format!("{owner} {key}"), problems);
        }
    }
    found
        .into_iter()
        .map(|(problem, users)| format!("{problem} (used by {})", users.join(", ")))
        .collect()
}

fn notify_scripts(
    notify: &Notify,
) -> impl Iterator<Item = (&'static str, &crate::config::NotifyScript)> {
    [
        ("notify_master", &notify.master),
        ("notify_backup", &notify.backup),
        ("notify_fault", &notify.fault),
        ("notify_stop", &notify.stop),
        ("notify", &notify.any),
    ]
    .into_iter()
    .filter_map(|(key, script)| Some((key, script.as_ref()?)))
}

/// What keeps `command`, run as `user` (else the default script user), from running as meant.
fn problems_of(
    command: &Command,
    user: Option<&ScriptUser>,
    security: &ScriptSecurity,
) -> Vec<String> {
    let Some(program) = command.first() else {
        return vec!["an empty command: it never runs".into()];
    };
    let mut problems = Vec::new();
    let run_as = match (user, &security.default_user) {
        (Some(user), _) => RunAs::lookup_as(&user.user, user.group.as_deref()),
        (None, Some(name)) => RunAs::lookup_as(name, security.default_group.as_deref()),
        // As the daemon, which runs as root, whoever runs the check.
        (None, None) => Ok(RunAs::lookup(KEEPALIVED_SCRIPT_USER).unwrap_or_else(|_| root())),
    };
    let run_as = run_as
        .inspect_err(|err| problems.push(format!("{err}: the script never runs")))
        .ok();
    match runnable(program) {
        Err(why) => problems.push(format!("{program}: {why}: every run fails")),
        Ok(()) => match run_as.map(|run_as| vet_script(program, &run_as, security.enforce)) {
            Some(Vetting::Refuse(insecurity)) => problems.push(format!(
                "{program}: refused by enable_script_security: {insecurity}"
            )),
            Some(Vetting::RunUnsafe(insecurity)) => problems.push(format!(
                "{program}: unsafe ({insecurity}); it runs, as enable_script_security is off"
            )),
            Some(Vetting::Run) | None => {}
        },
    }
    problems
}

fn root() -> RunAs {
    RunAs {
        name: "root".into(),
        uid: 0,
        gid: 0,
    }
}

/// Whether exec would find `program` (on PATH if it names no directory) and may run it, as
/// far as this process can tell.
fn runnable(program: &str) -> Result<(), &'static str> {
    let Some(path) = locate(program) else {
        return Err("not found on PATH");
    };
    let meta = std::fs::metadata(Path::new(&path)).map_err(|err| match err.kind() {
        std::io::ErrorKind::PermissionDenied => "cannot be inspected by this user",
        _ => "not found",
    })?;
    if !meta.is_file() {
        return Err("not a file");
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err("not executable");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::config::{CheckScript, NotifyScript};

    fn script(name: &str, command: &[&str]) -> CheckScript {
        CheckScript::for_test(name, command.iter().map(|s| s.to_string()).collect())
    }

    fn config(scripts: Vec<CheckScript>, notify: Notify) -> Config {
        let toml = r#"
[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = 100
virtual_ips = ["192.0.2.100/24"]
"#;
        let mut config = Config::from_toml_str(toml, "test.toml")
            .expect("a valid configuration")
            .config;
        config.scripts = scripts;
        config.instances[0].notify = notify;
        config
    }

    /// A script with `mode` in a directory of its own (removed by the caller): both paths.
    fn script_file(tag: &str, mode: u32) -> (std::path::PathBuf, String) {
        let dir = std::env::temp_dir().join(format!("xv-preflight-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("chk.sh");
        std::fs::write(&program, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(mode)).unwrap();
        let program = program.to_str().unwrap().to_owned();
        (dir, program)
    }

    #[test]
    fn missing_and_non_executable_programs_and_unknown_users_are_found() {
        let (dir, plain) = script_file("plain", 0o644);
        let mut unknown_user = script("chk_user", &["true"]);
        unknown_user.user = Some("xv-no-such-user".into());
        let scripts = vec![
            script("chk_ok", &["true"]),
            script("chk_missing", &["/nonexistent/chk", "arg"]),
            script("chk_plain", &[&plain]),
            script("chk_bare", &["xv-no-such-program"]),
            unknown_user,
        ];
        let notify = Notify {
            master: Some(NotifyScript::new(vec!["/nonexistent/chk".into()])),
            backup: Some(NotifyScript::new(vec!["true".into()])),
            ..Notify::default()
        };
        let problems = script_problems(&config(scripts, notify));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            problems,
            [
                "/nonexistent/chk: not found: every run fails \
                 (used by vrrp_script chk_missing, instance VI_1 notify_master)"
                    .to_owned(),
                format!("{plain}: not executable: every run fails (used by vrrp_script chk_plain)"),
                "xv-no-such-program: not found on PATH: every run fails \
                 (used by vrrp_script chk_bare)"
                    .to_owned(),
                "user xv-no-such-user does not exist: the script never runs \
                 (used by vrrp_script chk_user)"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn a_script_anyone_may_change_is_unsafe_for_the_daemon_whoever_checks() {
        // Vetted as root (no keepalived_script user here), even when the check is not run as
        // root: the daemon runs it as root.
        let (dir, program) = script_file("unsafe", 0o777);
        let problems =
            script_problems(&config(vec![script("chk", &[&program])], Notify::default()));
        std::fs::remove_dir_all(&dir).unwrap();
        if RunAs::lookup(KEEPALIVED_SCRIPT_USER).is_ok() {
            // Run as that user instead, not root: nothing to fear from it.
            assert!(problems.is_empty(), "{problems:?}");
            return;
        }
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(&format!(
                "{program}: unsafe ({program} is writable by everyone)"
            )),
            "{problems:?}"
        );
    }
}
