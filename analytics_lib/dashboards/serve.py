"""SERVE_DOC
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from analytics_lib.core import paths
from analytics_lib.core.errors import WorkbenchError
from analytics_lib.core.procs import descendants, die_with_parent

#: The folder Voilà serves.
DASHBOARDS = paths.NOTEBOOKS / "dashboards"
#: Put on ``JUPYTER_PATH`` for the server: holds ``voila/templates/workbench`` (see its header).
TEMPLATES = Path(__file__).parent / "share"
DEFAULT_PORT = 8866
DEFAULT_HOST = "127.0.0.1"
#: Kernels (open pages) at most; each holds 250-350 MB with the marts of the 1M-event sample, so
#: 24 stay under 9 GB (size it to the machine's memory: --max-kernels).
MAX_KERNELS = 24
#: Seconds a kernel that never had a page (its page was abandoned while loading) may stay idle.
CULL_IDLE_TIMEOUT = 30
CULL_INTERVAL = 5
#: Seconds between a page's last websocket closing (without the unload beacon) and its kernel's shutdown.
DISCONNECT_GRACE = 5.0
#: The environment variable that carries the token to the server process and sets it for ``serve``.
TOKEN_ENV = "WORKBENCH_DASHBOARD_TOKEN"


def voila_arguments(*, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, notebooks: str | os.PathLike = DASHBOARDS,
                    max_kernels: int = MAX_KERNELS, cull_idle_timeout: int = CULL_IDLE_TIMEOUT,
                    cull_interval: int = CULL_INTERVAL, preheat: int = 0, base_url: str = "/",
                    allowed_hosts: Sequence[str] = (), disconnect_grace: float = DISCONNECT_GRACE) -> list[str]:
    """The server's command-line arguments (after ``python -m analytics_lib.dashboards.voila_app``).

    Parameters
    ----------
    port : int
    host : str
        The interface to bind; ``127.0.0.1`` keeps it on this machine.
    notebooks : path
        The folder of dashboards (Voilà lists it on its landing page).
    max_kernels : int
        Live kernels at most; more pages get HTTP 503 "busy".
    cull_idle_timeout, cull_interval : int
        Seconds: kernels that have no page and are idle that long are shut down, checked that often.
    preheat : int
        Pre-heated kernels per dashboard (0: none). Each renders its notebook before anyone asks
        and counts towards ``max_kernels``.
    base_url : str
        The path prefix when a reverse proxy serves the dashboards under a sub-path
        (``"/dashboards/"``).
    allowed_hosts : sequence of str
        ``Host`` names (or addresses) accepted besides loopback ones and ``host``; ``"*"``: any.
    disconnect_grace : float
        Seconds after a page's last websocket closed before its kernel is shut down.

    Examples
    --------
    >>> args = voila_arguments(port=9000, allowed_hosts=["dash.example.org"])
    >>> "--port=9000" in args and "--Voila.ip=127.0.0.1" in args
    True
    >>> "--WorkbenchVoila.allowed_hosts=dash.example.org" in args
    True
    """
    if not 1 <= int(port) <= 65535:
        raise WorkbenchError(f"port={port!r} must be between 1 and 65535")
    if max_kernels < 1 or cull_idle_timeout < 1 or cull_interval < 1 or preheat < 0:
        raise WorkbenchError("max_kernels, cull_idle_timeout and cull_interval must be at least 1, preheat at least 0")
    if preheat and preheat * _count_dashboards(notebooks) > max_kernels:
        raise WorkbenchError(f"preheat={preheat} kernels for each of {_count_dashboards(notebooks)} dashboards exceed "
                             f"max_kernels={max_kernels}: raise max_kernels or preheat fewer")
    if not base_url.startswith("/"):
        raise WorkbenchError(f"base_url={base_url!r} must start with '/' (e.g. '/dashboards/')")
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    hosts = list(dict.fromkeys([*(h.strip() for h in allowed_hosts if h.strip()),
                                *([host] if host not in ("", "0.0.0.0", "::") else [])]))
    if any("/" in h or " " in h for h in hosts):
        raise WorkbenchError(f"allowed hosts {hosts} must be host names or addresses (e.g. dash.example.org)")
    args = [
        str(notebooks), "--no-browser", f"--port={int(port)}", f"--Voila.ip={host}", "--Voila.port_retries=0",
        "--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.extension_denylist=jupyterlab-jupytext",
        "--VoilaConfiguration.multi_kernel_manager_class=analytics_lib.dashboards.voila_app.BoundedKernelManager",
        f"--BoundedKernelManager.max_kernels={int(max_kernels)}",
        f"--BoundedKernelManager.disconnect_grace={float(disconnect_grace)}",
        f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_timeout)}",
        f"--MappingKernelManager.cull_interval={int(cull_interval)}",
        "--VoilaConfiguration.classic_tree=True", "--theme=light", f"--Voila.base_url={base_url}",
        "--VoilaConfiguration.template=workbench",
        *(f"--WorkbenchVoila.allowed_hosts={h}" for h in hosts),
    ]
    if preheat:  # Voilà refuses the XSRF prelaunch hook with pre-heated kernels: their pages rely on the grace
        args += ["--VoilaConfiguration.preheat_kernel=True", f"--VoilaConfiguration.default_pool_size={int(preheat)}"]
    return args


def _count_dashboards(notebooks: str | os.PathLike) -> int:
    return max(len(list(Path(notebooks).glob("*.ipynb"))), 1)


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port nobody listens on right now.

    Examples
    --------
    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@dataclass
class DashboardServer:
    """A running dashboard server (see :func:`start_server`); stop it with :meth:`stop` or ``with``.

    Attributes
    ----------
    process : subprocess.Popen
    host, port : str, int
    log_path : pathlib.Path
        The server's output (server and kernel logs).
    base_url : str
    token : str
        The access token ("" when the server has none).
    """

    process: subprocess.Popen
    host: str
    port: int
    log_path: Path
    base_url: str = "/"
    token: str = field(default="", repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def address(self) -> str:
        """The landing page without the token, e.g. ``http://127.0.0.1:8866/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.base_url}"

    @property
    def url(self) -> str:
        """The landing page with the token: opens with no extra step."""
        return self._with_token(self.address)

    def dashboard_url(self, name: str, **query: str) -> str:
        """The page of one dashboard (``"workflow_overview"`` or ``"workflow_overview.ipynb"``), with the token."""
        stem = name[:-6] if name.endswith(".ipynb") else name
        return self._with_token(f"{self.address}voila/render/{stem}.ipynb", **query)

    def _with_token(self, url: str, **query: str) -> str:
        params = {**({"token": self.token} if self.token else {}), **query}
        return f"{url}?{urllib.parse.urlencode(params)}" if params else url

    def kernel_pids(self) -> list[int]:
        """Processes the server started that are still alive (its kernels)."""
        return [p for p in descendants(self.process.pid) if _alive(p)]

    def log(self) -> str:
        """The server's output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, *, timeout: float = 15.0) -> int:
        """Stop the server and every process it started; returns how many had to be killed.

        SIGTERM first (Voilà then shuts its kernels down), SIGKILL for whatever is still
        there after ``timeout`` seconds. Safe to call twice.
        """
        if self._stopped:
            return 0
        self._stopped = True
        procs = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.1)
        killed = 0
        for p in procs:
            if _alive(p):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGKILL)
                    killed += 1
        return killed

    def wait(self) -> int:
        """Block until the server exits; Ctrl-C or SIGTERM stop it (and its kernels) first.

        Returns 0 when it was stopped that way, else the status the server exited with.
        """
        interrupted = False
        try:
            with sigterm_as_interrupt():
                while self.process.poll() is None:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.stop()
        return 0 if interrupted else self.process.returncode

    def __enter__(self) -> "DashboardServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM (systemd, ``docker stop``, ``kill``) raises KeyboardInterrupt like Ctrl-C.

    Enter it *before* announcing that a service is ready: a SIGTERM that arrives between the
    announcement and the handler would otherwise kill the process without its cleanup. Only
    the main thread can install handlers; elsewhere the block runs unchanged.

    Examples
    --------
    >>> with sigterm_as_interrupt():
    ...     pass
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _terminate(signum, frame):  # noqa: ANN001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def start_server(*, port: int | None = None, host: str = DEFAULT_HOST, notebooks: str | os.PathLike = DASHBOARDS,
                 env: dict[str, str] | None = None, max_kernels: int = MAX_KERNELS,
                 cull_idle_timeout: int = CULL_IDLE_TIMEOUT, cull_interval: int = CULL_INTERVAL, preheat: int = 0,
                 log_path: str | os.PathLike | None = None, timeout: float = 60.0,
                 base_url: str = "/", token: str | None = None, allowed_hosts: Sequence[str] = (),
                 disconnect_grace: float = DISCONNECT_GRACE) -> DashboardServer:
    """Start the dashboard server and wait until its landing page answers.

    Parameters
    ----------
    port : int, optional
        Default: a free port.
    host : str
    notebooks : path
    env : dict, optional
        Extra environment for the server and its kernels (``WORKBENCH_DB``,
        ``WORKBENCH_REPORTS``, ``WORKBENCH_DASHBOARD_CACHE``...). ``MPLBACKEND=Agg`` is set.
    max_kernels, cull_idle_timeout, cull_interval, preheat, base_url, allowed_hosts, disconnect_grace
        See :func:`voila_arguments`.
    log_path : path, optional
        Where the server's output goes (default: a temporary file).
    timeout : float
        Seconds to wait for the landing page.
    token : str, optional
        The access token; default: a new random one. ``""``: none (only behind a reverse proxy
        that authenticates). It reaches the server through its environment, not its command line.

    Returns
    -------
    DashboardServer

    Raises
    ------
    WorkbenchError
        When the server exits or does not answer in time (with the end of its log); it is
        stopped first. Whatever interrupts the wait (Ctrl-C) stops it too.

    Examples
    --------
    >>> with start_server() as server:  # doctest: +SKIP
    ...     print(server.dashboard_url("roi_calculator"))
    """
    port = free_port(host) if port is None else int(port)
    args = voila_arguments(port=port, host=host, notebooks=notebooks, max_kernels=max_kernels,
                           cull_idle_timeout=cull_idle_timeout, cull_interval=cull_interval, preheat=preheat,
                           base_url=base_url, allowed_hosts=allowed_hosts, disconnect_grace=disconnect_grace)
    base_url = next(a.split("=", 1)[1] for a in args if a.startswith("--Voila.base_url="))
    token = secrets.token_urlsafe(24) if token is None else str(token)
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="voila-", suffix=".log")
        os.close(fd)
        log_path = name
    log_file = open(log_path, "ab")
    full_env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {}),
                TOKEN_ENV: token}
    full_env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATES), full_env.get("JUPYTER_PATH")]))
    try:
        proc = subprocess.Popen([sys.executable, "-m", "analytics_lib.dashboards.voila_app", *args], cwd=str(notebooks),
                                env=full_env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent)
    finally:
        log_file.close()
    server = DashboardServer(proc, host, port, Path(log_path), base_url, token)
    try:
        _wait_until_serving(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_serving(server: DashboardServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise WorkbenchError(f"the dashboard server exited with status {server.process.returncode} before "
                                 f"serving:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            raise WorkbenchError(f"the dashboard server did not answer on {server.address} within {timeout:.0f} s:\n"
                                 f"{server.log()[-3000:]}")
        time.sleep(0.2)
