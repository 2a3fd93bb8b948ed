"""full-text search index

SQLite: `search_index` (one row per archived version: the denormalised filter columns, the hit
fields and the searchable text) is the external content of the FTS5 table `search_index_fts`;
triggers keep the two in step, so deleting an index row (or, by cascade, its version) also
removes its terms.

PostgreSQL: the same `search_index` table with a weighted `document` tsvector under a GIN
index, in a text search configuration that folds diacritics (unaccent) like SQLite's
unicode61 remove_diacritics.

The tables are named search_index* so the models-vs-migrations comparison skips them: they
are not ORM models (the columns differ per backend), app/open_records/search.py owns them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    """
    CREATE TABLE search_index (
        version_id INTEGER NOT NULL PRIMARY KEY
            REFERENCES captured_versions (id) ON DELETE CASCADE,
        post_id INTEGER NOT NULL,
        version_number INTEGER NOT NULL,
        owner_id INTEGER NOT NULL,
        account_id INTEGER NOT NULL,
        platform VARCHAR(16) NOT NULL,
        created_at DATETIME NOT NULL,
        captured_at DATETIME NOT NULL,
        url VARCHAR(2048) NOT NULL,
        author_handle VARCHAR(512),
        author_name VARCHAR(512),
        body TEXT NOT NULL,
        author TEXT NOT NULL,
        replies TEXT NOT NULL,
        media TEXT NOT NULL
    )
    """,
    "CREATE INDEX ix_search_index_owner_created ON search_index (owner_id, created_at)",
    "CREATE INDEX ix_search_index_account_created ON search_index (account_id, created_at)",
    "CREATE INDEX ix_search_index_platform_created ON search_index (platform, created_at)",
    "CREATE INDEX ix_search_index_created ON search_index (created_at)",
    "CREATE INDEX ix_search_index_post ON search_index (post_id)",
    # porter over unicode61: "closures" finds "closure", "café" finds "cafe".
    """
    CREATE VIRTUAL TABLE search_index_fts USING fts5(
        body, author, replies, media,
        content='search_index', content_rowid='version_id',
        tokenize='porter unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER search_index_ai AFTER INSERT ON search_index BEGIN
        INSERT INTO search_index_fts (rowid, body, author, replies, media)
        VALUES (new.version_id, new.body, new.author, new.replies, new.media);
    END
    """,
    """
    CREATE TRIGGER search_index_ad AFTER DELETE ON search_index BEGIN
        INSERT INTO search_index_fts (search_index_fts, rowid, body, author, replies, media)
        VALUES ('delete', old.version_id, old.body, old.author, old.replies, old.media);
    END
    """,
    """
    CREATE TRIGGER search_index_au AFTER UPDATE ON search_index BEGIN
        INSERT INTO search_index_fts (search_index_fts, rowid, body, author, replies, media)
        VALUES ('delete', old.version_id, old.body, old.author, old.replies, old.media);
        INSERT INTO search_index_fts (rowid, body, author, replies, media)
        VALUES (new.version_id, new.body, new.author, new.replies, new.media);
    END
    """,
]

_POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """
    DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'postvault_search') THEN
            CREATE TEXT SEARCH CONFIGURATION postvault_search (COPY = pg_catalog.english);
            ALTER TEXT SEARCH CONFIGURATION postvault_search
                ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
        END IF;
    END $$
    """,
    """
    CREATE TABLE search_index (
        version_id INTEGER NOT NULL PRIMARY KEY
            REFERENCES captured_versions (id) ON DELETE CASCADE,
        post_id INTEGER NOT NULL,
        version_number INTEGER NOT NULL,
        owner_id INTEGER NOT NULL,
        account_id INTEGER NOT NULL,
        platform VARCHAR(16) NOT NULL,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL,
        captured_at TIMESTAMP WITH TIME ZONE NOT NULL,
        url VARCHAR(2048) NOT NULL,
        author_handle VARCHAR(512),
        author_name VARCHAR(512),
        body TEXT NOT NULL,
        author TEXT NOT NULL,
        replies TEXT NOT NULL,
        media TEXT NOT NULL,
        document TSVECTOR NOT NULL
    )
    """,
    "CREATE INDEX ix_search_index_document ON search_index USING gin (document)",
    "CREATE INDEX ix_search_index_owner_created ON search_index (owner_id, created_at)",
    "CREATE INDEX ix_search_index_account_created ON search_index (account_id, created_at)",
    "CREATE INDEX ix_search_index_platform_created ON search_index (platform, created_at)",
    "CREATE INDEX ix_search_index_created ON search_index (created_at)",
    "CREATE INDEX ix_search_index_post ON search_index (post_id)",
]


def upgrade() -> None:
    statements = _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_index_fts")
        op.execute("DROP TABLE IF EXISTS search_index")
    else:
        op.execute("DROP TABLE IF EXISTS search_index")
        op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS postvault_search")
