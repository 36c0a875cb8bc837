//! Where the agents run and how their links are cut.
//!
//! Namespace mode: each agent in its own Linux network namespace, its veth pair joined to a
//! bridge in the root namespace, which holds the address clients talk from. A cut from A to B
//! is a blackhole route to B's address inside A's namespace: per-peer and per-direction, so
//! every partition shape works with nothing but `ip` (this machine may have no nftables or
//! iptables), and the clients, who reach each agent over its own veth, are never cut.
//! Every address on the bridge has a fixed MAC and a permanent neighbour entry wherever it is
//! talked to: the kernel's table of learnt neighbours is shared by all namespaces and holds
//! `net.ipv4.neigh.default.gc_thresh3` entries (1,024 by default), while n agents need about
//! n² of them; permanent entries are not counted against it, and need no ARP.
//!
//! Loopback mode, where namespaces cannot be made (not root, no `ip`): every agent on
//! 127.0.0.1 with its own ports, and cuts made by the agents' test fault layer
//! (`PUT /v1/test/blocked`), which the caller applies.
//!
//! Names carry the harness's pid (`gr<pid>b` for the bridge, `gr<pid>n<i>` namespaces,
//! `gr<pid>v<i>` veths), so parallel runs do not collide and the leftovers of a run whose pid
//! is gone are recognised and removed when the next rig is made. Everything made is removed
//! when the rig is dropped.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Command, Stdio};

/// The gossip port of every agent in namespace mode.
const GOSSIP_PORT: u16 = 7000;
/// The HTTP port of every agent in namespace mode.
const HTTP_PORT: u16 = 8000;
/// Name prefix of everything a rig makes.
const PREFIX: &str = "gr";

/// Which kind of network the agents run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One network namespace per agent, veth pairs on a bridge.
    Namespaces,
    /// Everything on 127.0.0.1; partitions through the agents' test fault layer.
    Loopback,
}

impl Mode {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Namespaces => "namespaces",
            Mode::Loopback => "loopback",
        }
    }
}

/// Why the rig could not be made or changed.
#[derive(Debug)]
pub enum RigError {
    /// An `ip` command failed; what was made so far is removed when the rig drops.
    Ip {
        /// The arguments.
        args: String,
        /// Its stderr, or why it did not run.
        stderr: String,
    },
    /// No free ports on loopback.
    Ports(std::io::Error),
    /// No free /24 under 10.213.0.0/16 for the bridge.
    NoSubnet,
}

impl std::fmt::Display for RigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RigError::Ip { args, stderr } => write!(f, "ip {args}: {}", stderr.trim()),
            RigError::Ports(e) => write!(f, "no free loopback ports: {e}"),
            RigError::NoSubnet => f.write_str("no free 10.213.x.0/24 subnet for the bridge"),
        }
    }
}

impl std::error::Error for RigError {}

fn ip(args: &[&str]) -> Result<String, RigError> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| RigError::Ip {
            args: args.join(" "),
            stderr: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(RigError::Ip {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// Runs `ip [-n netns] -batch -` with `lines` (one command each) on its stdin.
fn ip_batch(netns: Option<&str>, lines: &str) -> Result<(), RigError> {
    let mut args: Vec<&str> = Vec::new();
    if let Some(ns) = netns {
        args.extend(["-n", ns]);
    }
    args.extend(["-batch", "-"]);
    let fail = |stderr: String| RigError::Ip {
        args: args.join(" "),
        stderr,
    };
    let mut child = Command::new("ip")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(lines.as_bytes())
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}

/// Whether namespaces can be made here: root, and `ip netns` works.
pub fn namespaces_available() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    root && ip(&["netns", "list"]).is_ok()
}

/// The network the agents of one run live on.
#[derive(Debug)]
pub struct Rig {
    mode: Mode,
    n: usize,
    tag: String,
    /// Namespace mode: the third octet of 10.213.x.0/24.
    subnet: u8,
    /// Loopback mode: (gossip, http) port of each agent.
    ports: Vec<(u16, u16)>,
    /// Namespace mode: the blackhole routes in place, as (from, to).
    routes: BTreeSet<(usize, usize)>,
    made_bridge: bool,
    made_namespaces: Vec<usize>,
}

impl Rig {
    /// `n` agents in namespaces (after removing what crashed runs left behind).
    pub fn namespaces(n: usize) -> Result<Rig, RigError> {
        remove_leftovers();
        let tag = format!("{PREFIX}{}", std::process::id());
        let mut rig = Rig {
            mode: Mode::Namespaces,
            n,
            tag,
            subnet: 0,
            ports: Vec::new(),
            routes: BTreeSet::new(),
            made_bridge: false,
            made_namespaces: Vec::new(),
        };
        rig.subnet = free_subnet()?;
        let bridge = rig.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        rig.made_bridge = true;
        // A fixed MAC: a bridge otherwise takes the lowest of its ports' as they join.
        ip(&["link", "set", &bridge, "address", &rig.host_mac()])?;
        let host = format!("{}/24", rig.host_ip());
        ip(&["addr", "add", &host, "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..n {
            let ns = rig.namespace(i);
            ip(&["netns", "add", &ns])?;
            rig.made_namespaces.push(i);
            let outer = format!("{}v{i}", rig.tag);
            let inner = format!("{}e{i}", rig.tag);
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", &ns,
            ])?;
            ip(&["link", "set", &outer, "master", &bridge])?;
            ip(&["link", "set", &outer, "up"])?;
            let addr = format!("{}/24", rig.agent_ip(i));
            ip(&[
                "-n",
                &ns,
                "link",
                "set",
                &inner,
                "address",
                &rig.agent_mac(i),
            ])?;
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        rig.pin_neighbours()?;
        Ok(rig)
    }

    /// Permanent neighbour entries: the host knows every agent, every agent knows the host
    /// and every other agent.
    fn pin_neighbours(&self) -> Result<(), RigError> {
        let entry = |ip: Ipv4Addr, mac: &str, dev: &str| {
            format!("neigh replace {ip} lladdr {mac} dev {dev} nud permanent\n")
        };
        let bridge = self.bridge();
        let host: String = (0..self.n)
            .map(|i| entry(self.agent_ip(i), &self.agent_mac(i), &bridge))
            .collect();
        ip_batch(None, &host)?;
        for i in 0..self.n {
            let inner = format!("{}e{i}", self.tag);
            let mut lines = entry(self.host_ip(), &self.host_mac(), &inner);
            for j in (0..self.n).filter(|&j| j != i) {
                lines.push_str(&entry(self.agent_ip(j), &self.agent_mac(j), &inner));
            }
            ip_batch(Some(&self.namespace(i)), &lines)?;
        }
        Ok(())
    }

    /// `n` agents on 127.0.0.1 with free ports.
    pub fn loopback(n: usize) -> Result<Rig, RigError> {
        let mut ports = Vec::with_capacity(n);
        let mut held = Vec::new();
        for _ in 0..n {
            let (gossip, g) = free_port().map_err(RigError::Ports)?;
            let (http, h) = free_port().map_err(RigError::Ports)?;
            // Held until every port is chosen, so no two agents get the same one.
            held.push(g);
            held.push(h);
            ports.push((gossip, http));
        }
        Ok(Rig {
            mode: Mode::Loopback,
            n,
            tag: format!("{PREFIX}{}", std::process::id()),
            subnet: 0,
            ports,
            routes: BTreeSet::new(),
            made_bridge: false,
            made_namespaces: Vec::new(),
        })
    }

    /// Which mode this rig runs.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// How many agents.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn bridge(&self) -> String {
        format!("{}b", self.tag)
    }

    fn namespace(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 254)
    }

    /// The bridge's MAC: locally administered, carrying the subnet, so that rigs side by side
    /// differ.
    fn host_mac(&self) -> String {
        format!("02:d5:{:02x}:ff:ff:fe", self.subnet)
    }

    /// Agent `i`'s MAC inside its namespace.
    fn agent_mac(&self, i: usize) -> String {
        format!("02:d5:{:02x}:00:00:{:02x}", self.subnet, i + 1)
    }

    fn agent_ip(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, (i + 1) as u8)
    }

    /// Agent `i`'s gossip address.
    pub fn gossip_addr(&self, i: usize) -> SocketAddr {
        match self.mode {
            Mode::Namespaces => SocketAddrV4::new(self.agent_ip(i), GOSSIP_PORT).into(),
            Mode::Loopback => {
                SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.ports.get(i).map_or(0, |p| p.0)).into()
            }
        }
    }

    /// Agent `i`'s HTTP address.
    pub fn http_addr(&self, i: usize) -> SocketAddr {
        match self.mode {
            Mode::Namespaces => SocketAddrV4::new(self.agent_ip(i), HTTP_PORT).into(),
            Mode::Loopback => {
                SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.ports.get(i).map_or(0, |p| p.1)).into()
            }
        }
    }

    /// A command that runs `program` as agent `i` (inside its namespace in namespace mode;
    /// `ip netns exec` execs the program, so the child's pid is the agent's).
    pub fn command(&self, i: usize, program: &std::path::Path) -> Command {
        match self.mode {
            Mode::Namespaces => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &self.namespace(i)]).arg(program);
                c
            }
            Mode::Loopback => Command::new(program),
        }
    }

    /// Namespace mode: make exactly `cuts` ((from, to): from sends nothing to to) the cut
    /// links. Loopback mode leaves cuts to the caller and returns Ok.
    pub fn set_cuts(&mut self, cuts: &BTreeSet<(usize, usize)>) -> Result<(), RigError> {
        if self.mode != Mode::Namespaces {
            return Ok(());
        }
        let stale: Vec<(usize, usize)> = self.routes.difference(cuts).copied().collect();
        for (from, to) in stale {
            let dest = format!("{}/32", self.agent_ip(to));
            ip(&[
                "-n",
                &self.namespace(from),
                "route",
                "del",
                "blackhole",
                &dest,
            ])?;
            self.routes.remove(&(from, to));
        }
        let fresh: Vec<(usize, usize)> = cuts.difference(&self.routes).copied().collect();
        for (from, to) in fresh {
            let dest = format!("{}/32", self.agent_ip(to));
            ip(&[
                "-n",
                &self.namespace(from),
                "route",
                "add",
                "blackhole",
                &dest,
            ])?;
            self.routes.insert((from, to));
        }
        Ok(())
    }

    /// The mode and the names, for the report.
    pub fn describe(&self) -> serde_json::Value {
        match self.mode {
            Mode::Namespaces => serde_json::json!({
                "mode": self.mode.name(),
                "bridge": self.bridge(),
                "subnet": format!("10.213.{}.0/24", self.subnet),
                "namespaces": (0..self.n).map(|i| self.namespace(i)).collect::<Vec<_>>(),
                "cuts": "blackhole routes inside the namespaces",
            }),
            Mode::Loopback => serde_json::json!({
                "mode": self.mode.name(),
                "cuts": "the agents' test fault layer (PUT /v1/test/blocked)",
            }),
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for &i in &self.made_namespaces {
            kill_namespace(&self.namespace(i));
        }
        if self.made_bridge {
            let _ = ip(&["link", "del", &self.bridge()]);
        }
    }
}

/// Kills whatever still runs in `ns`, then deletes it (its veth pair goes with it).
fn kill_namespace(ns: &str) {
    if let Ok(pids) = ip(&["netns", "pids", ns]) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _ = ip(&["netns", "del", ns]);
}

/// The pid in a name `gr<pid>...`, if the name is ours.
fn owner(name: &str) -> Option<u32> {
    let digits: String = name
        .strip_prefix(PREFIX)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes namespaces and bridges left by runs whose harness is gone.
pub fn remove_leftovers() {
    if let Ok(list) = ip(&["netns", "list"]) {
        for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
            if owner(name).is_some_and(|pid| !alive(pid)) {
                kill_namespace(name);
            }
        }
    }
    if let Ok(list) = ip(&["-o", "link", "show", "type", "bridge"]) {
        for line in list.lines() {
            let Some(name) = line.split(':').nth(1).map(str::trim) else {
                continue;
            };
            if owner(name).is_some_and(|pid| !alive(pid)) && name.ends_with('b') {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
}

/// A /24 under 10.213.0.0/16 that no interface here uses yet, starting from one picked by
/// this process's id so that parallel runs rarely try the same one.
fn free_subnet() -> Result<u8, RigError> {
    let used = ip(&["-4", "-o", "addr", "show"])?;
    let start = (std::process::id() % 256) as usize;
    (0..256)
        .map(|k| ((start + k) % 256) as u8)
        .find(|x| !used.contains(&format!("10.213.{x}.")))
        .ok_or(RigError::NoSubnet)
}

/// A port free for both TCP and UDP on 127.0.0.1, and the socket holding it.
fn free_port() -> std::io::Result<(u16, std::net::TcpListener)> {
    for _ in 0..100 {
        let tcp = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = tcp.local_addr()?.port();
        if std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok((port, tcp));
        }
    }
    Err(std::io::Error::other("no port free for both TCP and UDP"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_owned_by_the_pid_they_carry() {
        assert_eq!(owner("gr1234n0"), Some(1234));
        assert_eq!(owner("gr77b"), Some(77));
        assert_eq!(owner("gre0"), None);
        assert_eq!(owner("eth0"), None);
    }

    #[test]
    fn loopback_agents_get_distinct_ports() {
        let rig = Rig::loopback(3);
        assert!(rig.is_ok(), "{rig:?}");
        let Ok(rig) = rig else { return };
        let mut all: Vec<u16> = (0..3)
            .flat_map(|i| [rig.gossip_addr(i).port(), rig.http_addr(i).port()])
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 6);
        assert!(all.iter().all(|p| *p != 0));
    }
}
