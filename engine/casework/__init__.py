"""Cases and their work: deployments, cases, tasks, timers and the worker, messages, absence import, forms and
scores, documents, figures, gallring and simulation. These are the services the API calls."""
