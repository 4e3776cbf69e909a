"""Prefect flows and the ``newsflow`` command line. They orchestrate; the logic lives in
``parsers``, ``processing`` and ``storage``."""
