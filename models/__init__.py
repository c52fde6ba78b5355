"""SQLAlchemy models of programme data and the read model; see issue 3."""
