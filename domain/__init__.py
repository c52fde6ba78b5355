"""The programme's rules and the project lifecycle as pure, deterministic code.

Nothing here does I/O or reads the clock: the workflow passes `workflow.now()` in, the
activities pass data in. That is what lets the same code run inside Temporal's sandbox,
replay years later, and be tested without a server.
"""
