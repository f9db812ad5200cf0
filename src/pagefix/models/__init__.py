"""The model layer: model files (store), ONNX Runtime sessions (runtime), and one module per model
family with its own pre- and post-processing. Models see arrays, never paths of pages.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`)."""

from .orientation import Orientation, OrientationClassifier
from .runtime import OnnxRunner, Runner, RuntimeOptions
from .store import DEFAULT_MODELS, MODELS, ModelFiles, ModelSpec, ModelStore
from .unwarping import Unwarper

__all__ = [
    "DEFAULT_MODELS",
    "MODELS",
    "ModelFiles",
    "ModelSpec",
    "ModelStore",
    "OnnxRunner",
    "Orientation",
    "OrientationClassifier",
    "Runner",
    "RuntimeOptions",
    "Unwarper",
]
