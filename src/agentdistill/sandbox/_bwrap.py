"""The bubblewrap command line for the zygote: what the sandbox can see, and nothing else.

Inside: the interpreter binary and its stdlib at their own paths, the system's shared libraries (read-only),
the allowed third-party packages under ``/sbx/site`` (one bind per package, not the host's site-packages),
the worker's own modules under ``/sbx/lib``, a fresh /proc and minimal /dev, a 16 MiB tmpfs /tmp, an empty
``/scratch`` (each episode family mounts its own tmpfs there) and a read-only root. Not inside: the project
checkout, home directories, the host's /tmp, /etc, /run and every socket, any other program.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ._presets import PRELOAD

WORKER_DIR = Path(__file__).parent
WORKER_FILES = (
    "_worker.py",
    "_areas.py",
    "_episode.py",
    "_guards.py",
    "_oslayer.py",
    "_presets.py",
    "_wire.py",
    "_answer.py",
)
LIB, SITE = "/sbx/lib", "/sbx/site"
SANDBOX_UID = 1000
TMP_BYTES = 16 * 1024 * 1024
SHM_BYTES = 1024 * 1024  # /dev/shm: a small tmpfs of its own (POSIX semaphores fit; bulk memory does not)
# Kernel interfaces under /proc that a process whose uid is host root (bwrap started by root maps the sandbox
# uid to it) could write without any capability: made read-only, as Docker's default ReadonlyPaths, or hidden
# (/dev/null over them), as its MaskedPaths. /proc/sys/kernel/core_pattern alone would hand out host root.
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
PROC_MASKED = ("kcore", "keys", "timer_list", "sched_debug", "latency_stats", "acpi", "scsi")
ENV = {
    "LANG": "C.UTF-8",
    **{k: "1" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")},
}


class BwrapMissing(RuntimeError):
    pass


@dataclass
class View:
    argv: list[str]  # bwrap and its options, up to (not including) the command
    python: str  # the interpreter's path inside (the same as outside)
    sys_path: list[str]  # the zygote's sys.path inside
    read_roots: list[str]  # what the audit hook lets model code read (the second layer)


def _stdlib_dirs() -> list[str]:
    """The base interpreter's stdlib and extension-module dirs (never a virtualenv's, whatever sysconfig says)."""
    import _ctypes

    out = [os.path.realpath(os.path.dirname(os.__file__))]
    dynload = os.path.realpath(os.path.dirname(_ctypes.__file__))
    if not dynload.startswith(out[0] + os.sep):
        out.append(dynload)
    return out


def _in_site(path: str) -> bool:
    return any(part in ("site-packages", "dist-packages") for part in Path(path).parts)


def _third_party(stdlib: list[str]) -> dict[str, str]:
    """Top-level preloaded modules that live outside the stdlib -> their file or package dir on the host."""
    found: dict[str, str] = {}
    for name in sorted({m.partition(".")[0] for m in PRELOAD}):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
            continue
        origin = os.path.realpath(spec.origin)
        if any(origin.startswith(d + os.sep) for d in stdlib) and not _in_site(origin):
            continue
        src = spec.submodule_search_locations[0] if spec.submodule_search_locations else origin
        found[name] = os.path.realpath(src)
        libs = os.path.join(os.path.dirname(found[name]), f"{name}.libs")  # vendored shared libs of a wheel
        if os.path.isdir(libs):
            found[f"{name}.libs"] = libs
    return found


def _libpython() -> list[str]:
    """The shared libpython this interpreter has loaded, if any (read from /proc/self/maps, not build-time paths)."""
    found: list[str] = []
    with open("/proc/self/maps") as fh:
        for line in fh:
            path = line.split(maxsplit=5)[-1].strip() if line.count(" ") >= 5 else ""
            if "/libpython" in path and path not in found and os.path.isfile(path):
                found.append(path)
    return found


def _libdirs() -> list[str]:
    out = []
    multiarch = sysconfig.get_config_var("MULTIARCH")
    for d in ("/usr/lib", "/usr/lib64"):
        if multiarch and d == "/usr/lib" and os.path.isdir(f"/usr/lib/{multiarch}"):
            out.append(f"/usr/lib/{multiarch}")
        elif d == "/usr/lib64" and os.path.isdir(d):
            out.append(d)
    if not out:
        out.append("/usr/lib")
    return out


def _kernel_interfaces_read_only() -> list[str]:
    """bwrap arguments that leave /proc's kernel-wide files unwritable and /dev's nodes unchangeable.

    bwrap covers /proc/sys itself only when it finds the directory writable, which it never is; started by
    root, the sandbox uid is host uid 0 and the kernel lets it write sysctls (``core_pattern``: host root) and
    chmod the host's device nodes. So: /proc's kernel interfaces are bound read-only (or hidden), /dev/shm gets
    a small tmpfs of its own and /dev itself is made read-only once set up (``view``). The device nodes stay
    bwrap's binds of the host's (a read-only remount would add nodev): seccomp refuses chmod and chown."""
    args: list[str] = []
    for name in PROC_READ_ONLY:
        if os.path.exists(f"/proc/{name}"):
            args += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
    for name in PROC_MASKED:
        path = f"/proc/{name}"
        if os.path.isdir(path):
            args += ["--size", "4096", "--tmpfs", path, "--remount-ro", path]
        elif os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    return [*args, "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]


def view() -> View:
    """Build the bubblewrap argv; :class:`BwrapMissing` if bwrap is not installed."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise BwrapMissing(
            "bubblewrap (bwrap) is not installed: apt-get install bubblewrap; or set "
            "SandboxConfig(unsafe_no_sandbox=True), CLI --unsafe-no-sandbox"
        )
    python = os.path.realpath(sys.executable)
    stdlib = _stdlib_dirs()
    args = [
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "sandbox",
        "--clearenv",
    ]
    for k, v in ENV.items():
        args += ["--setenv", k, v]
    args += ["--setenv", "HOME", "/scratch", "--setenv", "TMPDIR", "/tmp"]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]  # before binds
    args += _kernel_interfaces_read_only()
    args += ["--ro-bind", python, python]
    covers = []
    for d in stdlib:
        args += ["--ro-bind", d, d]
        for site in ("site-packages", "dist-packages"):  # the host's installed packages: hidden
            if os.path.isdir(os.path.join(d, site)):
                covers.append(os.path.join(d, site))
                args += ["--size", "4096", "--tmpfs", covers[-1]]
    for lib in _libpython():
        args += ["--ro-bind", lib, lib]
    for d in _libdirs():
        args += ["--ro-bind", d, d]
    for link in ("/lib", "/lib64"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for name, src in _third_party(stdlib).items():
        dest = f"{SITE}/{os.path.basename(src)}" if os.path.isfile(src) else f"{SITE}/{name}"
        args += ["--ro-bind", src, dest]
    for f in WORKER_FILES:
        args += ["--ro-bind", str(WORKER_DIR / f), f"{LIB}/{f}"]
    args += ["--dir", "/scratch", "--dir", SITE, "--remount-ro", "/", "--chdir", "/"]
    for mount in ("/dev", *covers):  # their own tmpfs mounts: --remount-ro / does not reach them
        args += ["--remount-ro", mount]
    sys_path = [
        p
        for p in sys.path
        if p and not _in_site(p) and any(p == d or p.startswith(d + os.sep) for d in stdlib)
    ]
    zip_path = os.path.join(
        os.path.dirname(stdlib[0]), f"python{sys.version_info[0]}{sys.version_info[1]}.zip"
    )
    path = list(dict.fromkeys([zip_path, *stdlib, *sys_path, SITE]))
    return View(args, python, path, [*stdlib, SITE, LIB])
