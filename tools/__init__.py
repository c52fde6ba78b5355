"""Developer and operator commands (`gongfu`), the test runner, the diagram generator."""
