//! The agent processes of a run: start, kill (SIGKILL, data dir kept or wiped), pause
//! (SIGSTOP / SIGCONT), restart; their logs; and their traffic counters, read from `/metrics`
//! before an agent dies so that a run's bytes and packets count every life.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::http;
use super::rig::{Mode, Rig, RigError};

/// How long a fresh agent may take to answer `/healthz`.
const START_PATIENCE: Duration = Duration::from_secs(20);
/// The timeout of control requests (health, metrics, blocking).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why an agent could not be started or controlled.
#[derive(Debug)]
pub enum ClusterError {
    /// The rig failed.
    Rig(RigError),
    /// The process could not be spawned.
    Spawn {
        /// Which agent.
        agent: usize,
        /// Why.
        source: std::io::Error,
    },
    /// The agent did not answer `/healthz` in time (or exited).
    NotReady {
        /// Which agent.
        agent: usize,
        /// The end of its log.
        log_tail: String,
    },
    /// Loopback mode: an agent refused or did not answer its blocked list, so its cuts are
    /// not what the nemesis asked for.
    Block {
        /// Which agent.
        agent: usize,
        /// The answer or the error.
        detail: String,
    },
    /// A file of the run could not be written.
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Rig(e) => write!(f, "{e}"),
            ClusterError::Spawn { agent, source } => write!(f, "agent {agent}: spawn: {source}"),
            ClusterError::NotReady { agent, log_tail } => {
                write!(
                    f,
                    "agent {agent} did not become ready; its log ends:\n{log_tail}"
                )
            }
            ClusterError::Block { agent, detail } => {
                write!(f, "agent {agent}: PUT /v1/test/blocked: {detail}")
            }
            ClusterError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for ClusterError {}

impl From<RigError> for ClusterError {
    fn from(e: RigError) -> Self {
        ClusterError::Rig(e)
    }
}

/// Packets and bytes the agents sent (UDP datagrams and TCP frames, as on the wire).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Datagrams plus frames.
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Traffic {
    /// Reads the counters out of a Prometheus text.
    pub fn parse(text: &str) -> Traffic {
        let mut t = Traffic::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.split_whitespace();
            let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(v) = value.parse::<u64>() else {
                continue;
            };
            match name {
                "gossip_net_udp_sent_total" | "gossip_net_tcp_sent_total" => t.packets += v,
                "gossip_net_udp_sent_bytes_total" | "gossip_net_tcp_sent_bytes_total" => {
                    t.bytes += v
                }
                _ => {}
            }
        }
        t
    }

    fn add(&mut self, o: Traffic) {
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// How the agents are launched.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The gossip-agent binary.
    pub program: PathBuf,
    /// `--test-faults` for every agent (loopback mode turns it on even when unset: its
    /// partitions need it).
    pub test_faults: Option<String>,
    /// `--preset`.
    pub preset: String,
}

struct Agent {
    child: Option<Child>,
    paused: bool,
    life: u32,
}

/// The agents of a run.
pub struct Cluster {
    rig: Rig,
    launch: Launch,
    dir: PathBuf,
    agents: Vec<Agent>,
    /// Cut links (from, to): from sends nothing to to.
    cuts: BTreeSet<(usize, usize)>,
    /// Traffic of lives that ended.
    traffic: Traffic,
}

impl Cluster {
    /// Starts every agent on `rig`, agent 0 first and the others joining it; logs and data
    /// dirs go under `dir`.
    pub fn start(rig: Rig, launch: Launch, dir: &Path) -> Result<Cluster, ClusterError> {
        let n = rig.len();
        let mut c = Cluster {
            rig,
            launch,
            dir: dir.to_owned(),
            agents: (0..n)
                .map(|_| Agent {
                    child: None,
                    paused: false,
                    life: 0,
                })
                .collect(),
            cuts: BTreeSet::new(),
            traffic: Traffic::default(),
        };
        for i in 0..n {
            c.spawn(i)?;
        }
        for i in 0..n {
            c.wait_ready(i)?;
        }
        Ok(c)
    }

    /// The rig.
    pub fn rig(&self) -> &Rig {
        &self.rig
    }

    /// How many agents.
    pub fn count(&self) -> usize {
        self.agents.len()
    }

    fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join("data").join(format!("a{i}"))
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.join("node-logs").join(format!("a{i}.log"))
    }

    fn spawn(&mut self, i: usize) -> Result<(), ClusterError> {
        let data = self.data_dir(i);
        std::fs::create_dir_all(&data).map_err(|source| ClusterError::Io {
            path: data.clone(),
            source,
        })?;
        let log_path = self.log_path(i);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| ClusterError::Io {
                path: log_path.clone(),
                source,
            })?;
        let err = log.try_clone().map_err(|source| ClusterError::Io {
            path: log_path.clone(),
            source,
        })?;
        let mut cmd = self.rig.command(i, &self.launch.program);
        cmd.arg("run")
            .arg("--listen")
            .arg(self.rig.gossip_addr(i).to_string())
            .arg("--http")
            .arg(self.rig.http_addr(i).to_string())
            .arg("--insecure")
            .arg("--preset")
            .arg(&self.launch.preset)
            .arg("--data-dir")
            .arg(&data);
        let seeds: Vec<String> = (0..self.count())
            .filter(|&j| j != i)
            .map(|j| self.rig.gossip_addr(j).to_string())
            .collect();
        if !seeds.is_empty() && (i > 0 || self.agents[i].life > 0) {
            cmd.arg("--join").arg(seeds.join(","));
        }
        let faults = match (&self.launch.test_faults, self.rig.mode()) {
            (Some(f), _) => Some(f.clone()),
            (None, Mode::Loopback) => Some("none".to_owned()),
            (None, Mode::Namespaces) => None,
        };
        if let Some(f) = faults {
            cmd.arg("--test-faults").arg(f);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .map_err(|source| ClusterError::Spawn { agent: i, source })?;
        let a = &mut self.agents[i];
        a.child = Some(child);
        a.paused = false;
        a.life += 1;
        Ok(())
    }

    fn wait_ready(&mut self, i: usize) -> Result<(), ClusterError> {
        let deadline = Instant::now() + START_PATIENCE;
        let addr = self.rig.http_addr(i);
        while Instant::now() < deadline {
            if let Ok(a) = http::request(addr, "GET", "/healthz", None, CONTROL_TIMEOUT)
                && a.status == 200
            {
                // A restarted agent in loopback mode gets its cuts back.
                return self.push_cuts(i);
            }
            let exited = self.agents[i]
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(ClusterError::NotReady {
            agent: i,
            log_tail: tail(&self.log_path(i)),
        })
    }

    /// Reads agent `i`'s traffic counters (None if it does not answer).
    pub fn traffic_of(&self, i: usize) -> Option<Traffic> {
        let a = http::request(
            self.rig.http_addr(i),
            "GET",
            "/metrics",
            None,
            CONTROL_TIMEOUT,
        )
        .ok()?;
        (a.status == 200).then(|| Traffic::parse(&a.body))
    }

    /// The traffic of every life so far (ended lives, plus what the live agents answer).
    pub fn traffic(&self) -> Traffic {
        let mut t = self.traffic;
        for i in 0..self.count() {
            if self.is_up(i)
                && let Some(live) = self.traffic_of(i)
            {
                t.add(live);
            }
        }
        t
    }

    /// Whether agent `i` runs and is not paused.
    pub fn is_up(&self, i: usize) -> bool {
        let a = &self.agents[i];
        a.child.is_some() && !a.paused
    }

    fn signal(&self, i: usize, sig: Signal) {
        if let Some(c) = &self.agents[i].child
            && let Ok(pid) = i32::try_from(c.id())
        {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// SIGKILL agent `i` (its counters read first); with `wipe`, its data dir is emptied.
    pub fn kill(&mut self, i: usize, wipe: bool) {
        if self.is_up(i)
            && let Some(t) = self.traffic_of(i)
        {
            self.traffic.add(t);
        }
        if self.agents[i].paused {
            self.signal(i, Signal::SIGCONT);
        }
        self.signal(i, Signal::SIGKILL);
        if let Some(mut c) = self.agents[i].child.take() {
            let _ = c.wait();
        }
        self.agents[i].paused = false;
        if wipe {
            let _ = std::fs::remove_dir_all(self.data_dir(i));
        }
    }

    /// Starts a killed agent `i` again (joining the others) and waits until it answers.
    pub fn restart(&mut self, i: usize) -> Result<(), ClusterError> {
        if self.agents[i].child.is_some() {
            return Ok(());
        }
        self.spawn(i)?;
        self.wait_ready(i)
    }

    /// SIGSTOP agent `i`.
    pub fn pause(&mut self, i: usize) {
        if self.is_up(i) {
            self.signal(i, Signal::SIGSTOP);
            self.agents[i].paused = true;
        }
    }

    /// SIGCONT agent `i`; in loopback mode it gets the cuts it may have missed.
    pub fn resume(&mut self, i: usize) -> Result<(), ClusterError> {
        if self.agents[i].paused {
            self.signal(i, Signal::SIGCONT);
            self.agents[i].paused = false;
            return self.push_cuts(i);
        }
        Ok(())
    }

    /// Makes exactly `cuts` the cut links. Loopback mode tells each live agent whom it must
    /// not send to (a paused or dead agent gets its list when it resumes or restarts).
    pub fn set_cuts(&mut self, cuts: BTreeSet<(usize, usize)>) -> Result<(), ClusterError> {
        self.cuts = cuts;
        self.rig.set_cuts(&self.cuts)?;
        for i in 0..self.count() {
            if self.is_up(i) {
                self.push_cuts(i)?;
            }
        }
        Ok(())
    }

    /// Loopback mode: sends agent `i` its blocked list.
    fn push_cuts(&self, i: usize) -> Result<(), ClusterError> {
        if self.rig.mode() != Mode::Loopback {
            return Ok(());
        }
        let peers: Vec<String> = self
            .cuts
            .iter()
            .filter(|(from, _)| *from == i)
            .map(|(_, to)| format!("\"{}\"", self.rig.gossip_addr(*to)))
            .collect();
        let body = format!("{{\"peers\":[{}]}}", peers.join(","));
        match http::request(
            self.rig.http_addr(i),
            "PUT",
            "/v1/test/blocked",
            Some(&body),
            CONTROL_TIMEOUT,
        ) {
            Ok(a) if a.status == 200 => Ok(()),
            Ok(a) => Err(ClusterError::Block {
                agent: i,
                detail: format!("{} {}", a.status, a.body),
            }),
            Err(e) => Err(ClusterError::Block {
                agent: i,
                detail: e.to_string(),
            }),
        }
    }

    /// Undoes every fault: resume the paused, restart the dead, heal the links.
    pub fn heal_all(&mut self) -> Result<(), ClusterError> {
        for i in 0..self.count() {
            self.resume(i)?;
        }
        for i in 0..self.count() {
            self.restart(i)?;
        }
        self.set_cuts(BTreeSet::new())
    }

    /// Stops every agent (SIGKILL), reading its counters first.
    pub fn stop_all(&mut self) {
        for i in 0..self.count() {
            self.kill(i, false);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for a in &mut self.agents {
            if let Some(mut c) = a.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_sums_datagrams_and_frames() {
        let text = "# HELP gossip_net_udp_sent_total x\ngossip_net_udp_sent_total 31\n\
                    gossip_net_udp_sent_bytes_total 2788\ngossip_net_tcp_sent_total 2\n\
                    gossip_net_tcp_sent_bytes_total 100\ngossip_net_packets_sent_total 99\n";
        assert_eq!(
            Traffic::parse(text),
            Traffic {
                packets: 33,
                bytes: 2888
            }
        );
    }
}
