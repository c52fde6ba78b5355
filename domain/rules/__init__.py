"""The rules of one project, in small pure modules over `ProjectData`: guards, effects,
content checks, co-signature, alarms and deadlines, idempotency, and the refusals that
explain them. `domain.lifecycle` ties them to the decisions; nothing here reads a clock."""
