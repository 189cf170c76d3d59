"""Load mix for bench/load.py: command-centre readers and field workflows.

* ``Reader`` (weight 6): vector tiles at z10-z14 over Pizhou (grids, enterprises,
  density), grid lists, point lookups (locate).
* ``FieldWorkflow`` (weight 2): grid staff check-ins (patrols) and hazards driven through
  the loop: reported → filed → dispatched → rectifying → verifying → (after photo) → closed,
  by a village's grid staff and their township leader.

Accounts come from ``GRIDMAP_LOAD_ACCOUNTS`` (JSON written by bench/load.py).
"""

from __future__ import annotations

import json
import math
import os
import random

from locust import HttpUser, between, task

ACCOUNTS = json.loads(os.environ.get("GRIDMAP_LOAD_ACCOUNTS", "{}"))
JPEG = b"\xff\xd8\xff\xe0" + b"0" * 2048
WEST, SOUTH, EAST, NORTH = 117.65, 34.15, 118.15, 34.65


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _login(client, account: dict) -> dict:
    response = client.post("/api/v1/auth/token", data={"username": account["username"],
                                                        "password": account["password"]}, name="login")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class Reader(HttpUser):
    weight = 6
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        self.headers = _login(self.client, ACCOUNTS["admin"])

    @task(6)
    def tile(self) -> None:
        z = random.randint(10, 14)
        x, y = _tile(random.uniform(WEST, EAST), random.uniform(SOUTH, NORTH), z)
        layer = random.choice(("grids", "grids", "enterprises", "density"))
        self.client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=self.headers, name=f"/tiles/{layer}/z/x/y")

    @task(2)
    def grids(self) -> None:
        self.client.get("/api/v1/grids", params={"level": "village", "limit": 50,
                                                 "offset": random.randrange(0, 450)},
                        headers=self.headers, name="/api/v1/grids")

    @task(2)
    def locate(self) -> None:
        self.client.get("/api/v1/locate", params={"lon": random.uniform(117.8, 118.1),
                                                  "lat": random.uniform(34.2, 34.55)},
                        headers=self.headers, name="/api/v1/locate")


class FieldWorkflow(HttpUser):
    weight = 2
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        team = random.choice(ACCOUNTS["teams"])
        self.village = team["village"]
        self.point = team["point"]
        self.staff = _login(self.client, team["staff"])
        self.leader = _login(self.client, team["leader"])

    def _move(self, hazard_id: int, to: str, headers: dict, **extra) -> bool:
        response = self.client.post(f"/api/v1/hazards/{hazard_id}/transition", json={"to": to, **extra},
                                    headers=headers, name=f"transition → {to}")
        return response.status_code == 200

    @task(3)
    def patrol(self) -> None:
        lon, lat = self.point
        self.client.post("/api/v1/patrols", json={"lon": lon + random.uniform(-1e-4, 1e-4),
                                                  "lat": lat + random.uniform(-1e-4, 1e-4), "crs": "cgcs2000",
                                                  "note": "巡查打卡"},
                         headers=self.staff, name="/api/v1/patrols")

    @task(1)
    def hazard_loop(self) -> None:
        lon, lat = self.point
        created = self.client.post("/api/v1/hazards", json={
            "lon": lon, "lat": lat, "crs": "cgcs2000", "category": "fire_equipment", "grade": "general",
            "source": "patrol", "description": "灭火器过期"}, headers=self.staff, name="/api/v1/hazards")
        if created.status_code != 201:
            return
        hazard_id = created.json()["id"]
        for to, headers in (("filed", self.leader), ("dispatched", self.leader),
                            ("rectifying", self.staff), ("verifying", self.staff)):
            if not self._move(hazard_id, to, headers):
                return
        photo = self.client.post(f"/api/v1/hazards/{hazard_id}/attachments", data={"kind": "after_photo"},
                                 files={"file": ("after.jpg", JPEG, "image/jpeg")}, headers=self.staff,
                                 name="/api/v1/hazards/{id}/attachments")
        if photo.status_code == 201:
            self._move(hazard_id, "closed", self.leader, attachments=[photo.json()["id"]])
