//! `chime` processes started by a test and killed when it ends.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `chime` binary under test, with output going to a log file so a
/// failing test can show what the process said.
pub fn chime_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chime"));
    command.env_remove("CHIME_DATABASE_URL");
    command.env_remove("CHIME_REDIS_URL");
    command.env_remove("DATABASE_URL");
    command.env_remove("REDIS_URL");
    command.env_remove("CHIME_API_TOKENS");
    command.stdin(Stdio::null());
    command
}

/// A running `chime` process; killed (SIGKILL) on drop.
pub struct Chime {
    child: Child,
    /// Where its stdout and stderr go.
    pub log_path: PathBuf,
}

impl Chime {
    /// Starts `chime` with `args`; its output goes to a temporary log file.
    pub fn spawn(args: &[&str]) -> Chime {
        Chime::spawn_with_env(args, &[])
    }

    /// Like [`Chime::spawn`], with extra environment variables.
    pub fn spawn_with_env(args: &[&str], env: &[(&str, &str)]) -> Chime {
        let log_path =
            std::env::temp_dir().join(format!("chime-it-{}.log", uuid::Uuid::new_v4().simple()));
        let log = std::fs::File::create(&log_path).expect("creating a log file");
        let mut command = chime_command();
        command.args(args).envs(env.iter().copied());
        if std::env::var_os("TEST_LOG").is_none() && std::env::var_os("RUST_LOG").is_none() {
            command.env(
                "RUST_LOG",
                "warn,chime=info,chime_scheduler=info,chime_executor=info,chime_api=info",
            );
        }
        command
            .stdout(log.try_clone().expect("cloning a file handle"))
            .stderr(log);
        let child = command.spawn().expect("starting chime");
        Chime { child, log_path }
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`libc`-free: through `kill`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(
            status.success(),
            "kill -{signal} {} failed",
            self.child.id()
        );
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process has exited, with its status.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// What the process has written so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Chime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- output of chime pid {} ---\n{}",
                self.child.id(),
                self.output()
            );
        }
        let _ = std::fs::remove_file(&self.log_path);
    }
}
