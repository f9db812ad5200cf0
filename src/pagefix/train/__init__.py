"""Fine-tuning the orientation classifier (PyTorch, from the `train` extra).

Importing this package does not import PyTorch: `trainer`, `network`, `onnx_weights` and `export`
do, and are imported only when training runs. `dataset` and `synthetic` work without it.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`); its own interface is `pagefix train`."""
