"""newsflow: a news-ingestion pipeline.

The public Python surface is small: :class:`Article` (the record every parser produces),
:class:`Settings` and the errors in :mod:`newsflow.errors`. The command line (``newsflow``)
is a thin layer over :mod:`newsflow.api`.
"""

from typing import TYPE_CHECKING, Any

from newsflow.article import Article
from newsflow.errors import NewsflowError

if TYPE_CHECKING:
    from newsflow.settings import Settings

__all__ = ["Article", "NewsflowError", "Settings", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``Settings`` is imported when first asked for: a worker process, which imports
    ``newsflow.article`` and so this package, never reads the settings (pydantic-settings
    costs it a sixth of a second)."""
    if name == "Settings":
        from newsflow.settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
