"""The 2026 notice's nine tasks in three directions (榜单内容概要). A batch stores its own
task list; this is the list the 2026 batches start from. 2024's list is batch data."""

from __future__ import annotations

DIRECTIONS_ZH = {
    "technology": "技术赋能",
    "chain": "链式转型",
    "carrier": "载体赋能",
    "cluster": "中小企业特色产业集群",
}

TASKS_2026: tuple[tuple[str, str, str], ...] = (
    ("T1", "technology", "5G工厂（产线/车间）"),
    ("T2", "technology", "“工业机器人+”典型场景"),
    ("T3", "technology", "工业互联网平台+大模型（生产制造方向）"),
    ("T4", "technology", "工业互联网平台+大模型（供应链协同方向）"),
    ("T5", "technology", "工业互联网平台+大模型（安全生产方向）"),
    ("T6", "technology", "工业互联网平台+大模型（绿色低碳方向）"),
    ("T7", "technology", "“万兆+人工智能（AI）”能力提升"),
    ("T8", "chain", "产业链链式转型"),
    ("T9", "carrier", "数字化转型公共服务载体赋能"),
)
CARRIER_TASKS_2026 = tuple(code for code, direction, _ in TASKS_2026 if direction == "carrier")
