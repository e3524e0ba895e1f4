"""Task sets: bundled benchmarks, the closed-corpus multi-hop benchmark, and user files."""

from agentdistill.data.catalog import TaskSetInfo, list_task_sets
from agentdistill.data.errors import DataError
from agentdistill.data.loader import join_task_sets, load_task_specs, load_tasks, parse_task_spec
from agentdistill.data.task import Task

__all__ = [
    "DataError",
    "Task",
    "TaskSetInfo",
    "list_task_sets",
    "join_task_sets",
    "load_task_specs",
    "load_tasks",
    "parse_task_spec",
]
