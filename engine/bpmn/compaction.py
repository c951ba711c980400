"""Bounded workflow state: prune the finished past from a SpiffWorkflow task tree.

SpiffWorkflow keeps every task it ever ran in the workflow's task tree. A case that
loops (Västbas's upward spiral, six-monthly follow-ups, a weekly absence check)
grows the tree by a few levels per turn: saving and loading it get slower as the
case ages, and near a depth of 1000 the library's task iterator stops reaching the
open tasks, so the workflow reports itself completed with its work still to do.

After every step the engine calls `compact`, which keeps only what the library
can still look at and drops the rest (samverka's history table keeps the record):

* every open task, and every ancestor of one (the path the data flowed along);
* every child of an open task (multi-instance tasks count their children);
* every child of a completed split with an open child: its join is still pending
  (boundary-event and start-event joins inspect their split's children);
* the root, and each workflow's `last_task` with its ancestors (subprocess completion
  copies its data).

Finished side branches are removed, and a completed task on the path with one,
finished, child is spliced out (the child takes its place). The parent of an open
task is never spliced, so data inheritance is untouched. While a parallel,
inclusive or end join waits for branches, every instance of it and its parent stay
as they are: the join reads the finished branches that already arrived.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.control import EventSplit
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState


def _split_specs(workflow) -> set[str]:
    """Names of task specs whose children a structured join inspects."""
    names = {name for name, spec in workflow.spec.task_specs.items() if isinstance(spec, EventSplit)}
    for spec in workflow.spec.task_specs.values():
        if isinstance(spec, Join) and getattr(spec, "split_task", None):
            names.add(spec.split_task)
    return names


def _compact_one(workflow, top) -> int:
    tasks = workflow.tasks
    anchors = [t for t in tasks.values() if t.state & TaskState.NOT_FINISHED_MASK]
    # A waiting parallel/inclusive/end join reads the parents of every instance of its spec.
    waiting_joins = {t.task_spec for t in anchors
                     if isinstance(t.task_spec, UnstructuredJoin) and t.state == TaskState.WAITING}
    pinned: set = set()
    for task in tasks.values():
        if task.task_spec in waiting_joins:
            anchors.append(task)
            pinned.update((task.id, task._parent))

    live: set = set()
    if workflow.last_task is not None and workflow.last_task.id in tasks:
        anchors.append(workflow.last_task)
    for task in anchors:
        node = task
        while node is not None and node.id not in live:
            live.add(node.id)
            node = node.parent

    splits = _split_specs(workflow)
    keep = set(live)
    keep.add(workflow.task_tree.id)
    for task_id in live:
        task = tasks[task_id]
        if task.state & TaskState.NOT_FINISHED_MASK or (task.task_spec.name in splits and _has_open_child(task)):
            keep.update(task._children)

    removed = 0
    for task_id in [t for t in tasks if t not in keep]:
        removed += _remove(workflow, top, task_id, keep)

    for task_id in list(live):
        task = tasks.get(task_id)
        if task is None or task_id in pinned or not _spliceable(workflow, task):
            continue
        child = tasks[task._children[0]]
        parent = task.parent
        parent._children[parent._children.index(task.id)] = child.id
        child._parent = parent.id
        _forget(workflow, top, task.id)
        removed += 1
    return removed


def _spliceable(workflow, task) -> bool:
    if task.state != TaskState.COMPLETED or task.parent is None or len(task._children) != 1:
        return False
    if workflow.last_task is not None and workflow.last_task.id == task.id:
        return False
    child = workflow.tasks.get(task._children[0])
    return child is not None and bool(child.state & TaskState.FINISHED_MASK)


def _has_open_child(task) -> bool:
    return any(child.state & TaskState.NOT_FINISHED_MASK for child in task.children)


def _remove(workflow, top, task_id, keep) -> int:
    task = workflow.tasks.get(task_id)
    if task is None:
        return 0
    parent = task.parent
    if parent is not None and parent.id in keep and task_id in parent._children:
        parent._children.remove(task_id)
    _forget(workflow, top, task_id)
    return 1


def _forget(workflow, top, task_id) -> None:
    task = workflow.tasks[task_id]
    if task_id in top.subprocesses:
        top.delete_subprocess(task)
    del workflow.tasks[task_id]


def compact(workflow) -> int:
    """Prune finished tasks from a top-level workflow and its running subprocesses; returns how many."""
    if workflow.completed:
        return 0
    removed = 0
    for subprocess in list(workflow.subprocesses.values()):
        if not subprocess.completed:
            removed += _compact_one(subprocess, workflow)
    removed += _compact_one(workflow, workflow)
    return removed


def tree_depth(workflow) -> int:
    """The deepest path in the task tree (for tests and benchmarks)."""
    depth, stack = 0, [(workflow.task_tree, 1)]
    while stack:
        task, level = stack.pop()
        depth = max(depth, level)
        stack.extend((workflow.tasks[c], level + 1) for c in task._children if c in workflow.tasks)
    return depth
