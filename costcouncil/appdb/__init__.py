"""App state in a SQL database (SQLAlchemy; SQLite by default, PostgreSQL for a shared deployment).

Users, their teams and roles, API tokens and the audit log. The schema is versioned with Alembic
(``costcouncil/appdb/migrations``); :func:`~costcouncil.appdb.db.open_database` upgrades a
database to the newest version when it opens it.
"""
