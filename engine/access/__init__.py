"""Who may see and do what: identity (tokens, API keys), the case access policy, consent, the access log,
personnummer (validation, keyed hash, sealing)."""
