"""Build llama.cpp's ``llama-server`` and ``llama-batched-bench`` once per machine from the pinned sources.

The llama.cpp sources pinned inside the installed llama-cpp-python's sdist (``vendor/llama.cpp``) are fetched
with ``pip download --no-binary :all: --no-deps llama-cpp-python==<installed version>``; only the two targets
are built with cmake, with the same non-native flags as the Makefile's ``CMAKE_ARGS`` (DESIGN.md §6: the
native AMX path crashes on these CPUs), static, without the web UI (no download at build time) and TLS.
The binaries are cached under ``<models.cache_dir()>/llama-server/<version>-<flags hash>/bin`` with the build
log and a ``built.json`` marker; a file lock stops two processes building at once. About 10 minutes on two
busy cores, once. ``python -m agentdistill.models.server`` (``make server``) builds them ahead of the tests.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from agentdistill.llm.types import GenerationError
from agentdistill.models.registry import _lock, cache_dir

# The Makefile's CMAKE_ARGS (DESIGN.md §6) plus what a server-only build needs: no web UI download, no TLS.
GGML_FLAGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX2=ON",
    "-DGGML_AVX512=ON",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
)
BUILD_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
)
TARGETS = ("llama-server", "llama-batched-bench")


class ServerError(GenerationError):
    """The server could not be built or started (the message names the log file to read)."""


@dataclass(frozen=True)
class ServerBinaries:
    server: Path  # llama-server
    batched_bench: Path  # llama-batched-bench (the raw batched-decode ceiling, benchmarks/throughput.py)
    version: str  # llama-cpp-python version whose vendored llama.cpp they were built from


def llama_cpp_python_version() -> str:
    """The installed llama-cpp-python version (pinned in pyproject.toml): the sources the binaries come from."""
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError as exc:  # pragma: no cover - pinned dependency
        raise ServerError("llama-cpp-python is not installed; run `make install`") from exc


def build_dir(version: str | None = None) -> Path:
    """Where the binaries of ``version`` (default: installed) live: one dir per version and flag set."""
    version = version or llama_cpp_python_version()
    key = hashlib.sha256(" ".join(GGML_FLAGS + BUILD_FLAGS + TARGETS).encode()).hexdigest()[:10]
    return cache_dir() / "llama-server" / f"{version}-{key}"


def _run(cmd: list[str], log: Path, env: dict[str, str]) -> None:
    with open(log, "a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        rc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
        raise ServerError(f"`{' '.join(cmd[:4])} ...` failed (exit {rc}); log {log}: {tail}")


def _extract_vendor(sdist: Path, dest: Path) -> Path:
    """Extract only ``<sdist>/vendor/llama.cpp`` from the sdist tarball; return that directory."""
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name + "/"]
        if not members:
            raise ServerError(f"{sdist.name}: no vendor/llama.cpp inside the sdist")
        tar.extractall(dest, members=members, filter="data")
    src = next(dest.glob("*/vendor/llama.cpp"), None)
    if src is None or not (src / "CMakeLists.txt").exists():
        raise ServerError(f"{sdist.name}: vendor/llama.cpp has no CMakeLists.txt")
    return src


def ensure_server_binaries(*, jobs: int | None = None) -> ServerBinaries:
    """Return the cached llama-server / llama-batched-bench, building them once per machine if missing.

    Needs ``cmake`` (the pinned PyPI ``cmake`` beside this interpreter, else the one on PATH) and a C++ compiler
    (ninja is used when present). Raises ServerError naming the
    build log (``<build_dir>/build.log``) on failure.
    """
    version = llama_cpp_python_version()
    out = build_dir(version)
    bins = ServerBinaries(out / "bin" / TARGETS[0], out / "bin" / TARGETS[1], version)
    marker = out / "built.json"
    if marker.exists() and bins.server.exists() and bins.batched_bench.exists():
        return bins
    out.mkdir(parents=True, exist_ok=True)
    with _lock(out / ".lock"):
        if marker.exists() and bins.server.exists() and bins.batched_bench.exists():
            return bins
        cmake = shutil.which("cmake", path=str(Path(sys.executable).parent)) or shutil.which("cmake")
        if cmake is None:
            raise ServerError(
                "building llama-server needs cmake on PATH (apt-get install cmake, or pip install cmake)"
            )
        log = out / "build.log"
        with open(log, "a") as fh:
            fh.write(f"llama-server build from llama-cpp-python=={version} sdist\n")
        t0 = time.monotonic()
        work = out / "work"  # kept until success: a failed or killed build resumes where it stopped
        tmp = work / "tmp"  # the compiler's temp files live here, not in a /tmp that others may clean
        tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TMPDIR": str(tmp)}
        src = next(work.glob("src/*/vendor/llama.cpp"), None)
        if src is None or not (src / "CMakeLists.txt").exists():
            pip = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-binary",
                ":all:",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
                f"llama-cpp-python=={version}",
                "-d",
                str(work / "sdist"),
            ]
            _run(pip, log, env)
            sdist = next((work / "sdist").glob("llama_cpp_python-*.tar.gz"), None)
            if sdist is None:
                raise ServerError(f"pip download produced no llama-cpp-python sdist; log {log}")
            src = _extract_vendor(sdist, work / "src")
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        build = work / "build"
        _run([cmake, "-S", str(src), "-B", str(build), *gen, *GGML_FLAGS, *BUILD_FLAGS], log, env)
        _run(
            [cmake, "--build", str(build), "--target", *TARGETS, "-j", str(jobs or os.cpu_count() or 1)],
            log,
            env,
        )
        (out / "bin").mkdir(exist_ok=True)
        for target in TARGETS:
            built = build / "bin" / target
            if not built.exists():
                raise ServerError(f"cmake built no {built}; log {log}")
            shutil.copy2(built, out / "bin" / f".{target}.tmp")
            os.replace(out / "bin" / f".{target}.tmp", out / "bin" / target)
        shutil.rmtree(work, ignore_errors=True)
        info = {
            "version": version,
            "flags": GGML_FLAGS + BUILD_FLAGS,
            "seconds": round(time.monotonic() - t0, 1),
        }
        marker.write_text(json.dumps(info, indent=1))
    return bins
