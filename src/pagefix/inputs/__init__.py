"""The input layer: any source to a stream of `Page(image, input_path, page_index)`.

Internal: these modules may change between releases; the public API is what `pagefix` exports
(`pagefix.__all__`), which includes `Page` and `PageFailure`."""

from .decode import check_pixels, decode_image
from .fetch import fetch_url, is_url
from .formats import ALLOWED_FORMATS, sniff_format
from .page import Page, PageFailure
from .pdf import iter_pdf_pages
from .sources import IMAGE_SUFFIXES, iter_page_sizes, iter_pages, iter_sources, list_directory, pages_from_bytes
from .urls import WebURL, parse_url

__all__ = [
    "ALLOWED_FORMATS",
    "IMAGE_SUFFIXES",
    "Page",
    "PageFailure",
    "WebURL",
    "check_pixels",
    "decode_image",
    "fetch_url",
    "is_url",
    "iter_page_sizes",
    "iter_pages",
    "iter_sources",
    "iter_pdf_pages",
    "list_directory",
    "pages_from_bytes",
    "parse_url",
    "sniff_format",
]
