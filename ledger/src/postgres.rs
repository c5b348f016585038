//! A private Postgres cluster: the embedded default when no `DATABASE_URL` is
//! given. `initdb` into a data dir under the project's state folder, listen on
//! a unix socket only (no TCP port to collide with), stop on drop.
//!
//! Postgres refuses to run as root; when we are root the server runs as the
//! `postgres` system user (through `runuser`) and owns its directories.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context};

/// A running private cluster.
#[derive(Debug)]
pub struct PrivateCluster {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    stop_on_drop: bool,
}

const DATABASE: &str = "emledger";

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// `initdb`/`pg_ctl` from PATH, else from Debian's versioned directory.
fn pg_binary(program: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    if !on_path {
        if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
            let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
            dirs.sort();
            if let Some(dir) = dirs.into_iter().rev().find(|d| d.join(program).is_file()) {
                return dir.join(program);
            }
        }
    }
    PathBuf::from(program)
}

fn pg_command(program: &str) -> Command {
    let binary = pg_binary(program);
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(binary);
        c
    } else {
        Command::new(binary)
    }
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {what} (is Postgres installed?)"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn chown_to_postgres(path: &Path) -> anyhow::Result<()> {
    if running_as_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["-R", "postgres:postgres"]).arg(path);
                c
            },
            "chown",
        )?;
    }
    Ok(())
}

impl PrivateCluster {
    /// Starts (creating if needed) the cluster whose files live under `state_dir`
    /// (`state_dir/pgdata`, socket in `state_dir/pgsock`). Idempotent: an
    /// already running cluster on that data dir is reused.
    pub fn start(state_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(state_dir)?;
        let state_dir = state_dir.canonicalize()?;
        let data_dir = state_dir.join("pgdata");
        let socket_dir = state_dir.join("pgsock");
        std::fs::create_dir_all(&socket_dir)?;
        if running_as_root() {
            // the server user must be able to reach its directories
            let mut p = state_dir.as_path();
            while let Some(parent) = p.parent() {
                let meta = std::fs::metadata(p)?;
                if meta.mode() & 0o001 == 0 {
                    run(
                        {
                            let mut c = Command::new("chmod");
                            c.arg("o+x").arg(p);
                            c
                        },
                        "chmod",
                    )?;
                }
                p = parent;
            }
        }
        chown_to_postgres(&socket_dir)?;
        if !data_dir.join("PG_VERSION").exists() {
            std::fs::create_dir_all(&data_dir)?;
            chown_to_postgres(&data_dir)?;
            let mut c = pg_command("initdb");
            c.arg("-D")
                .arg(&data_dir)
                .args(["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]);
            run(c, "initdb")?;
        }
        // stop on drop only what this handle started: a subcommand attaching to
        // the cluster of a running stack must leave it running
        let mut cluster = Self { data_dir, socket_dir, stop_on_drop: false };
        if !cluster.is_running() {
            cluster.stop_on_drop = true;
            cluster.start_server()?;
        }
        cluster.ensure_database()?;
        Ok(cluster)
    }

    /// This handle stops the server when dropped, even one it found running
    /// (`emledger up` owns its stack's cluster, also after an earlier `up` died).
    pub fn owned(mut self) -> Self {
        self.stop_on_drop = true;
        self
    }

    /// The data directory (`postmaster.pid` lives there).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A second handle on the same cluster that never stops it.
    pub fn clone_handle(&self) -> Self {
        Self { data_dir: self.data_dir.clone(), socket_dir: self.socket_dir.clone(), stop_on_drop: false }
    }

    /// Starts the server again after it died (e.g. its postmaster was killed).
    pub fn restart(&self) -> anyhow::Result<()> {
        // the killed server's backends may hold its shared memory a moment longer
        let mut last = None;
        for _ in 0..20 {
            if self.is_running() {
                return Ok(());
            }
            match self.start_server() {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("Postgres did not start")))
    }

    fn start_server(&self) -> anyhow::Result<()> {
        let cluster = self;
        {
            // a stale pid file from a killed server blocks the start
            let _ = std::fs::remove_file(cluster.data_dir.join("postmaster.pid"));
            let log = cluster.data_dir.join("server.log");
            // Durable: fsync, synchronous commits and full-page writes stay on (the
            // defaults). An answered request's rows survive kill -9 of the server
            // and a crash of the machine; a commit waits for its WAL flush.
            let mut opts = format!(
                "-c listen_addresses='' -c unix_socket_directories='{}' -c max_connections=300 \
                 -c shared_buffers=256MB -c wal_compression=on",
                cluster.socket_dir.display()
            );
            // extra server settings for the managed cluster, e.g.
            // "-c shared_preload_libraries=pg_stat_statements" to profile statements
            if let Some(extra) = std::env::var("EMLEDGER_PG_OPTIONS").ok().filter(|e| !e.trim().is_empty()) {
                opts.push(' ');
                opts.push_str(&extra);
            }
            let mut c = pg_command("pg_ctl");
            c.arg("-D").arg(&cluster.data_dir).arg("-l").arg(&log).args(["-w", "-t", "60", "-o", &opts, "start"]);
            run(c, "pg_ctl start")?;
        }
        Ok(())
    }

    /// Keep the server running after this handle is dropped (e.g. `emledger up`
    /// hands it to a later process).
    pub fn detach(mut self) -> String {
        self.stop_on_drop = false;
        self.url()
    }

    /// Whether the server of this data directory is running: the postmaster of
    /// `postmaster.pid` is alive (not a zombie, which `pg_ctl status` would count
    /// as running after a kill -9) and is a postgres process.
    pub fn is_running(&self) -> bool {
        let Ok(text) = std::fs::read_to_string(self.data_dir.join("postmaster.pid")) else { return false };
        let Some(pid) = text.lines().next().and_then(|l| l.trim().parse::<u32>().ok()) else { return false };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
        // "pid (comm) S ...": the state follows the last ')'
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        let comm_ok = stat.contains("(postgres)") || stat.contains("(postmaster)");
        comm_ok && !matches!(state, Some('Z' | 'X') | None)
    }

    fn ensure_database(&self) -> anyhow::Result<()> {
        let mut c = Command::new("psql");
        c.args(["-h"]).arg(&self.socket_dir).args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"),
        ]);
        if run(c, "psql")?.trim() != "1" {
            let mut c = Command::new("psql");
            c.args(["-h"]).arg(&self.socket_dir).args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                &format!("CREATE DATABASE {DATABASE}"),
            ]);
            run(c, "createdb")?;
        }
        Ok(())
    }

    /// Creates a fresh database in this cluster and returns its URL (for tests
    /// that want isolation from each other).
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let mut c = Command::new("psql");
        c.args(["-h"]).arg(&self.socket_dir).args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            "-c",
            &format!("CREATE DATABASE {name}"),
        ]);
        run(c, "createdb")?;
        Ok(self.url_for(name))
    }

    /// URL of the default database.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    fn url_for(&self, db: &str) -> String {
        format!("postgres://postgres@localhost/{db}?host={}", self.socket_dir.display())
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&self) -> anyhow::Result<()> {
        let mut c = pg_command("pg_ctl");
        c.arg("-D").arg(&self.data_dir).args(["-m", "fast", "-w", "stop"]);
        run(c, "pg_ctl stop").map(|_| ())
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if self.stop_on_drop {
            let _ = self.stop();
        }
    }
}
