"""A real one-node Slurm cluster for the tests of `slurm/`: Debian's slurm-wlm and munge, started as
throwaway daemons with their own config, key, ports, state and logs under one temporary folder, so
nothing in /etc is touched and a system Slurm (if any) is left alone.

`slurm_available()` installs the packages when they are missing and this is a root machine with apt;
`LocalSlurm.start(root)` starts munged, slurmctld and slurmd and waits until the node is idle;
`stop()` ends every job and then each daemon by the pid it wrote. Daemons left by a run that was killed
(its pytest process is gone) are stopped by the next start.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "scancel", "srun", "sinfo")
ROOT_PREFIX = "gatortron-slurm-"
# Enough for every sbatch header in slurm/ (vocab.sbatch asks for 16 CPUs): the node declares it
# (SlurmdParameters=config_overrides), so jobs of a test share the real cores.
NODE_CPUS = 16
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
            "DEADLINE", "PREEMPTED"}


class SlurmError(RuntimeError):
    """The cluster could not be started, or a job ended other than expected."""


def missing_programs() -> list[str]:
    return [name for name in PROGRAMS if shutil.which(name) is None
            and not Path("/usr/sbin", name).exists()]


def slurm_available() -> str | None:
    """None when Slurm's programs are here (installed now with apt if need be), else why they are not."""
    if os.geteuid() != 0:
        return "starting munged, slurmctld and slurmd as a throwaway cluster needs root"
    if not missing_programs():
        return None
    if shutil.which("apt-get") is None:
        return (f"Slurm is not installed ({', '.join(missing_programs())} missing) and there is no apt-get "
                "to install slurm-wlm and munge")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            return f"{' '.join(command)} failed (exit {result.returncode}): {result.stderr.strip()[-400:]}"
    missing = missing_programs()
    return f"apt-get installed {' '.join(PACKAGES)} but {', '.join(missing)} are missing" if missing else None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise SlurmError("no MemTotal in /proc/meminfo")


def _stop_pid(pid: int, marker: str, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, the process `pid` if its command line names `marker` (our root): a pid
    file of a dead daemon may name a process that has nothing to do with us by now."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return
    if marker not in command:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        try:  # a child of ours (munged does not daemonize past us when run in the foreground) is reaped
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.kill(pid, signal.SIGKILL)


def _stop_daemons(root: Path) -> None:
    """Stop the daemons whose pid files lie under `root`: slurmd and slurmctld first, munged last."""
    for name in ("slurmd", "slurmctld", "munged"):
        pid_file = root / "run" / f"{name}.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        _stop_pid(pid, str(root))


def stop_leftovers(parent: Path) -> None:
    """Stop the daemons of clusters under `parent` whose test process is gone (a killed run)."""
    for root in parent.glob(f"{ROOT_PREFIX}*"):
        owner = root.name.removeprefix(ROOT_PREFIX).split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _stop_daemons(root)
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class JobState:
    state: str
    reason: str
    exit_code: str
    restarts: int

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


@dataclass
class LocalSlurm:
    root: Path
    node: str
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, parent: Path, timeout: float = 60.0) -> LocalSlurm:
        stop_leftovers(parent)
        root = parent / f"{ROOT_PREFIX}{os.getpid()}-{time.time_ns()}"
        for folder in ("munge", "run", "state", "spool", "log"):
            (root / folder).mkdir(parents=True)
        root.chmod(0o755)
        (root / "run").chmod(0o755)  # munged wants its socket's folder open to every user
        (root / "munge").chmod(0o700)
        node = socket.gethostname().split(".")[0]
        cluster = cls(root, node, {**os.environ, "SLURM_CONF": str(root / "slurm.conf")})
        try:
            cluster._start_munge()
            cluster._write_config()
            for daemon in ("slurmctld", "slurmd"):
                cluster._run([daemon, "-f", str(root / "slurm.conf")])
            cluster._wait_until_idle(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _run(self, command: list[str], timeout: float = 60.0) -> str:
        result = subprocess.run(command, env=self.environment, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise SlurmError(f"{' '.join(command)} failed (exit {result.returncode}): "
                             f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result.stdout

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        root = self.root
        self._run(["munged", f"--key-file={key}", f"--socket={root / 'run' / 'munge.socket'}",
                   f"--pid-file={root / 'run' / 'munged.pid'}", f"--log-file={root / 'log' / 'munged.log'}",
                   f"--seed-file={root / 'munge' / 'seed'}"])

    def _write_config(self) -> None:
        controller_port, node_port = _free_ports(2)
        root = self.root
        lines = [
            "ClusterName=gatortron-test",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={controller_port}",
            f"SlurmdPort={node_port}",
            "SlurmUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            # cred_expire also sets how long a requeued job is held before it may start again
            # (Slurm's default, 120 s, would make the requeue test wait two minutes).
            f"AuthInfo=socket={root / 'run' / 'munge.socket'},cred_expire=5",
            "SchedulerParameters=sched_interval=2",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "JobAcctGatherType=jobacct_gather/none",
            "MpiDefault=none",
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            "MinJobAge=3600",  # finished jobs stay visible to scontrol (there is no accounting database)
            "KillWait=10",
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} "
            f"RealMemory={int(_memory_mb() * 0.9)} State=UNKNOWN",
            f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        (root / "slurm.conf").write_text("\n".join(lines) + "\n")

    def _wait_until_idle(self, timeout: float) -> None:
        deadline, state = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            result = subprocess.run(["sinfo", "--noheader", "--format=%T"], env=self.environment,
                                    capture_output=True, text=True, timeout=30)
            state = result.stdout.strip()
            if result.returncode == 0 and state == "idle":
                return
            time.sleep(0.3)
        raise SlurmError(f"the node was not idle within {timeout:.0f} s (sinfo: {state or 'nothing'}); "
                         f"logs in {self.root / 'log'}")

    def submit(self, *arguments: str | Path, cwd: Path, environment: dict[str, str] | None = None) -> str:
        """`sbatch --parsable ARGUMENTS` from `cwd`; the job id."""
        command = ["sbatch", "--parsable", *map(str, arguments)]
        result = subprocess.run(command, cwd=cwd, env={**self.environment, **(environment or {})},
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise SlurmError(f"sbatch failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout.strip().split(";")[0]

    def state(self, job: str) -> JobState:
        text = self._run(["scontrol", "show", "job", "--oneliner", job])

        def value(key: str) -> str:
            match = re.search(rf"(?:^| ){key}=(\S*)", text)
            return match.group(1) if match else ""

        return JobState(value("JobState"), value("Reason"), value("ExitCode"), int(value("Restarts") or 0))

    def array_states(self, job: str) -> list[JobState]:
        """The state of each task of an array job (one line per task)."""
        text = self._run(["scontrol", "show", "job", "--oneliner", job])
        return [JobState(*(re.search(rf"(?:^| ){key}=(\S*)", line).group(1)
                           for key in ("JobState", "Reason", "ExitCode")),
                         int(re.search(r" Restarts=(\d+)", line).group(1)))
                for line in text.splitlines() if line.strip()]

    def wait(self, job: str, timeout: float, upstream: tuple[str, ...] = ()) -> list[JobState]:
        """Until every task of `job` has finished; their states. Raises SlurmError on a timeout, or
        when `job` (or a job in `upstream`, which it waits for) can no longer succeed."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.array_states(job)
            if all(s.finished for s in states):
                return states
            if any(s.reason == "DependencyNeverSatisfied" for s in states):
                raise SlurmError(f"job {job} waits on a job that failed")
            for other in upstream:
                if any(s.finished and s.state != "COMPLETED" for s in self.array_states(other)):
                    raise SlurmError(f"job {job} waits on job {other}, which ended {self.state(other).state}")
            if time.monotonic() > deadline:
                raise SlurmError(f"job {job} still {[s.state for s in states]} after {timeout:.0f} s")
            time.sleep(0.5)

    def signal(self, job: str, name: str, batch_only: bool = True) -> None:
        self._run(["scancel", f"--signal={name}", *(["--batch"] if batch_only else []), job])

    def stop(self) -> None:
        """Cancel every job of this cluster, then stop its daemons by pid (safe to call twice)."""
        if (self.root / "run" / "slurmctld.pid").exists():
            subprocess.run(["scancel", "--full", "--user=root"], env=self.environment, capture_output=True,
                           timeout=30)
            subprocess.run(["scancel", "--user=root"], env=self.environment, capture_output=True, timeout=30)
            deadline = time.monotonic() + 20  # slurmd ends the jobs' processes: give it the time to
            while time.monotonic() < deadline:
                queue = subprocess.run(["squeue", "--noheader"], env=self.environment, capture_output=True,
                                       text=True, timeout=30)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.3)
        _stop_daemons(self.root)
