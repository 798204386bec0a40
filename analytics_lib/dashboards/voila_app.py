"""VOILA_DOC
"""
from __future__ import annotations

import ipaddress
import os
import re

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from tornado.ioloop import IOLoop
from traitlets import Float, Integer, List, Unicode, default
from voila.app import Voila

from analytics_lib.dashboards.serve import DISCONNECT_GRACE, MAX_KERNELS, TOKEN_ENV

#: Host names always accepted besides loopback addresses.
LOOPBACK_NAMES = ("localhost",)


def host_allowed(host_header: str | None, allowed: list[str] | tuple[str, ...]) -> bool:
    """Whether a request's ``Host`` header names this server.

    Loopback addresses and ``localhost`` are always accepted; other names and addresses only
    when listed in ``allowed``; ``"*"`` accepts any (a proxy that rewrites ``Host``).

    Examples
    --------
    >>> host_allowed("127.0.0.1:8866", []), host_allowed("[::1]:80", []), host_allowed("localhost", [])
    (True, True, True)
    >>> host_allowed("attacker.example", []), host_allowed("Dash.Example.org:443", ["dash.example.org"])
    (False, True)
    """
    if not host_header:
        return False
    match = re.match(r"^(.*?)(:\d+)?$", host_header.strip())
    host = (match.group(1) if match else host_header).lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    names = {a.strip().lower().strip("[]") for a in allowed if a.strip()}
    if "*" in names or host in names or host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _HostChecked:
    """Mixed into every handler of the server: refuse requests for a foreign ``Host``."""

    def prepare(self, *args, **kwargs):  # noqa: D102
        allowed = self.settings.get("workbench_allowed_hosts", ())
        if not host_allowed(self.request.host, allowed):
            self.log.warning("dashboards: refused a request for Host %r (allowed: loopback, %s)",
                             self.request.host, ", ".join(allowed) or "nothing else")
            self.set_status(403, "Forbidden: this Host is not served here")
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"403: the Host {self.request.host!r} is not served here. If it is this server's name, start "
                        "it with `workbench dashboards serve --allow-host NAME`.\n")
            return None
        return super().prepare(*args, **kwargs)


_CHECKED: dict[type, type] = {}


def _host_checked(cls: type) -> type:
    if cls not in _CHECKED:
        _CHECKED[cls] = type(f"HostChecked{cls.__name__}", (_HostChecked, cls), {})
    return _CHECKED[cls]


class BoundedKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager with a ceiling on live kernels and prompt reclaim of abandoned ones.

    Past ``max_kernels`` a new page gets HTTP 503 ("busy, try again in a moment") instead
    of a kernel, so many viewers cannot exhaust the machine's memory. A kernel whose last
    websocket closed is shut down ``disconnect_grace`` seconds later unless a page connects
    again; kernels being shut down do not count against the ceiling.
    """

    max_kernels = Integer(MAX_KERNELS, config=True, help="Live kernels at most; more pages get HTTP 503.")
    disconnect_grace = Float(DISCONNECT_GRACE, config=True,
                             help="Seconds after a kernel's last websocket closed before it is shut down "
                                  "(a negative value: leave it to the idle culler).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._leaving: set[str] = set()  # kernels being shut down: their memory is on its way out

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

    def notify_disconnect(self, kernel_id):  # noqa: D102
        super().notify_disconnect(kernel_id)
        if self.disconnect_grace >= 0 and self._kernel_connections.get(kernel_id) == 0:
            IOLoop.current().call_later(self.disconnect_grace, self._reclaim_if_abandoned, kernel_id)

    async def _reclaim_if_abandoned(self, kernel_id: str) -> None:
        if kernel_id in self._leaving or self._kernel_connections.get(kernel_id, 1) != 0 \
                or kernel_id not in self.list_kernel_ids():
            return
        self.log.info("dashboards: kernel %s has had no page for %.0f s: shutting it down", kernel_id,
                      self.disconnect_grace)
        try:
            await self.shutdown_kernel(kernel_id)
        except (KeyError, web.HTTPError):  # shut down meanwhile (unload beacon, culler)
            pass


def give_page_its_xsrf_cookie(handler, notebook=None, cwd=None):
    """Voilà prelaunch hook: set the page's ``_xsrf`` cookie before the page is sent.

    When a viewer closes a dashboard, Voilà's page posts ``voila/api/shutdown/<kernel>``
    with the ``_xsrf`` cookie's value, but Voilà 0.5 never sets that cookie on a dashboard
    page: the post gets HTTP 403 ("'_xsrf' argument missing from POST") and the closed page's
    kernel (about 350 MB) lives on. Reading the handler's ``xsrf_token`` makes tornado set the
    cookie, so the shutdown is accepted at once. Returns None: the notebook is used as it is.

    Parameters
    ----------
    handler : tornado.web.RequestHandler
        Voilà's handler of the page request.
    notebook : nbformat.NotebookNode, optional
        The dashboard notebook (not used).
    cwd : str, optional
        The notebook's working directory (not used).
    """
    handler.xsrf_token  # noqa: B018 - read for its side effect (tornado sets the cookie)
    return None


class WorkbenchVoila(Voila):
    """Voilà with a token from the environment, a Host allow-list and bounded kernels."""

    name = "workbench-voila"
    allowed_hosts = List(Unicode(), config=True,
                         help="Host names (or addresses) requests may name besides loopback; '*' for any.")
    ws_ping_interval = Integer(10_000, config=True, help="Milliseconds between websocket pings.")
    ws_ping_timeout = Integer(30_000, config=True,
                              help="Milliseconds without a pong after which a page's websocket is closed.")

    @default("config_file_paths")
    def _no_foreign_config(self):
        return []

    def initialize(self, argv=None):  # noqa: D102
        token = os.environ.pop(TOKEN_ENV, None)
        super().initialize(argv)
        if token is None:  # started by hand: a generated token, printed in the served URL
            self.auto_token = True
        else:
            self.token = token
        if not self.voila_configuration.preheat_kernel:  # Voilà refuses the hook with pre-heated kernels
            self.voila_configuration.prelaunch_hook = give_page_its_xsrf_cookie

    def init_settings(self):  # noqa: D102
        settings = super().init_settings()
        settings.update(workbench_allowed_hosts=tuple(self.allowed_hosts), ws_ping_interval=self.ws_ping_interval,
                        ws_ping_timeout=self.ws_ping_timeout)
        return settings

    def init_handlers(self):  # noqa: D102
        return [(h[0], _host_checked(h[1]), *h[2:]) for h in super().init_handlers()]


main = WorkbenchVoila.launch_instance


if __name__ == "__main__":  # pragma: no cover - the server process
    main()
