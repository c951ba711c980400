"""The web and database stack's floor for one step, to set samverka's own cost against (tests/bench/
test_stack_floor.py): FastAPI on uvicorn (uvloop, httptools), SQLAlchemy Core on psycopg, the load generator's
URLs and answers — and nothing of samverka: no engine, no caller, no ORM objects, no checks. A completion is one
transaction of three statements like the step's (read the row, update it with a 10 KB state, insert a log row).
"""
from __future__ import annotations

import json
import os
import uuid

from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["STACK_FLOOR_DB"], pool_size=4, max_overflow=4)
app = FastAPI()
_START = text("INSERT INTO step (id, n, body) VALUES (:id, 0, '{}')")
_READ = text("SELECT id, n, body FROM step WHERE id = :id")
_WRITE = text("UPDATE step SET n = n + 1, body = :body WHERE id = :id")
_LOG = text("INSERT INTO log (step_id, at, body) VALUES (:id, now(), :body)")


@app.post("/cases", status_code=201)
async def start(payload: dict):
    case_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(_START, {"id": case_id})
    return {"id": case_id, "open_tasks": [{"id": case_id, "element_id": "folj_upp"}]}


@app.post("/tasks/{task_id}/complete")
async def complete(task_id: str, payload: dict):
    with engine.begin() as connection:
        row = connection.execute(_READ, {"id": task_id}).one()
        body = json.dumps({"n": row.n, "data": payload, "state": "x" * 10_000})
        connection.execute(_WRITE, {"id": task_id, "body": body})
        connection.execute(_LOG, {"id": task_id, "body": body[:200]})
    answer = {"id": task_id, "state": "completed", "open_tasks": [{"id": task_id, "element_id": "folj_upp"}]}
    return Response(json.dumps(answer), media_type="application/json")
