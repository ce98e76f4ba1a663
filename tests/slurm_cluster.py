"""A real single-node Slurm cluster on this machine, for the cluster tests.

Debian 12's slurm-wlm (22.05) with munge authentication and slurmdbd
accounting backed by MariaDB (the Slurm executor plugin follows its jobs
through ``sacct``, which needs accounting). Everything lives in a temporary
folder: configs, state, logs, the MariaDB datadir and the munge socket; daemons
listen on 127.0.0.1 only and are stopped when the fixture ends.
``.ci/slurm/install.sh`` installs the packages.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BINARIES = ("munged", "munge", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct", "sacctmgr")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


def which(name):
    path = shutil.which(name)
    if path:
        return path
    for d in SBIN:
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    env: dict
    name: str = "nepflow"
    procs: list = field(default_factory=list)

    def run(self, *cmd, check=True, timeout=60):
        proc = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {proc.stdout} {proc.stderr}")
        return proc


def _wait(predicate, what, timeout=60, interval=0.3):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


MUNGE_SOCKET = "/run/munge/munge.socket.2"
ETC = Path("/etc/slurm")
CONFS = ("slurm.conf", "slurmdbd.conf")


def _install_confs(c) -> None:
    ETC.mkdir(parents=True, exist_ok=True)
    for name in CONFS:
        target = ETC / name
        if target.exists() and not (c.root / "etc" / name).exists():
            shutil.copy2(target, c.root / "etc" / name)  # the machine's own, restored on stop
        shutil.copy2(c.root / name, target)
    (ETC / "slurmdbd.conf").chmod(0o600)


def _restore_confs(c) -> None:
    for name in CONFS:
        saved = c.root / "etc" / name
        if saved.exists():
            shutil.copy2(saved, ETC / name)
        else:
            (ETC / name).unlink(missing_ok=True)


def _munge_alive() -> bool:
    if not os.path.exists(MUNGE_SOCKET) or not which("munge"):
        return False
    proc = subprocess.run([which("munge"), "-n", "-S", MUNGE_SOCKET], capture_output=True, timeout=10)
    return proc.returncode == 0


def _port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(root: Path) -> Cluster:
    """Start munged, MariaDB, slurmdbd, slurmctld and slurmd under ``root``; return the cluster."""
    missing = [b for b in BINARIES if not which(b)]
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} missing): run .ci/slurm/install.sh")
    root.mkdir(parents=True, exist_ok=True)
    for d in ("munge", "db", "state", "spool", "log", "run", "etc"):
        (root / d).mkdir(exist_ok=True)
    host = "localhost"
    env = dict(os.environ)
    # The configs go to /etc/slurm, where srun inside a job looks (the jobstep plugin strips
    # SLURM_CONF from a job's environment); files already there are restored by stop().
    env["SLURM_CONF"] = str(ETC / "slurm.conf")
    cluster = Cluster(root=root, env=env)
    try:
        _start(cluster, host)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _daemon(c: Cluster, name: str, cmd: list) -> subprocess.Popen:
    """Start a daemon in the foreground with its output in log/{name}.out."""
    out = open(c.root / "log" / f"{name}.out", "w")
    return subprocess.Popen(cmd, env=c.env, stdout=out, stderr=subprocess.STDOUT)


def _start(c: Cluster, host: str) -> None:
    root = c.root
    # --- munge: Slurm 22.05's clients ignore AuthInfo for slurmdbd connections, so munged serves
    # the default socket; a munged already serving it is reused (every daemon then shares its key)
    msock = Path(MUNGE_SOCKET)
    if not _munge_alive():
        msock.parent.mkdir(parents=True, exist_ok=True)
        key = root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        c.procs.append(
            subprocess.Popen(
                [
                    which("munged"),
                    "--foreground",
                    "--force",
                    f"--key-file={key}",
                    f"--socket={msock}",
                    f"--pid-file={root / 'munge' / 'munged.pid'}",
                    f"--log-file={root / 'log' / 'munged.log'}",
                    f"--seed-file={root / 'munge' / 'munged.seed'}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait(_munge_alive, "munged")
    # --- MariaDB on 127.0.0.1
    db_port = free_port()
    datadir = root / "db" / "data"
    subprocess.run(
        [
            which("mariadb-install-db") or which("mysql_install_db"),
            f"--datadir={datadir}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dbsock = root / "db" / "mysqld.sock"
    c.procs.append(
        subprocess.Popen(
            [
                which("mariadbd"),
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={dbsock}",
                f"--port={db_port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                f"--pid-file={root / 'db' / 'mysqld.pid'}",
                f"--log-error={root / 'log' / 'mariadb.log'}",
                "--innodb-buffer-pool-size=64M",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    _wait(lambda: _port_open(db_port), "MariaDB", timeout=90)
    sql = (
        "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'nepflow-test-db'; "
        "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
    )
    subprocess.run(
        [which("mariadb") or which("mysql"), f"--socket={dbsock}", "-uroot", "-e", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )
    # --- configs
    dbd_port, ctld_port, d_port = free_port(), free_port(), free_port()
    mem = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    # a test node may oversubscribe the machine: its jobs are short and mostly start-up time
    cpus = max(4, os.cpu_count() or 2)
    auth = "AuthType=auth/munge\n"
    dbd_conf = root / "slurmdbd.conf"
    dbd_conf.write_text(
        auth + f"DbdHost={host}\nDbdAddr=127.0.0.1\nDbdPort={dbd_port}\nSlurmUser=root\n"
        f"StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\nStoragePort={db_port}\n"
        "StorageUser=slurm\nStoragePass=nepflow-test-db\nStorageLoc=slurm_acct_db\n"
        f"PidFile={root / 'run' / 'slurmdbd.pid'}\nLogFile={root / 'log' / 'slurmdbd.log'}\nDebugLevel=debug2\n"
    )
    dbd_conf.chmod(0o600)
    (root / "slurm.conf").write_text(
        auth + f"ClusterName={c.name}\nSlurmctldHost={host}(127.0.0.1)\nSlurmUser=root\nSlurmdUser=root\n"
        f"SlurmctldPort={ctld_port}\nSlurmdPort={d_port}\n"
        f"StateSaveLocation={root / 'state'}\nSlurmdSpoolDir={root / 'spool'}\n"
        f"SlurmctldPidFile={root / 'run' / 'slurmctld.pid'}\nSlurmdPidFile={root / 'run' / 'slurmd.pid'}\n"
        f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}\nSlurmdLogFile={root / 'log' / 'slurmd.log'}\n"
        "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\nReturnToService=2\n"
        "SlurmdParameters=config_overrides\n"
        "SchedulerType=sched/builtin\nSelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\n"
        "JobAcctGatherType=jobacct_gather/linux\nJobAcctGatherFrequency=5\n"
        f"AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=127.0.0.1\n"
        f"AccountingStoragePort={dbd_port}\nAccountingStorageEnforce=associations\nAccountingStoreFlags=job_comment\n"
        "SlurmctldTimeout=30\nSlurmdTimeout=30\nInactiveLimit=0\nMinJobAge=300\nKillWait=5\nWaitTime=0\n"
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN\n"
        "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"
    )
    _install_confs(c)
    # --- slurmdbd, cluster and account, then the controller and the node daemon
    # slurmdbd reads slurmdbd.conf from the folder of $SLURM_CONF
    c.procs.append(_daemon(c, "slurmdbd", [which("slurmdbd"), "-D"]))
    _wait(lambda: _port_open(dbd_port), "slurmdbd", timeout=90)
    c.run(which("sacctmgr"), "-i", "add", "cluster", c.name)
    c.run(
        which("sacctmgr"),
        "-i",
        "add",
        "account",
        "nepflow",
        f"Cluster={c.name}",
        "Description=tests",
        "Organization=nepflow",
    )
    c.run(
        which("sacctmgr"), "-i", "add", "user", "root", "Account=nepflow", f"Cluster={c.name}", "DefaultAccount=nepflow"
    )
    c.procs.append(_daemon(c, "slurmctld", [which("slurmctld"), "-D", "-i"]))
    _wait(lambda: _port_open(ctld_port), "slurmctld", timeout=60)
    c.procs.append(_daemon(c, "slurmd", [which("slurmd"), "-D"]))

    def idle():
        out = c.run(which("sinfo"), "-h", "-o", "%t", check=False).stdout.strip()
        return out in ("idle", "mix", "alloc")

    _wait(idle, "the node to become idle", timeout=60)


def stop(c: Cluster) -> None:
    """Stop every daemon (reverse start order), waiting for each to exit."""
    for proc in reversed(c.procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    c.procs.clear()
    _restore_confs(c)
