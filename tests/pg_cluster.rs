//! A throwaway PostgreSQL cluster of the test's own: `initdb` into a temporary folder and
//! `pg_ctl` on a free port, so that a test may stop and restart "the database" without
//! touching the shared server other tests run on. Stopped and deleted on drop.
//!
//! Run as root, PostgreSQL's tools run as the `postgres` user (they refuse to run as root).
//! The tools are found with `pg_config --bindir`, else in `/usr/lib/postgresql/*/bin`
//! (`PG_BINDIR` overrides both). Missing tools are a loud failure: the tests that use this
//! run whenever PostgreSQL tests do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
    running: bool,
}

impl PgCluster {
    /// A new cluster, started, with trust authentication for `postgres` on 127.0.0.1.
    pub fn start() -> Self {
        let bin = bindir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server tools (initdb, pg_ctl) were not found (pg_config --bindir, \
                 /usr/lib/postgresql/*/bin, PG_BINDIR): install the PostgreSQL server package"
            )
        });
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("dhr-pg-")
            .tempdir()
            .expect("temp dir");
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            as_postgres,
            port: 0,
            running: false,
        };
        let data = cluster.data();
        run(cluster.tool("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
            "--locale=C",
        ]));
        // A free port now may be taken by the time the server binds it: try a few.
        for attempt in 0.. {
            cluster.port = free_port();
            if cluster.try_start() {
                return cluster;
            }
            assert!(
                attempt < 3,
                "the throwaway PostgreSQL did not start: {}",
                cluster.log()
            );
        }
        unreachable!()
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (`pg_ctl stop -m MODE`: `fast` ends sessions cleanly, `immediate`
    /// kills them) and waits until it has.
    pub fn stop(&mut self, mode: &str) {
        let data = self.data();
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", mode, "-w", "stop"]));
        self.running = false;
    }

    /// Starts the stopped server again on the same port; returns once it accepts connections.
    pub fn start_again(&mut self) {
        assert!(
            self.try_start(),
            "the throwaway PostgreSQL did not start again: {}",
            self.log()
        );
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn try_start(&mut self) -> bool {
        let data = self.data();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        let status = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run pg_ctl");
        self.running = status.success();
        self.running
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = self
                .tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        // The folder itself goes with `self.dir`.
    }
}

/// Waits until `ready` says so, at most `limit`; returns how long it took.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut ready: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if ready().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn bindir() -> Option<PathBuf> {
    let has_tools = |p: &Path| p.join("initdb").is_file() && p.join("pg_ctl").is_file();
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return Some(PathBuf::from(dir)).filter(|p| has_tools(p));
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|p| has_tools(p)) {
        return Some(dir);
    }
    // Debian keeps the server tools out of PATH, one folder per major version: the newest.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, p)| has_tools(p))
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
