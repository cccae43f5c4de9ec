//! keepalived's script security rule (`enable_script_security`), one function for check and
//! notify scripts alike: [`vet_script`].
//!
//! A script that would run with root's powers (as uid 0 or gid 0, or a set-uid/set-gid root
//! program) is unsafe if a non-root user could change what runs: the program file, or any
//! directory on its path (as written, and once symbolic links are resolved), is not owned by
//! root, or is group-writable with a non-root group, or writable by everyone. Directories with
//! the sticky bit (like /tmp) are exempt from the write checks, as in keepalived. Under
//! `enable_script_security` an unsafe script is refused; without it, it runs and is reported.
//!
//! Difference from keepalived: a symbolic link among the directories (/bin on merged-/usr
//! systems) is accepted when root owns it, since the resolved path is checked as well;
//! keepalived 2.2 rejects the path outright.
use std::{
    env, fmt,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Component, Path, PathBuf},
};

use super::exec::RunAs;

/// The search path when the daemon has no PATH (glibc's default).
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What to do with a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vetting {
    Run,
    /// Run it, but say it is unsafe (security not enforced).
    RunUnsafe(Insecurity),
    /// Do not run it (security enforced).
    Refuse(Insecurity),
}

/// Why a script is unsafe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insecurity {
    /// The path component at fault.
    pub path: PathBuf,
    pub problem: Problem,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    NotOwnedByRoot,
    GroupWritable,
    WorldWritable,
    /// Not a directory where one is needed, or the path vanished while being checked.
    Unexpected,
}

impl fmt::Display for Insecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = match self.problem {
            Problem::NotOwnedByRoot => "is not owned by root",
            Problem::GroupWritable => "is writable by a non-root group",
            Problem::WorldWritable => "is writable by everyone",
            Problem::Unexpected => "is not a directory or cannot be inspected",
        };
        write!(f, "{} {problem}", self.path.display())
    }
}

/// The rule for one script: `program` is the command's first word, `run_as` who it would run
/// as, `enforce` is `enable_script_security`. A program that cannot be found is left to fail
/// when it is run (and counts as failed then).
pub fn vet_script(program: &str, run_as: &RunAs, enforce: bool) -> Vetting {
    vet_with_trusted_owner(program, run_as, enforce, 0)
}

/// [`vet_script`] with one more owner trusted like root, for tests that cannot create
/// root-owned files (`trusted` 0: nobody more).
pub(crate) fn vet_with_trusted_owner(
    program: &str,
    run_as: &RunAs,
    enforce: bool,
    trusted: u32,
) -> Vetting {
    let Some(path) = locate(program) else {
        return Vetting::Run;
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return Vetting::Run;
    };
    let mode = meta.permissions().mode();
    let setuid_root = meta.uid() == 0 && mode & 0o4100 == 0o4100;
    let setgid_root = meta.gid() == 0 && mode & 0o2010 == 0o2010;
    if !(run_as.is_root() || setuid_root || setgid_root) {
        return Vetting::Run;
    }
    let mut problem = first_problem(&path, trusted);
    if problem.is_none()
        && let Ok(real) = std::fs::canonicalize(&path)
        && real != path
    {
        problem = first_problem(&real, trusted);
    }
    match problem {
        None => Vetting::Run,
        Some(insecurity) if enforce => Vetting::Refuse(insecurity),
        Some(insecurity) => Vetting::RunUnsafe(insecurity),
    }
}

/// The program's path as exec will find it: as written when it has a slash (made absolute),
/// else the first executable regular file of that name on PATH.
pub(super) fn locate(program: &str) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        return std::path::absolute(program)
            .ok()
            .map(|p| lexically_normal(&p));
    }
    let search = env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    env::split_paths(&search)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|p| lexically_normal(&p))
}

/// Drops `.` and repeated slashes; `..` is kept (the resolved path is checked as well).
fn lexically_normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// Checks `/`, then every longer prefix of `path`, down to the file itself.
fn first_problem(path: &Path, trusted: u32) -> Option<Insecurity> {
    let mut prefix = PathBuf::new();
    let mut components = path.components().peekable();
    while let Some(component) = components.next() {
        prefix.push(component);
        let last = components.peek().is_none();
        let problem = match std::fs::symlink_metadata(&prefix) {
            Ok(meta) => component_problem(&meta, last, trusted),
            Err(_) => Some(Problem::Unexpected),
        };
        if let Some(problem) = problem {
            return Some(Insecurity {
                path: prefix,
                problem,
            });
        }
    }
    None
}

fn component_problem(meta: &std::fs::Metadata, last: bool, trusted: u32) -> Option<Problem> {
    let kind = if meta.is_dir() {
        Kind::Directory
    } else if meta.file_type().is_symlink() {
        Kind::Symlink
    } else if meta.is_file() {
        Kind::File
    } else {
        Kind::Other
    };
    rule(kind, last, meta.uid(), meta.gid(), meta.mode(), trusted)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Directory,
    File,
    Symlink,
    Other,
}

/// keepalived's `check_security` for one path component.
fn rule(kind: Kind, last: bool, uid: u32, gid: u32, mode: u32, trusted: u32) -> Option<Problem> {
    match (kind, last) {
        (Kind::Other, _) | (Kind::File, false) => return Some(Problem::Unexpected),
        (Kind::Directory, true) => return Some(Problem::Unexpected),
        _ => {}
    }
    if uid != 0 && uid != trusted {
        return Some(Problem::NotOwnedByRoot);
    }
    let sticky_dir = kind == Kind::Directory && mode & 0o1000 != 0;
    if kind == Kind::Symlink || sticky_dir {
        return None;
    }
    if gid != 0 && mode & 0o020 != 0 {
        return Some(Problem::GroupWritable);
    }
    if mode & 0o002 != 0 {
        return Some(Problem::WorldWritable);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::{fs, os::unix::fs::symlink};

    use super::*;

    fn root() -> RunAs {
        RunAs {
            name: "root".into(),
            uid: 0,
            gid: 0,
        }
    }

    #[test]
    fn rule_table() {
        use Kind::*;
        use Problem::*;
        let cases = [
            (Directory, false, 0, 0, 0o755, None),
            (Directory, false, 0, 0, 0o775, None),
            (Directory, false, 0, 100, 0o775, Some(GroupWritable)),
            (Directory, false, 0, 100, 0o755, None),
            (Directory, false, 0, 0, 0o757, Some(WorldWritable)),
            (Directory, false, 0, 0, 0o1777, None),
            (Directory, false, 0, 100, 0o1777, None),
            (Directory, false, 1000, 0, 0o755, Some(NotOwnedByRoot)),
            (Directory, false, 1000, 0, 0o1777, Some(NotOwnedByRoot)),
            (File, true, 0, 0, 0o755, None),
            (File, true, 0, 100, 0o775, Some(GroupWritable)),
            (File, true, 0, 0, 0o777, Some(WorldWritable)),
            (File, true, 0, 0, 0o1777, Some(WorldWritable)),
            (File, true, 1000, 1000, 0o700, Some(NotOwnedByRoot)),
            (Symlink, true, 0, 0, 0o777, None),
            (Symlink, false, 0, 0, 0o777, None),
            (Symlink, false, 1000, 0, 0o777, Some(NotOwnedByRoot)),
            (File, false, 0, 0, 0o755, Some(Unexpected)),
            (Directory, true, 0, 0, 0o755, Some(Unexpected)),
            (Other, true, 0, 0, 0o644, Some(Unexpected)),
        ];
        for (kind, last, uid, gid, mode, expected) in cases {
            assert_eq!(
                rule(kind, last, uid, gid, mode, 0),
                expected,
                "{kind:?} last={last} {uid}:{gid} {mode:o}"
            );
        }
    }

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let path = env::temp_dir().join(format!("xvrrpd-sec-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir(&path).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            Dir(path)
        }

        fn script(&self, name: &str, mode: u32) -> String {
            let path = self.0.join(name);
            fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path.to_str().unwrap().into()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn me() -> u32 {
        RunAs::daemon().uid
    }

    fn vet(program: &str, enforce: bool) -> Vetting {
        vet_with_trusted_owner(program, &root(), enforce, me())
    }

    #[test]
    fn safe_script_runs() {
        let dir = Dir::new("safe");
        assert_eq!(vet(&dir.script("ok.sh", 0o755), true), Vetting::Run);
    }

    #[test]
    fn world_writable_script_is_refused_under_enforcement_and_reported_without() {
        let dir = Dir::new("ww");
        let script = dir.script("bad.sh", 0o757);
        let expected = Insecurity {
            path: PathBuf::from(&script),
            problem: Problem::WorldWritable,
        };
        assert_eq!(vet(&script, true), Vetting::Refuse(expected.clone()));
        assert_eq!(vet(&script, false), Vetting::RunUnsafe(expected));
    }

    #[test]
    fn world_writable_directory_on_the_path_is_refused() {
        let dir = Dir::new("wwdir");
        let sub = dir.0.join("open");
        fs::create_dir(&sub).unwrap();
        // Writable by everyone, not by the group (whose id depends on who runs the test).
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o757)).unwrap();
        let script = sub.join("s.sh");
        fs::write(&script, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            vet(script.to_str().unwrap(), true),
            Vetting::Refuse(Insecurity {
                path: sub,
                problem: Problem::WorldWritable
            })
        );
    }

    #[test]
    fn sticky_directory_on_the_path_is_accepted() {
        let dir = Dir::new("sticky");
        let sub = dir.0.join("sticky");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o1777)).unwrap();
        let script = sub.join("s.sh");
        fs::write(&script, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(vet(script.to_str().unwrap(), true), Vetting::Run);
    }

    #[test]
    fn symlink_target_is_checked_too() {
        let dir = Dir::new("link");
        let open = dir.0.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o757)).unwrap();
        let target = open.join("real.sh");
        fs::write(&target, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.0.join("link.sh");
        symlink(&target, &link).unwrap();
        assert_eq!(
            vet(link.to_str().unwrap(), true),
            Vetting::Refuse(Insecurity {
                path: open,
                problem: Problem::WorldWritable
            })
        );
    }

    #[test]
    fn scripts_not_run_as_root_are_not_checked() {
        let dir = Dir::new("nonroot");
        let script = dir.script("bad.sh", 0o777);
        let nobody = RunAs {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
        };
        assert_eq!(
            vet_with_trusted_owner(&script, &nobody, true, me()),
            Vetting::Run
        );
    }

    #[test]
    fn missing_program_is_left_to_fail_when_run() {
        assert_eq!(vet("/nonexistent/xvrrpd-check", true), Vetting::Run);
        assert_eq!(vet("xvrrpd-no-such-program-on-path", true), Vetting::Run);
    }

    #[test]
    fn bare_names_are_found_on_path() {
        let found = locate("sh").expect("sh on PATH");
        assert!(found.is_absolute() && found.ends_with("sh"), "{found:?}");
    }

    #[test]
    fn system_programs_are_safe_for_root() {
        // /bin/sh and its directories are root's on any sane host, whoever runs the test.
        assert_eq!(vet_script("/bin/sh", &root(), true), Vetting::Run);
    }
}
