//! The benchmarks leave nothing running (issue 21): `bench_indexer` and
//! `bench_api` run in a tiny mode, and after each exit — normal, after an
//! error (a process they depend on killed from outside) and after SIGINT sent
//! mid-run — no process they started is alive: neither a descendant seen while
//! they ran (anvil, `emledger`, node, Ponder) nor the Postgres server of their
//! private cluster (started detached by `pg_ctl`, found by its data directory).
//!
//! Needs `cargo build --bin emledger` (scripts/test does it). Ponder is part of
//! the indexer runs when `bench/ponder/node_modules` is installed
//! (`scripts/bench-indexer` installs it); otherwise it is skipped and said so.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    os::unix::process::CommandExt,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc, Mutex,
    },
    time::{Duration, Instant},
};

use emledger_contracts::toolchain;
use emledger_tests::stack::{emledger_bin, test_state_dir};

/// One process as /proc shows it: its parent, start time (tells a reused pid
/// apart), state and command line.
#[derive(Clone, Debug)]
struct Proc {
    pid: i32,
    ppid: i32,
    start: u64,
    state: char,
    cmd: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ").trim().to_owned();
    Some(Proc { pid, ppid, start, state, cmd })
}

fn all_procs() -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).filter_map(read_proc).collect())
        .unwrap_or_default()
}

/// Alive = the same process (pid and start time) exists and is not a zombie.
fn alive(p: &Proc) -> bool {
    read_proc(p.pid).is_some_and(|q| q.start == p.start && !matches!(q.state, 'Z' | 'X'))
}

/// Descendants of `root` and processes whose command line names `state_dir`.
fn owned_by(root: i32, state_dir: &str) -> Vec<Proc> {
    let procs = all_procs();
    let mut children: HashMap<i32, Vec<&Proc>> = HashMap::new();
    for p in &procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut found: Vec<Proc> = procs.iter().filter(|p| p.pid != root && p.cmd.contains(state_dir)).cloned().collect();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for c in children.get(&pid).into_iter().flatten() {
            found.push((*c).clone());
            stack.push(c.pid);
        }
    }
    found.retain(|p| !matches!(p.state, 'Z' | 'X'));
    found
}

/// When to disturb the benchmark.
enum Disturb {
    /// Let it run to its end.
    None,
    /// SIGINT to the benchmark once a process whose command line contains all
    /// of these words is running (after `line`, a prefix of a stdout line, was
    /// printed); to its whole process group when `group` (Ctrl-C in a terminal:
    /// its anvil and `emledger` children get it too), else to it alone (`kill -INT`).
    SigintWhen { line: &'static str, words: &'static [&'static str], group: bool },
    /// SIGKILL to a process it depends on (an error from outside), same trigger.
    KillWhen { line: &'static str, words: &'static [&'static str] },
}

struct Outcome {
    status: ExitStatus,
    stdout: Vec<String>,
    seen: Vec<Proc>,
}

/// Runs `bench` with `env`, watching every process it owns every 20 ms until it exits.
fn run(bench: &str, env: &[(&str, &str)], disturb: Disturb, timeout: Duration) -> Outcome {
    let state_dir = test_state_dir().join(Path::new(bench).file_name().unwrap());
    let state_dir = state_dir.to_string_lossy().into_owned();
    // a process group of its own, as a shell gives a foreground job
    let mut child: Child = Command::new(bench)
        .process_group(0)
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the benchmark");
    let root = child.id() as i32;
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("  > {line}");
            let _ = tx.send(line);
        }
    });
    let seen: Arc<Mutex<HashMap<(i32, u64), Proc>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, stop, state_dir) = (seen.clone(), stop.clone(), state_dir.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for p in owned_by(root, &state_dir) {
                    seen.lock().unwrap().entry((p.pid, p.start)).or_insert(p);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    let mut lines = Vec::new();
    let mut armed = matches!(disturb, Disturb::None);
    let mut done = false;
    let status = loop {
        while let Ok(l) = rx.try_recv() {
            if let Disturb::SigintWhen { line, .. } | Disturb::KillWhen { line, .. } = &disturb {
                armed |= l.starts_with(line);
            }
            lines.push(l);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if armed && !done {
            let words: &[&str] = match &disturb {
                Disturb::SigintWhen { words, .. } | Disturb::KillWhen { words, .. } => words,
                Disturb::None => &[],
            };
            if !words.is_empty() {
                if let Some(target) = owned_by(root, &state_dir).into_iter().find(|p| words.iter().all(|w| p.cmd.contains(w))) {
                    let (pid, sig) = match disturb {
                        Disturb::SigintWhen { group: true, .. } => (-root, libc::SIGINT),
                        Disturb::SigintWhen { group: false, .. } => (root, libc::SIGINT),
                        _ => (target.pid, libc::SIGKILL),
                    };
                    eprintln!("bench_cleanup: {target:?} is running: signal {sig} to pid {pid}");
                    unsafe { libc::kill(pid, sig) };
                    done = true;
                }
            }
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            panic!("{bench} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        lines.push(l);
    }
    if !matches!(disturb, Disturb::None) {
        assert!(done, "{bench} exited ({status}) before it could be disturbed");
    }
    let seen: Vec<Proc> = seen.lock().unwrap().values().cloned().collect();
    // nothing it owned may outlive it (a moment for the kernel to reap the orphans)
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left: Vec<&Proc> = seen.iter().filter(|p| alive(p)).collect();
        let by_dir: Vec<Proc> = all_procs().into_iter().filter(|p| p.cmd.contains(&state_dir) && !matches!(p.state, 'Z' | 'X')).collect();
        if left.is_empty() && by_dir.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{bench} exited ({status}) and left running: {left:#?}\nprocesses on its state dir {state_dir}: {by_dir:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Outcome { status, stdout: lines, seen }
}

fn ponder_installed() -> bool {
    toolchain::project_root().join("bench/ponder/node_modules/ponder").is_dir()
}

fn saw(o: &Outcome, words: &[&str]) -> bool {
    o.seen.iter().any(|p| words.iter().all(|w| p.cmd.contains(w)))
}

#[test]
fn bench_indexer_leaves_nothing_running() {
    let _ = emledger_bin();
    let bench = env!("CARGO_BIN_EXE_bench_indexer");
    let ponder = ponder_installed();
    if !ponder {
        eprintln!("bench_cleanup: bench/ponder/node_modules is not installed: the runs go without Ponder");
    }
    let skip = if ponder { "0" } else { "1" };
    let tiny = [
        ("BENCH_EVENTS", "200"),
        ("BENCH_B_BLOCKS", "20"),
        ("BENCH_LIVE_TXS", "3"),
        ("BENCH_RUNS", "1"),
        ("BENCH_WORKLOADS", "A"),
        ("BENCH_SKIP_PONDER", skip),
    ];
    let limit = Duration::from_secs(120);

    // to its end
    let o = run(bench, &tiny, Disturb::None, limit);
    assert!(o.status.success(), "bench_indexer failed: {}", o.status);
    assert!(o.stdout.iter().any(|l| l.starts_with("A: emledger / node")), "no summary");
    assert!(o.stdout.iter().any(|l| l.starts_with("A: postgres alone / node")), "no Postgres-alone ceiling");
    // the watcher saw what lives all run long (the tiny run's `emledger` processes may
    // come and go between two looks on a loaded machine)
    assert!(saw(&o, &["anvil"]) && saw(&o, &["postgres", "pgdata"]), "{:#?}", o.seen);
    if ponder {
        assert!(saw(&o, &["ponder", "start"]), "Ponder never ran: {:#?}", o.seen);
    }

    // Ctrl-C (the whole process group) mid-run: while Ponder runs, else while its anvil
    // does (the tiny run's indexer may be gone before a look sees it)
    let words: &'static [&'static str] = if ponder { &["ponder", "start"] } else { &["anvil"] };
    let o = run(bench, &tiny, Disturb::SigintWhen { line: "run 1/1 node", words, group: true }, limit);
    assert_eq!(o.status.code(), Some(130), "exit after SIGINT: {}", o.status);

    // an error: its anvil killed from outside
    let o = run(bench, &tiny, Disturb::KillWhen { line: "== workload A", words: &["anvil"] }, limit);
    assert!(!o.status.success(), "bench_indexer succeeded without its anvil");
    assert_ne!(o.status.code(), Some(130));
}

#[test]
fn bench_api_leaves_nothing_running() {
    let _ = emledger_bin();
    let bench = env!("CARGO_BIN_EXE_bench_api");
    let tiny = [("BENCH_OPS", "20"), ("BENCH_PACED_OPS", "10"), ("BENCH_WALLETS", "2"), ("BENCH_CONCURRENCY", "8")];
    let limit = Duration::from_secs(120);

    let o = run(bench, &tiny, Disturb::None, limit);
    assert!(o.status.success(), "bench_api failed: {}", o.status);
    assert!(o.stdout.iter().any(|l| l.starts_with("ratio batched / raw")), "no summary");
    assert!(saw(&o, &["anvil"]) && saw(&o, &["emledger", " api"]) && saw(&o, &["postgres", "pgdata"]), "{:#?}", o.seen);

    // SIGINT to the benchmark alone (kill -INT) with the API, the indexer and anvil running
    let o = run(bench, &tiny, Disturb::SigintWhen { line: "== API, unbatched", words: &["emledger", " api"], group: false }, limit);
    assert_eq!(o.status.code(), Some(130), "exit after SIGINT: {}", o.status);

    // an error: the API killed from outside mid-run
    let o = run(bench, &tiny, Disturb::KillWhen { line: "== API, unbatched", words: &["emledger", " api"] }, limit);
    assert!(!o.status.success(), "bench_api succeeded without its API");
}
