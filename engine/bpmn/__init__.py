"""The SpiffWorkflow boundary: parser, expressions, script engine, timers, spec cache, serializer, compaction, runner.

Nothing outside this package imports SpiffWorkflow; what leaves it is plain data (`runner.Snapshot`, `StepRecord`).
"""
