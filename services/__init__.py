"""Application services: how callers (API, CLI, demo, tests) start and drive projects."""
