"""samverka's REST API (FastAPI)."""
