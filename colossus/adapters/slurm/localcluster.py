"""A throwaway Slurm cluster on this host: munge, MariaDB + slurmdbd, slurmctld, N virtual slurmd.

Used by the Slurm tests and ``benchmarks/slurm_agreement.py``; a user can start one to try
``colossus schedule --slurm`` (``python -m colossus.adapters.slurm.localcluster``). Everything
(keys, sockets, state, logs, the database) lives under one temporary folder; every daemon runs in
the foreground as our child and is stopped by its PID. Facts behind the configuration are in
shared/reference/slurm.md: no cgroups in containers (``proctrack/linuxproc``, ``task/none``),
``config_overrides`` so 4 nodes of 8 GPUs fit on a 2-core host, GPUs as ``/dev/null`` symlinks
(22.05 drops file-less GPUs and drains the node).

Needs root and Debian's ``slurmctld slurmd slurm-client munge`` (plus ``slurmdbd mariadb-server``
for accounting). :func:`missing_programs` names what is absent so callers can skip cleanly.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LocalSlurm", "LocalSlurmSpec", "PartitionSpec", "missing_programs", "why_cannot_run"]

BASE_PROGRAMS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")
ACCOUNTING_PROGRAMS = ("slurmdbd", "mariadbd", "mariadb-install-db", "sacctmgr", "sacct")


def missing_programs(accounting: bool = True) -> list[str]:
    """Programs the local cluster needs that are not on PATH (``/usr/sbin`` included)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    progs = BASE_PROGRAMS + (ACCOUNTING_PROGRAMS if accounting else ())
    return [p for p in progs if shutil.which(p, path=path) is None]


def why_cannot_run(accounting: bool = True) -> str | None:
    """One line saying why a local cluster cannot start here (not root, packages missing), else None."""
    if os.geteuid() != 0:
        return "Slurm tests need root (slurmd and munged run as root)"
    missing = missing_programs(accounting=accounting)
    if missing:
        return ("Slurm not installed (missing " + ", ".join(missing) + "); "
                "apt-get install slurmctld slurmd slurm-client munge slurmdbd mariadb-server")
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class PartitionSpec:
    """One Slurm partition over some of the nodes."""

    name: str
    nodes: str = "ALL"
    """Slurm node expression, e.g. ``n[1-2]``; ``ALL`` = every node."""
    default: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class LocalSlurmSpec:
    """Shape of the local cluster.

    Defaults: 4 nodes ``n1..n4`` of 8 typed GPUs (``gpu:h100``), 16 CPUs and 64 GB each, two
    partitions ``grok`` and ``coding`` over all nodes, accounts ``grok`` and ``coding``, with
    slurmdbd accounting and the backfill scheduler running every second.
    """

    nodes: int = 4
    gpus_per_node: int = 8
    cpus_per_node: int = 16
    memory_mb: int = 64000
    gpu_type: str | None = "h100"
    """GPU type in ``Gres=gpu:TYPE:N``; None declares untyped GPUs."""
    partitions: tuple[PartitionSpec, ...] = (
        PartitionSpec(name="grok", default=True),
        PartitionSpec(name="coding"),
    )
    accounts: tuple[str, ...] = ("grok", "coding")
    accounting: bool = True
    """Start MariaDB + slurmdbd (full ``sacct``); False: ``jobcomp/filetxt`` only."""
    bf_interval_s: int = 1
    """``SchedulerParameters=bf_interval``: seconds between backfill passes."""
    extra_conf: tuple[str, ...] = ()
    """Extra ``slurm.conf`` lines."""

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.gpus_per_node < 1 or self.cpus_per_node < self.gpus_per_node:
            raise ValueError("need nodes >= 1, gpus_per_node >= 1 and cpus_per_node >= gpus_per_node")
        if not self.partitions:
            raise ValueError("at least one partition")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_range(n: int) -> int:
    for _ in range(200):
        base = _free_port()
        if base + n < 65000 and all(_port_free(base + i) for i in range(n)):
            return base
    raise RuntimeError(f"no {n} consecutive free ports on 127.0.0.1")


def _which(prog: str) -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    found = shutil.which(prog, path=path)
    if found is None:
        raise RuntimeError(f"{prog} not found; install Debian's slurmctld slurmd slurm-client munge slurmdbd mariadb-server")
    return found


@dataclass(kw_only=True)
class LocalSlurm:
    """A running local cluster. Use as a context manager or call :meth:`start` / :meth:`stop`."""

    spec: LocalSlurmSpec = field(default_factory=LocalSlurmSpec)
    root: Path | None = None
    """Folder for everything; a new temporary folder when None (removed on stop)."""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _own_root: bool = False

    # -- paths and environment -------------------------------------------------------------
    @property
    def conf(self) -> Path:
        assert self.root is not None
        return self.root / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """Environment for Slurm client commands (``SLURM_CONF`` points at our config)."""
        env = dict(os.environ)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = env.get("PATH", "") + os.pathsep + "/usr/sbin"
        return env

    @property
    def node_names(self) -> list[str]:
        return [f"n{i + 1}" for i in range(self.spec.nodes)]

    def run(self, args: Sequence[str], *, check: bool = True, timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command against this cluster."""
        out = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout_s)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: exit {out.returncode}: {out.stderr.strip() or out.stdout.strip()}")
        return out

    def sbatch(self, *args: str, wrap: str = "sleep 1") -> str:
        """Submit a batch job (output to /dev/null, working folder the cluster's); returns its job id."""
        assert self.root is not None
        out = self.run(["sbatch", "--parsable", "--output=/dev/null", f"--chdir={self.root}", *args, "--wrap", wrap])
        return out.stdout.strip().split(";")[0]

    # -- start -----------------------------------------------------------------------------
    def start(self, timeout_s: float = 60.0) -> LocalSlurm:
        """Write the configuration, start every daemon, wait until all nodes are idle."""
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="colossus-slurm-"))
            self._own_root = True
        try:
            self._start(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout_s: float) -> None:
        assert self.root is not None
        r = self.root
        for d in ("etc", "state", "spool", "log", "run", "dev", "db"):
            (r / d).mkdir(parents=True, exist_ok=True)
        os.chmod(r, 0o755)
        deadline = time.monotonic() + timeout_s
        spec = self.spec
        for i in range(spec.gpus_per_node):
            dev = r / "dev" / f"nvidia{i}"
            if not dev.exists():
                dev.symlink_to("/dev/null")
        # munge: own key and socket
        key = r / "etc" / "munge.key"
        subprocess.run([_which("mungekey"), "-c", "-f", "-k", str(key)], check=True, capture_output=True)
        os.chmod(key, 0o600)
        self.munge_socket = r / "run" / "munge.sock"
        self._spawn("munged", [_which("munged"), "-F", "--force", f"--socket={self.munge_socket}",
                               f"--key-file={key}", f"--pid-file={r / 'run' / 'munged.pid'}",
                               f"--log-file={r / 'log' / 'munged.log'}", f"--seed-file={r / 'run' / 'munged.seed'}"])
        self._wait(lambda: self.munge_socket.exists(), deadline, "munged socket")
        self.ctld_port = _free_port()
        self.slurmd_base_port = _free_port_range(spec.nodes)
        if spec.accounting:
            self._start_db(deadline)
        self._write_conf()
        if spec.accounting:
            self.run(["sacctmgr", "-i", "add", "cluster", self.cluster_name])
        self._spawn("slurmctld", [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        for name in self.node_names:
            self._spawn(f"slurmd-{name}", [_which("slurmd"), "-D", "-N", name, "-f", str(self.conf)])
        self._wait(self._all_idle, deadline, f"{spec.nodes} idle nodes")
        if spec.accounting:
            for acct in spec.accounts:
                self.run(["sacctmgr", "-i", "add", "account", acct, f"cluster={self.cluster_name}"])
            self.run(["sacctmgr", "-i", "add", "user", "root", f"account={','.join(spec.accounts)}",
                      f"cluster={self.cluster_name}"])

    cluster_name = "colossus-test"

    def _start_db(self, deadline: float) -> None:
        assert self.root is not None
        r = self.root
        datadir = r / "db" / "data"
        subprocess.run([_which("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        self.db_port = _free_port()
        self.db_socket = r / "run" / "mysql.sock"
        self._spawn("mariadbd", [_which("mariadbd"), "--no-defaults", f"--datadir={datadir}", "--user=root",
                                 f"--socket={self.db_socket}", f"--port={self.db_port}", "--bind-address=127.0.0.1",
                                 f"--pid-file={r / 'run' / 'mariadb.pid'}", f"--log-error={r / 'log' / 'mariadb.log'}",
                                 "--skip-log-bin", "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0",
                                 "--performance-schema=OFF"])
        self._wait(lambda: self.db_socket.exists() and not _port_free(self.db_port), deadline, "MariaDB")
        self.dbd_port = _free_port()
        dbd_conf = r / "etc" / "slurmdbd.conf"
        dbd_conf.write_text("\n".join([
            "AuthType=auth/munge", f"AuthInfo=socket={self.munge_socket}",
            "DbdHost=localhost", "DbdAddr=127.0.0.1", f"DbdPort={self.dbd_port}", "SlurmUser=root",
            "StorageType=accounting_storage/mysql", "StorageHost=127.0.0.1", f"StoragePort={self.db_port}",
            "StorageUser=root", "StorageLoc=slurm_acct_db",
            f"PidFile={r / 'run' / 'slurmdbd.pid'}", f"LogFile={r / 'log' / 'slurmdbd.log'}", "DebugLevel=info", "",
        ]))
        os.chmod(dbd_conf, 0o600)
        env = dict(os.environ, SLURM_CONF=str(self.conf))
        self._spawn("slurmdbd", [_which("slurmdbd"), "-D"], env=env)
        self._wait(lambda: not _port_free(self.dbd_port), deadline, "slurmdbd")

    def _write_conf(self) -> None:
        assert self.root is not None
        r, spec = self.root, self.spec
        gres = f"gpu:{spec.gpu_type}:{spec.gpus_per_node}" if spec.gpu_type else f"gpu:{spec.gpus_per_node}"
        nodes = f"n[1-{spec.nodes}]" if spec.nodes > 1 else "n1"
        ports = (f"[{self.slurmd_base_port}-{self.slurmd_base_port + spec.nodes - 1}]" if spec.nodes > 1
                 else str(self.slurmd_base_port))
        lines = [
            f"ClusterName={self.cluster_name}",
            "SlurmctldHost=localhost(127.0.0.1)",
            f"SlurmctldPort={self.ctld_port}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", f"AuthInfo=socket={self.munge_socket}", "CredType=cred/munge",
            f"StateSaveLocation={r / 'state'}", f"SlurmdSpoolDir={r / 'spool' / '%n'}",
            f"SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}", f"SlurmdPidFile={r / 'run' / 'slurmd.%n.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={r / 'log' / 'slurmd.%n.log'}",
            "SlurmctldDebug=info", "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
            "SlurmdParameters=config_overrides", "MpiDefault=none", "ReturnToService=2",
            "GresTypes=gpu", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory",
            "SchedulerType=sched/backfill",
            f"SchedulerParameters=bf_interval={spec.bf_interval_s},sched_min_interval=100000,bf_resolution=1,"
            "default_queue_depth=1000,bf_continue",
            "PriorityType=priority/basic",
            "MinJobAge=600", "KillWait=1", "InactiveLimit=0", "SlurmctldTimeout=30", "SlurmdTimeout=30",
            "MessageTimeout=20", "DefMemPerCPU=1000",
        ]
        if spec.accounting:
            lines += [
                "AccountingStorageType=accounting_storage/slurmdbd", "AccountingStorageHost=127.0.0.1",
                f"AccountingStoragePort={self.dbd_port}", f"AccountingStoragePass={self.munge_socket}",
                "AccountingStorageTRES=gres/gpu" + (f",gres/gpu:{spec.gpu_type}" if spec.gpu_type else ""),
                "JobCompType=jobcomp/none",
            ]
        else:
            lines += ["AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/filetxt",
                      f"JobCompLoc={r / 'log' / 'jobcomp.txt'}"]
        lines += list(spec.extra_conf)
        lines.append(f"NodeName={nodes} NodeHostname=localhost NodeAddr=127.0.0.1 Port={ports} "
                     f"CPUs={spec.cpus_per_node} RealMemory={spec.memory_mb} Gres={gres} State=UNKNOWN")
        for p in spec.partitions:
            pn = nodes if p.nodes == "ALL" else p.nodes
            lines.append(f"PartitionName={p.name} Nodes={pn} Default={'YES' if p.default else 'NO'} "
                         "MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")
        typ = f" Type={spec.gpu_type}" if spec.gpu_type else ""
        last = spec.gpus_per_node - 1
        files = f"{r / 'dev'}/nvidia[0-{last}]" if last else f"{r / 'dev'}/nvidia0"
        (r / "etc" / "gres.conf").write_text(f"AutoDetect=off\nNodeName={nodes} Name=gpu{typ} File={files}\n")

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        assert self.root is not None
        log = open(self.root / "log" / f"{name}.out", "wb")  # noqa: SIM115 - closed when the child ends
        try:
            self.procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                env=env or self.env, start_new_session=True)
        finally:
            log.close()

    def _wait(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        delay = 0.02
        while True:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode} while waiting for {what}; "
                                       f"see {self.root}/log/")
            if ready():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}; see {self.root}/log/")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def _all_idle(self) -> bool:
        out = self.run(["sinfo", "-h", "-N", "-o", "%N %t"], check=False)
        if out.returncode != 0:
            return False
        states = dict(line.split() for line in out.stdout.splitlines() if line.strip())
        return all(states.get(n, "").rstrip("*") == "idle" for n in self.node_names)

    def wait_for(self, ready: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
        """Poll ``ready`` until true (daemons checked alive between polls)."""
        self._wait(ready, time.monotonic() + timeout_s, what)

    # -- stop ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel every job, then stop every daemon we started, by PID (MariaDB and munged last)."""
        ctld = self.procs.get("slurmctld")
        if ctld is not None and ctld.poll() is None:
            self.run(["scancel", "--full", "--user=root"], check=False)
            try:
                self.wait_for(lambda: not self.run(["squeue", "-h", "-o", "%i"], check=False).stdout.strip(),
                              timeout_s=10, what="jobs to end")
            except (TimeoutError, RuntimeError):
                pass
        order = [n for n in self.procs if n.startswith("slurmd-")] + ["slurmctld", "slurmdbd", "mariadbd", "munged"]
        for name in order:
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        self._kill_leftover_jobs()
        self.procs.clear()
        if self._own_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_leftover_jobs(self) -> None:
        """Kill job steps still alive after slurmd stopped: processes whose environment holds our SLURM_CONF."""
        if self.root is None:
            return
        marker = f"SLURM_CONF={self.conf}".encode()
        me = os.getpid()
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit() or int(pid_dir.name) == me:
                continue
            try:
                env = (pid_dir / "environ").read_bytes()
            except OSError:
                continue
            if marker in env.split(b"\0"):
                try:
                    os.kill(int(pid_dir.name), signal.SIGKILL)
                except OSError:
                    pass

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - manual use
    """Start a local cluster, print how to reach it, stop it on Ctrl-C."""
    import sys

    why = why_cannot_run()
    if why is not None:
        sys.exit(f"localcluster: {why}")
    with LocalSlurm() as c:
        print(f"export SLURM_CONF={c.conf}   # Ctrl-C stops the cluster", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
