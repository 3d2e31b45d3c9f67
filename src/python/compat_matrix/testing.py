"""A fake system for testing the harness itself: tiny stdlib-only Python programs as roles.

The roles need nothing but the interpreter (they run as ``python -c <script> <role> ...``),
so harness tests exercise real processes, real ports and real probes without conveyor,
PEXes or Docker. Use ``fake_plan`` (a planned cell of ``FAKE_SYSTEM``) with ``fake_launcher``.

Roles (``--port`` is always the role's first port; ``--host`` the address it binds, 127.0.0.1 by
default):
- ``web``: HTTP; ``GET /health`` answers 200 (``--ready-after S``: 503 for S seconds first),
  ``GET /info`` answers JSON with its role, args, pid, uid, ``HOME``, any ``PEX_*``/``PYTHONPATH``
  variables it sees and how often it started on its data dir (``--data``, where it appends to
  ``web.log``); ``GET /dial?to=HOST:PORT&timeout=S`` tries a TCP connection from where it runs.
- ``peer``, ``extra``: TCP.
- ``crash``: prints a message and exits 3 before listening.
- ``never``: runs but never listens.
Every role accepts ``--child 1`` (start a grandchild that sleeps, to test group cleanup) and
``--ignore-term 1`` (ignore SIGTERM, to test escalation to SIGKILL). At start, before anything
else, every role prints ``env NAME=VALUE`` for each name in ``--show-env A,B``, prints
``read PATH: CONTENT`` for ``--read PATH`` (and exits 4 when PATH does not exist), appends
``--name`` (else its role) as a line to ``--touch PATH``, holds ``--hog N`` MiB of memory, and
with ``--reach ADDR`` connects to ``ADDR`` (retrying briefly; exits 5 when it cannot) and prints
``reached ADDR``. ``--plant 1`` and ``--victim 1`` write and import the bytecode of
``/app/victim.py`` (the docker tests' image). A role with a port, once it listens, appends
``--advertise ADDR`` as a line to ``--register PATH`` (a registry its peers read).

A role given no ``--port`` listens nowhere (like a worker that only dials out): given
``--dial-file PATH``, it connects to the first ``host:port`` line of PATH, prints ``reached ADDR``
(and exits 5 when it cannot); it waits ``--ready-after S`` seconds, writes ``{"ready": true}`` to
``--ready-file PATH`` if given, prints ``fake ROLE ready`` and idles. ``fake_role`` declares such
roles (``ports=()``) for ``log_probe`` and ``command_probe`` readiness.

The docker backend's tests run the same script as the module ``fake`` of a tiny image
(tests/python/docker_backend/fakes.py).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from compat_core.cell_plan import CellPlan, InstancePlan
from compat_core.model import CellSpec, Command, Probe, RoleSpec, Suite, System, Topology
from compat_core.parse import parse_releases
from compat_core.plan import plan_cell
from compat_matrix.backends.source_launch import Launch

FAKE_ROLES_SCRIPT = r"""
import json, os, signal, socket, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

role = sys.argv[1]
opts = dict(zip(sys.argv[2::2], sys.argv[3::2]))
print(f"fake {role} pid {os.getpid()} starting with {json.dumps(opts, sort_keys=True)}", flush=True)
for name in filter(None, opts.get("--show-env", "").split(",")):
    print(f"env {name}={os.environ.get(name, '<unset>')}", flush=True)
if "--read" in opts:
    try:
        with open(opts["--read"]) as f:
            print(f"read {opts['--read']}: {f.read()}", flush=True)
    except OSError as exc:
        print(f"fatal: cannot read {opts['--read']}: {exc}", file=sys.stderr, flush=True)
        sys.exit(4)
if "--touch" in opts:
    with open(opts["--touch"], "a") as f:
        f.write(opts.get("--name", role) + "\n")
if opts.get("--ignore-term") == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if opts.get("--child") == "1":
    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])
    print(f"grandchild pid {child.pid}", flush=True)
if "--hog" in opts:  # use this many MiB of memory (written, so really resident)
    hog = b"x" * (int(opts["--hog"]) << 20)
    print(f"holding {len(hog) >> 20} MiB", flush=True)
if "--plant" in opts:  # plant bytecode of /app/victim.py that says otherwise
    import importlib.util, py_compile
    try:
        with open("/tmp/victim.py", "w") as f:
            f.write('MESSAGE = "planted"\n')  # the size of the genuine source, and its mtime
        genuine = os.stat("/app/victim.py").st_mtime
        os.utime("/tmp/victim.py", (genuine, genuine))
        target = importlib.util.cache_from_source("/app/victim.py")
        py_compile.compile("/tmp/victim.py", cfile=target, doraise=True)
        print(f"planted {target}", flush=True)
    except Exception as exc:
        print(f"could not plant: {exc!r}", flush=True)
if "--victim" in opts:
    sys.path.insert(0, "/app")
    import victim
    print(f"victim says {victim.MESSAGE}", flush=True)
if role == "crash":
    print("fatal: this role always fails to start", file=sys.stderr, flush=True)
    sys.exit(3)
if role == "never":
    while True:
        time.sleep(1)


def dial(address, timeout):
    name, _, number = address.rpartition(":")
    # A name the cell's DNS does not know is forwarded upstream, which an internal network
    # cannot reach: bound the lookup too, not only the connect.
    found = []
    lookup = threading.Thread(target=lambda: found.append(socket.gethostbyname(name)), daemon=True)
    lookup.start()
    lookup.join(timeout)
    if not found:
        raise OSError(f"cannot resolve {name!r} within {timeout}s")
    socket.create_connection((found[0], int(number)), timeout=timeout).close()


def reach(address, attempts):
    for attempt in range(attempts):
        try:
            dial(address, 5.0 if attempts == 1 else 1.0)
            print(f"reached {address}", flush=True)
            return
        except OSError as exc:
            if attempt == attempts - 1:
                print(f"fatal: cannot reach {address}: {exc}", file=sys.stderr, flush=True)
                sys.exit(5)
            print(f"cannot reach {address} yet: {exc}", flush=True)
            time.sleep(0.1)


if "--reach" in opts:  # a peer that must be reachable before this role starts
    reach(opts["--reach"], 100)
if "--port" not in opts:
    if "--dial-file" in opts:
        with open(opts["--dial-file"]) as f:
            reach(f.readline().strip(), 1)
    time.sleep(float(opts.get("--ready-after", "0")))
    if "--ready-file" in opts:
        with open(opts["--ready-file"] + ".tmp", "w") as f:
            f.write('{"ready": true}')
        os.rename(opts["--ready-file"] + ".tmp", opts["--ready-file"])
    print(f"fake {role} ready", flush=True)
    while True:
        time.sleep(1)
host, port = opts.get("--host", "127.0.0.1"), int(opts["--port"])
started = time.monotonic()


def register():
    if "--register" in opts:
        with open(opts["--register"], "a") as f:
            f.write(opts["--advertise"] + "\n")

if role == "web":
    ready_after = float(opts.get("--ready-after", "0"))
    data = opts.get("--data")
    if data:
        with open(os.path.join(data, "web.log"), "a") as f:
            f.write(f"web {opts.get('--name')} data log\n")

    def info():
        starts = 0
        if data:
            with open(os.path.join(data, "web.log")) as f:
                starts = sum(1 for line in f if "data log" in line)
        env = {k: v for k, v in os.environ.items() if k.startswith("PEX_") or k == "PYTHONPATH"}
        return {
            "role": role, "opts": opts, "pid": os.getpid(), "env": env,
            "uid": os.getuid(), "starts": starts, "home": os.environ.get("HOME"),
        }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/health":
                code = 200 if time.monotonic() - started >= ready_after else 503
                body = {"ok": True} if code == 200 else {"ok": False}
            elif url.path == "/info":
                code, body = 200, info()
            elif url.path == "/dial":
                query = parse_qs(url.query)
                try:
                    dial(query["to"][0], float(query.get("timeout", ["2"])[0]))
                    code, body = 200, {"reached": True}
                except OSError as exc:
                    code, body = 200, {"reached": False, "error": repr(exc)}
            else:
                code, body = 404, {}
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, fmt, *args):
            print("http: " + fmt % args, flush=True)

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"fake web listening on {host}:{port}", flush=True)
    register()
    server.serve_forever()
else:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(16)
    print(f"fake {role} listening on {host}:{port}", flush=True)
    register()
    while True:
        conn, _ = sock.accept()
        conn.close()
"""


def fake_role(
    name: str, args: tuple[str, ...], probe: Probe, ports: tuple[str, ...] = ("main",), **fields: Any
) -> RoleSpec:
    """A role run by ``FAKE_ROLES_SCRIPT`` (its first argument is the script's role, ``name``).

    ``fields`` are the other ``RoleSpec`` fields (``env``, ``files``, ``depends_on``, ...).
    """
    return RoleSpec(
        name=name,
        command=Command("module", "fake"),  # fake_launcher runs the script instead
        args=(name,) + args,
        ports=ports,
        readiness=probe,
        branch_sources=("fake",),
        **fields,
    )


def replace_role(system: System, name: str, **changes: Any) -> System:
    """``system`` with role ``name``'s spec changed (``dataclasses.replace`` of its fields)."""
    if name not in system.roles:
        raise KeyError(f"system {system.name!r} has no role {name!r}; its roles: {', '.join(system.roles)}")
    return dataclasses.replace(
        system,
        role_specs=tuple(dataclasses.replace(r, **changes) if r.name == name else r for r in system.role_specs),
    )


def advertising_system(system: System, port: str, interval: float = 0.05) -> System:
    """``system``'s ``web`` role registering the address it advertises (``{advertised_host}``, not
    the one it binds) for its port ``port`` in ``{shared_dir}/registry``, and a port-less
    ``dialer`` that dials what it finds there: the roles of a test of advertised addresses."""
    web = replace_role(
        system,
        "web",
        args=system.roles["web"].args
        + ("--advertise", f"{{advertised_host}}:{{port[{port}]}}", "--register", "{shared_dir}/registry"),
    ).roles["web"]
    dialer = fake_role(
        "dialer",
        ("--dial-file", "{shared_dir}/registry"),
        Probe("log", pattern=r"^fake dialer ready$", timeout=20.0, interval=interval),
        ports=(),
        depends_on=("web",),
    )
    return dataclasses.replace(system, role_specs=(web, dialer))


FAKE_SYSTEM = System(
    name="fake",
    role_specs=(
        fake_role(
            "web",
            ("--port", "{port[main]}", "--name", "{name}", "--data", "{data_dir}"),
            Probe("http", "main", "/health", timeout=20.0, interval=0.05),
            log_files=("web.log",),
        ),
        fake_role(
            "peer",
            ("--port", "{port[main]}", "--web", "{address[web]}"),
            Probe("tcp", "main", timeout=20.0, interval=0.05),
            depends_on=("web", "extra"),
            requires=("web",),
            args_if_present=(("extra", ("--extra", "{address[extra]}")),),
        ),
        fake_role("extra", ("--port", "{port[main]}"), Probe("tcp", "main", timeout=20.0, interval=0.05)),
        fake_role("crash", ("--port", "{port[main]}"), Probe("tcp", "main", timeout=20.0, interval=0.05)),
        fake_role("never", ("--port", "{port[main]}"), Probe("tcp", "main", timeout=1.5, interval=0.05)),
    ),
    releases=parse_releases("fake", ["0.1.0", "0.2.0"], "0.1.0"),
)


def fake_launcher(instance: InstancePlan, spec: RoleSpec) -> Launch | None:
    """Run every fake instance as ``python -c FAKE_ROLES_SCRIPT`` (no artifact needed)."""
    return Launch((sys.executable, "-c", FAKE_ROLES_SCRIPT))


def fake_plan(
    cell: str,
    topology: Sequence[tuple[str, int]],
    versions: Mapping[str, str] = {},
    suite: str = "fake-suite",
    system: System = FAKE_SYSTEM,
) -> CellPlan:
    """The planned cell ``cell`` of a suite of ``system`` (default ``FAKE_SYSTEM``) with ``topology``."""
    spec = Suite(
        name=suite,
        topology=Topology(tuple(topology)),
        cells=(CellSpec(cell, tuple(versions.items())),),
        system=system.name,
        backends=("process", "docker"),
    )
    return plan_cell(spec, cell, system)


__all__ = (
    "FAKE_ROLES_SCRIPT",
    "FAKE_SYSTEM",
    "advertising_system",
    "fake_launcher",
    "fake_plan",
    "fake_role",
    "replace_role",
)
