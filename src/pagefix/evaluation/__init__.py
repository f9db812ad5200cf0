"""Measuring the pipeline's models on labelled data: orientation accuracy and unwarping quality.

A front end over the models and pipeline layers; `pagefix eval` is its command line.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`); its own interface is `pagefix eval`."""

from .datasets import ClassificationList, LabelledPage, UprightFolder, open_orientation_source
from .orientation import ClassifierScorer, OrientationReport, Prediction, evaluate_orientation
from .unwarping import UnwarpingReport, evaluate_unwarping, read_manifest

__all__ = [
    "ClassificationList",
    "ClassifierScorer",
    "LabelledPage",
    "OrientationReport",
    "Prediction",
    "UnwarpingReport",
    "UprightFolder",
    "evaluate_orientation",
    "evaluate_unwarping",
    "open_orientation_source",
    "read_manifest",
]
