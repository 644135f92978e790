from __future__ import annotations
import time
def test_smoke(api):
    for v in (2, 2, 3):
        t=time.perf_counter()
        r = api.client.post("/v1/gate", json={"model": "gate-model", "version": v}, headers=api.headers("deployer"))
        print(r.status_code, r.json()["allowed"], r.json()["reused"], time.perf_counter()-t)
