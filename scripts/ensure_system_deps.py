#!/usr/bin/env python3
"""Make sure the Debian packages the test suite needs are installed.

Run by ``make test`` before pytest and by ``make bench`` before the benchmarks (standard library only):

* ``postgresql`` -- server binaries (/usr/lib/postgresql/<ver>/bin/initdb, pg_ctl) for the
  tests marked ``postgres``; they start their own throwaway server (tests/pgserver.py).
* ``chromium``   -- /usr/bin/chromium, driven by Playwright in the tests marked ``browser``
  (never ``playwright install``).

Behaviour:

* everything present: one "found" line per package, no subprocess at all (well under 1 s);
* something missing and we are root: ``apt-get update`` (only if apt does not know the
  package yet, or an install failed on stale lists) and
  ``apt-get install -y --no-install-recommends <pkg>``, one package at a time so each gets
  its own "installed in N s" line;
* something missing and we are not root: a warning naming the tests that will be skipped
  and the command to run by hand; exit 0;
* apt fails: the error is printed and we exit 0 (the tests then skip, with the reason),
  unless ``CI=true``: CI on this machine kind must run those tests, so we exit 1
  (also when not root in CI).

``--check`` only reports, never installs, and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
# Other sessions may be running apt at the same time: wait for the dpkg lock instead of failing.
APT_OPTS = ["-o", "DPkg::Lock::Timeout=600"]


def find_pg_bin() -> Path | None:
    """Newest /usr/lib/postgresql/<ver>/bin holding initdb and pg_ctl (same rule as tests/pgserver.py)."""

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)

    bins = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
            if (p / "initdb").is_file() and (p / "pg_ctl").is_file()]
    return max(bins, key=version, default=None)


def find_chromium() -> Path | None:
    p = Path("/usr/bin/chromium")
    return p if p.is_file() and os.access(p, os.X_OK) else None


def find_pango() -> Path | None:
    """Pango's FreeType backend, which WeasyPrint loads to lay out the report PDFs."""
    found = sorted(Path("/usr/lib").glob("*/libpangoft2-1.0.so.0")) + sorted(Path("/lib").glob("*/libpangoft2-1.0.so.0"))
    return found[0] if found else None


def find_fonts() -> Path | None:
    p = Path("/usr/share/fonts/truetype/dejavu")
    return p if p.is_dir() else None


@dataclass(frozen=True)
class Dep:
    package: str
    needed_by: str
    locate: Callable[[], Path | None]


DEPS = [
    Dep("postgresql", "tests marked 'postgres' (throwaway PostgreSQL servers)", find_pg_bin),
    Dep("chromium", "tests marked 'browser' (headless Chromium via Playwright)", find_chromium),
    Dep("libpangoft2-1.0-0", "report PDFs (WeasyPrint lays them out with Pango)", find_pango),
    Dep("fonts-dejavu-core", "report PDFs (a font with every glyph the reports print)", find_fonts),
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def tail(text: str, n: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-n:])


def run(cmd: list[str], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, env=APT_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return subprocess.CompletedProcess(cmd, 255, f"{' '.join(cmd)}: {e}")


def apt_knows(package: str) -> bool:
    """True if apt has an install candidate for the package (i.e. no `apt-get update` needed)."""
    out = run(["apt-cache", "policy", package], timeout=60).stdout
    m = re.search(r"Candidate:\s*(\S+)", out)
    return bool(m) and m.group(1) != "(none)"


def online_clusters() -> set[tuple[str, str]]:
    """(version, name) of the Debian-managed PostgreSQL clusters that are running now."""
    if not shutil.which("pg_lsclusters"):
        return set()
    out = run(["pg_lsclusters", "--no-header"], timeout=60).stdout
    running = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 4 and f[3].startswith("online"):
            running.add((f[0], f[1]))
    return running


def stop_clusters_started_by_us(before: set[tuple[str, str]]) -> None:
    # Installing Debian's `postgresql` creates a default cluster (<ver>/main on port 5432) and
    # starts it. The tests never use it -- each run starts its own throwaway server on a random
    # port (tests/pgserver.py) -- so stop the cluster(s) our install started, to leave no server
    # running. A cluster that was already running before we installed is someone else's: leave it.
    for ver, name in sorted(online_clusters() - before):
        r = run(["pg_ctlcluster", ver, name, "stop"], timeout=120)
        if r.returncode == 0:
            print(f"postgresql: stopped cluster {ver}/{name} that the package install started "
                  "(tests start their own servers)")
        else:
            print(f"postgresql: WARNING could not stop cluster {ver}/{name} started by the install:\n"
                  f"{tail(r.stdout)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report what is present; never install")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # keep stdout and stderr lines in order under make

    missing: list[Dep] = []
    for dep in DEPS:
        where = dep.locate()
        if where:
            print(f"{dep.package}: found ({where})")
        else:
            missing.append(dep)
            print(f"{dep.package}: MISSING (needed by {dep.needed_by})")
    if not missing:
        return 0

    names = " ".join(d.package for d in missing)
    manual = f"sudo apt-get install -y --no-install-recommends {names}"
    if args.check:
        print(f"(--check: not installing; to install: {manual})")
        return 0

    if os.geteuid() != 0 or not shutil.which("apt-get"):
        why = "not running as root" if os.geteuid() != 0 else "apt-get not found"
        print(f"WARNING: {why}, cannot install: {names}.", file=sys.stderr)
        for d in missing:
            print(f"  -> the {d.needed_by} will be SKIPPED.", file=sys.stderr)
        print(f"  Install by hand with:  {manual}", file=sys.stderr)
        if in_ci():
            print("ERROR: CI=true and required system packages are missing.", file=sys.stderr)
            return 1
        return 0

    updated = False

    def apt_update() -> str | None:
        nonlocal updated
        updated = True
        t0 = time.monotonic()
        print("apt-get update ...", flush=True)
        r = run(["apt-get", *APT_OPTS, "update"], timeout=600)
        if r.returncode != 0:
            return f"apt-get update failed (exit {r.returncode}):\n{tail(r.stdout)}"
        print(f"apt-get update done in {time.monotonic() - t0:.1f} s", flush=True)
        return None

    failures: list[str] = []
    if not all(apt_knows(d.package) for d in missing):
        err = apt_update()
        if err:  # carry on: the install may still work from the cached lists
            print(f"WARNING: {err}", file=sys.stderr)

    for dep in missing:
        print(f"{dep.package}: installing ...", flush=True)
        t0 = time.monotonic()
        before = online_clusters() if dep.package == "postgresql" else set()
        cmd = ["apt-get", *APT_OPTS, "install", "-y", "--no-install-recommends", dep.package]
        try:
            r = run(cmd)
            if r.returncode != 0 and not updated:  # stale or missing package lists: refresh once, retry
                apt_update()
                r = run(cmd)
        finally:
            if dep.package == "postgresql":
                stop_clusters_started_by_us(before)
        if r.returncode != 0:
            failures.append(f"{dep.package}: apt-get install failed (exit {r.returncode}):\n{tail(r.stdout)}")
        elif not dep.locate():
            failures.append(f"{dep.package}: installed, but still not found where the tests look for it")
        else:
            print(f"{dep.package}: installed in {time.monotonic() - t0:.1f} s ({dep.locate()})", flush=True)

    if failures:
        for f in failures:
            print(f"ERROR: {f}", file=sys.stderr)
        skipped = [d.needed_by for d in missing if not d.locate()]
        for s in skipped:
            print(f"  -> the {s} will be SKIPPED.", file=sys.stderr)
        if in_ci():
            print("ERROR: CI=true: these tests must run here; failing.", file=sys.stderr)
            return 1
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
