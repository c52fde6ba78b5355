"""For auditors: the lifecycle as the workflow history records it, and proof that the
record is true (it replays against the code to the same stages and end)."""
