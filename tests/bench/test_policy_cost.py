"""Benchmark: what a case-wide rights decision costs per request — the model's declarations checked by hand
(engine.core.seats + CaseAccess.may's rule) against the same rights as a casbin (pycasbin) ABAC policy, next
to what one authorised read costs over HTTP. The figures are recorded in docs/authorization.md.

Run with `make bench` (pycasbin must be installed for its half: `pip install pycasbin`). Cerbos is not measured
here: its Python package is a client of a separate policy decision point (a Go service, called over gRPC/HTTP
per decision), so its per-request cost is at least one local network round trip on top of the decision.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from factories import deployed, start_case

from engine.bpmn.lanes import declarations

pytestmark = pytest.mark.bench
ROOT = Path(__file__).resolve().parents[2]
N = 20_000


@dataclass(frozen=True)
class Subject:
    roles: tuple
    held: tuple
    units: tuple


@dataclass(frozen=True)
class Resource:
    process: str
    unit: str


def _hand(declared, subject: Subject, case: Resource, action: str) -> bool:
    """The rule of CaseAccess.may, over the per-request facts (roles held in the case, units) already loaded."""
    grants = declared.grants(action)
    if grants is None:
        return bool(subject.held)
    return any(g.role in subject.held or (g.reach != "participant" and g.role in subject.roles
                                          and case.unit in subject.units) for g in grants)


MODEL = """
[request_definition]
r = sub, obj, act
[policy_definition]
p = role, proc, act, reach
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.obj.process == p.proc && r.act == p.act && (p.role in r.sub.held || (p.reach != "participant" && p.role in r.sub.roles && r.obj.unit in r.sub.units))
"""


def _per_call(fn) -> float:
    start = time.perf_counter()
    for _ in range(N):
        fn()
    return (time.perf_counter() - start) / N * 1e6


def test_rights_decision_cost_by_hand_and_with_casbin(server, tmp_path):
    declared = declarations("vastbas", {"vastbas.bpmn": (ROOT / "processes" / "vastbas.bpmn").read_text()})
    sara = Subject(roles=("socialsekreterare",), held=(), units=("Höör",))
    maja = Subject(roles=("sprakror",), held=("sprakror",), units=("",))
    case = Resource("vastbas", "Höör")
    hand = {who: _per_call(lambda s=s: _hand(declared, s, case, "message:myndighetsutovning"))
            for who, s in (("allowed", sara), ("refused", maja))}
    assert _hand(declared, sara, case, "message:myndighetsutovning")
    assert not _hand(declared, maja, case, "message:myndighetsutovning")

    casbin = pytest.importorskip("casbin")
    (tmp_path / "model.conf").write_text(MODEL)
    (tmp_path / "policy.csv").write_text("".join(f"p, {g.role}, vastbas, {action}, {g.reach}\n"
                                                 for action, grants in declared.rights.items() for g in grants))
    enforcer = casbin.Enforcer(str(tmp_path / "model.conf"), str(tmp_path / "policy.csv"))
    assert enforcer.enforce(sara, case, "message:myndighetsutovning")
    assert not enforcer.enforce(maja, case, "message:myndighetsutovning")
    engine = {who: _per_call(lambda s=s: enforcer.enforce(s, case, "message:myndighetsutovning"))
              for who, s in (("allowed", sara), ("refused", maja))}

    with server.client("kim", "kontaktperson") as kim:
        deployed(server, "loop.bpmn")
        case_id = start_case(kim, "uppfoljning")["id"]
        kim.get(f"/cases/{case_id}")
        reads = []
        for _ in range(200):
            start = time.perf_counter()
            assert kim.get(f"/cases/{case_id}").status_code == 200
            reads.append((time.perf_counter() - start) * 1e3)
    print(f"\nrights decision, by hand: {hand['allowed']:.2f} µs allowed, {hand['refused']:.2f} µs refused")
    print(f"rights decision, pycasbin {casbin.__version__ if hasattr(casbin, '__version__') else ''}: "
          f"{engine['allowed']:.1f} µs allowed, {engine['refused']:.1f} µs refused "
          f"({len(declared.rights)} actions, {sum(map(len, declared.rights.values()))} policy lines)")
    print(f"one authorised GET /cases/{{id}} over HTTP (SQLite): median {statistics.median(reads):.2f} ms, "
          f"p95 {sorted(reads)[189]:.2f} ms")
