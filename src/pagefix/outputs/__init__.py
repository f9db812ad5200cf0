"""File outputs: image files written atomically (`files`), the PDF writer (`pdf`) and the
three-panel picture (`panels`). Below the pipeline: they take arrays and result-like objects,
never a pipeline.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`), which includes `save_pdf`."""
