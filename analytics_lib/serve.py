"""Serving the dashboards of ``notebooks/dashboards/`` with Voilà, and stopping them cleanly.

One function builds Voilà's command line (:func:`voila_arguments`), one starts it and waits
until it answers (:func:`start_server`, used by ``workbench dashboards serve``, the browser
tests and the benchmark), and :meth:`DashboardServer.stop` stops the server *and every kernel
it started* (kernels run in their own sessions, so stopping only the server could leave them
behind).

What the served configuration guarantees (see ``docs/dashboards.md``):

* bound to ``127.0.0.1`` unless a host is given; no token: put it behind a reverse proxy that
  authenticates (Voilà has no per-user authentication);
* sources stripped, tracebacks never sent to the page (``show_tracebacks=False``), and the
  page may only exchange widget messages with its kernel (Voilà allows ``comm_*``,
  ``kernel_info_request`` and ``shutdown_request``; no ``execute_request``): nobody can run
  code from the page;
* at most ``max_kernels`` kernels (one per open page): beyond that a page gets HTTP 503 with
  "busy, try again in a moment" instead of starting another kernel
  (:class:`BoundedKernelManager`);
* kernels idle for ``cull_idle_timeout`` seconds without a connected page are shut down
  every ``cull_interval`` seconds (pages closed without their unload handler leak kernels
  otherwise);
* the jupytext lab extension, which fails inside Voilà, is not loaded;
* pages are rendered with the ``workbench`` template (``share/voila/templates/workbench``):
  Voilà's lab template without its render-blocking CDN stylesheets and with a watchdog that
  re-requests a page that stalled before its widgets showed;
* a closed page's kernel is shut down at once (:func:`give_page_its_xsrf_cookie`).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

from . import paths
from .errors import WorkbenchError
from .procs import descendants

#: The folder Voilà serves.
DASHBOARDS = paths.NOTEBOOKS / "dashboards"
#: Put on ``JUPYTER_PATH`` for the server: holds ``voila/templates/workbench`` (see its header).
TEMPLATES = Path(__file__).parent / "share"
#: The server's ``voila.py`` (:func:`give_page_its_xsrf_cookie`).
VOILA_CONFIG = TEMPLATES / "voila_config"
DEFAULT_PORT = 8866
DEFAULT_HOST = "127.0.0.1"
#: Kernels (open pages) at most; each holds 250-350 MB with the marts of the 1M-event sample, so
#: 24 stay under 9 GB (size it to the machine's memory: --max-kernels).
MAX_KERNELS = 24
CULL_IDLE_TIMEOUT = 60
CULL_INTERVAL = 20


class BoundedKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager with a ceiling on live kernels.

    Past ``max_kernels`` a new page gets HTTP 503 ("busy, try again in a moment") instead
    of a kernel, so many viewers cannot exhaust the machine's memory.
    """

    max_kernels = Integer(MAX_KERNELS, config=True, help="Live kernels at most; more pages get HTTP 503.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._leaving: set[str] = set()  # kernels being shut down (culled): their memory is on its way out

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):  # noqa: D102
        self._leaving.add(kernel_id)
        try:
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            self._leaving.discard(kernel_id)

    async def start_kernel(self, *args, **kwargs):  # noqa: D102 - see the class docstring
        live = len(set(self.list_kernel_ids()) - self._leaving)
        if live >= self.max_kernels:
            self.log.warning("dashboards: %d kernels live (max_kernels=%d): refusing a new page", live,
                             self.max_kernels)
            raise web.HTTPError(503, f"{live} dashboards are open, the limit is {self.max_kernels}",
                                reason="Busy: too many dashboards are open, try again in a moment")
        return await super().start_kernel(*args, **kwargs)


def give_page_its_xsrf_cookie(handler, notebook=None, cwd=None):
    """Voilà prelaunch hook: set the page's ``_xsrf`` cookie before the page is sent.

    When a viewer closes a dashboard, Voilà's page posts ``voila/api/shutdown/<kernel>``
    with the ``_xsrf`` cookie's value, but Voilà 0.5 never sets that cookie on a dashboard
    page: the post gets HTTP 403 ("'_xsrf' argument missing from POST") and the closed page's
    kernel (about 350 MB) lives on until the idle culler finds it. Reading the handler's
    ``xsrf_token`` makes tornado set the cookie, so the shutdown is accepted at once.
    Returns None: the notebook is used as it is.
    """
    handler.xsrf_token  # noqa: B018 - read for its side effect (tornado sets the cookie)
    return None


def voila_arguments(*, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, notebooks: str | os.PathLike = DASHBOARDS,
                    max_kernels: int = MAX_KERNELS, cull_idle_timeout: int = CULL_IDLE_TIMEOUT,
                    cull_interval: int = CULL_INTERVAL, preheat: int = 0, base_url: str = "/") -> list[str]:
    """Voilà's command-line arguments for the served configuration (after ``python -m voila``).

    Parameters
    ----------
    port : int
    host : str
        The interface to bind; ``127.0.0.1`` keeps it on this machine.
    notebooks : path
        The folder of dashboards (Voilà lists it on its landing page).
    max_kernels : int
        Live kernels at most (:class:`BoundedKernelManager`).
    cull_idle_timeout, cull_interval : int
        Seconds: kernels without a page idle that long are shut down, checked that often.
    preheat : int
        Pre-heated kernels per dashboard (0: none). Each renders its notebook before anyone asks
        and counts towards ``max_kernels``.
    base_url : str
        The path prefix when a reverse proxy serves the dashboards under a sub-path
        (``"/dashboards/"``).

    Examples
    --------
    >>> args = voila_arguments(port=9000)
    >>> "--port=9000" in args and "--Voila.ip=127.0.0.1" in args
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
    args = [
        str(notebooks), "--no-browser", f"--port={int(port)}", f"--Voila.ip={host}", "--Voila.port_retries=0",
        "--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.extension_denylist=jupyterlab-jupytext",
        "--VoilaConfiguration.multi_kernel_manager_class=analytics_lib.serve.BoundedKernelManager",
        f"--BoundedKernelManager.max_kernels={int(max_kernels)}",
        f"--MappingKernelManager.cull_idle_timeout={int(cull_idle_timeout)}",
        f"--MappingKernelManager.cull_interval={int(cull_interval)}",
        "--VoilaConfiguration.classic_tree=True", "--theme=light", f"--Voila.base_url={base_url}",
        "--VoilaConfiguration.template=workbench",
    ]
    if preheat:  # Voilà refuses a prelaunch hook with pre-heated kernels: closed pages wait for the culler
        args += ["--VoilaConfiguration.preheat_kernel=True", f"--VoilaConfiguration.default_pool_size={int(preheat)}"]
    else:
        args += [f"--Voila.config_file_paths={VOILA_CONFIG}"]
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
    """A running Voilà server (see :func:`start_server`); stop it with :meth:`stop` or ``with``.

    Attributes
    ----------
    process : subprocess.Popen
    host, port : str, int
    log_path : pathlib.Path
        Voilà's output (server and kernel logs).
    """

    process: subprocess.Popen
    host: str
    port: int
    log_path: Path
    base_url: str = "/"
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """The landing page, e.g. ``http://127.0.0.1:8866/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.base_url}"

    def dashboard_url(self, name: str) -> str:
        """The page of one dashboard (``"workflow_overview"`` or ``"workflow_overview.ipynb"``)."""
        stem = name[:-6] if name.endswith(".ipynb") else name
        return f"{self.url}voila/render/{stem}.ipynb"

    def kernel_pids(self) -> list[int]:
        """Processes the server started that are still alive (its kernels)."""
        return [p for p in descendants(self.process.pid) if _alive(p)]

    def log(self) -> str:
        """Voilà's output so far."""
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
                with _suppress():
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.1)
        killed = 0
        for p in procs:
            if _alive(p):
                with _suppress():
                    os.kill(p, signal.SIGKILL)
                    killed += 1
        return killed

    def wait(self) -> int:
        """Block until the server exits; Ctrl-C or SIGTERM stop it (and its kernels) first.

        Returns 0 when it was stopped that way, else the status the server exited with.
        """
        previous = signal.getsignal(signal.SIGTERM)

        def _terminate(signum, frame):  # SIGTERM (systemd, docker stop) ends like Ctrl-C
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _terminate)
        interrupted = False
        try:
            while self.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.stop()
        return 0 if interrupted else self.process.returncode

    def __enter__(self) -> "DashboardServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, typ, value, tb):
        return typ is not None and issubclass(typ, (ProcessLookupError, PermissionError))


def start_server(*, port: int | None = None, host: str = DEFAULT_HOST, notebooks: str | os.PathLike = DASHBOARDS,
                 env: dict[str, str] | None = None, max_kernels: int = MAX_KERNELS,
                 cull_idle_timeout: int = CULL_IDLE_TIMEOUT, cull_interval: int = CULL_INTERVAL, preheat: int = 0,
                 log_path: str | os.PathLike | None = None, timeout: float = 60.0,
                 base_url: str = "/") -> DashboardServer:
    """Start Voilà over the dashboards and wait until its landing page answers.

    Parameters
    ----------
    port : int, optional
        Default: a free port.
    host : str
    notebooks : path
    env : dict, optional
        Extra environment for the server and its kernels (``WORKBENCH_DB``,
        ``WORKBENCH_REPORTS``, ``WORKBENCH_DASHBOARD_CACHE``...). ``MPLBACKEND=Agg`` is set.
    max_kernels, cull_idle_timeout, cull_interval, preheat, base_url
        See :func:`voila_arguments`.
    log_path : path, optional
        Where Voilà's output goes (default: a temporary file).
    timeout : float
        Seconds to wait for the landing page.

    Returns
    -------
    DashboardServer

    Raises
    ------
    WorkbenchError
        When the server exits or does not answer in time (with the end of its log); it is
        stopped first.

    Examples
    --------
    >>> with start_server() as server:  # doctest: +SKIP
    ...     print(server.dashboard_url("roi_calculator"))
    """
    port = free_port(host) if port is None else int(port)
    args = voila_arguments(port=port, host=host, notebooks=notebooks, max_kernels=max_kernels,
                           cull_idle_timeout=cull_idle_timeout, cull_interval=cull_interval, preheat=preheat,
                           base_url=base_url)
    base_url = next(a.split("=", 1)[1] for a in args if a.startswith("--Voila.base_url="))
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="voila-", suffix=".log")
        os.close(fd)
        log_path = name
    log_file = open(log_path, "ab")
    full_env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})}
    full_env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATES), full_env.get("JUPYTER_PATH")]))
    try:
        proc = subprocess.Popen([sys.executable, "-m", "voila", *args], cwd=str(notebooks), env=full_env,
                                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        log_file.close()
    server = DashboardServer(proc, host, port, Path(log_path), base_url)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            server.stop()
            raise WorkbenchError(f"Voilà exited with status {proc.returncode} before serving:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url, timeout=5) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise WorkbenchError(f"Voilà did not answer on {server.url} within {timeout:.0f} s:\n"
                                 f"{server.log()[-3000:]}")
        time.sleep(0.2)
