"""The samverka engine: everything below the HTTP layer, grouped by concern.

- `engine.core`: the floor (models, database, settings, clock, errors, logs, paging, role names);
- `engine.bpmn`: the SpiffWorkflow boundary, the only code that imports SpiffWorkflow;
- `engine.access`: who is asking and what they may see and do; identity numbers; the access log;
- `engine.integration`: what goes out (the event outbox and feed, webhooks);
- `engine.casework`: cases and their work, the services the API calls.

Each package imports only those listed before it (checked by import-linter in `make test`).
"""
