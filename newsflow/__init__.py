"""newsflow: a news-ingestion pipeline.

The public Python surface is small: :class:`Article` (the record every parser produces),
:class:`Settings` and the errors in :mod:`newsflow.errors`. The command line (``newsflow``)
is a thin layer over :mod:`newsflow.api`.
"""

from newsflow.article import Article
from newsflow.errors import NewsflowError
from newsflow.settings import Settings

__all__ = ["Article", "NewsflowError", "Settings", "__version__"]
__version__ = "0.1.0"
