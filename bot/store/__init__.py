"""The storage engines behind the core's ports: SQLite (``sqlite``, the default) and PostgreSQL
(``postgres``), chosen by ``engine.make_store``; the repository code shared by both (``tx`` and
the repositories beside it). See ``engine`` for what an engine is made of."""
