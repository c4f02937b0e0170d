"""deploy/: three replicas serving the webhook, PostgreSQL, and a balancer that knows them all."""

from __future__ import annotations

import re

import yaml
from paths import ROOT

DEPLOY = ROOT / "deploy"


def test_compose_runs_three_replicas_on_postgres_behind_a_balancer() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    bots = {name: s for name, s in services.items() if "otbot" in " ".join(s.get("command", []))}
    assert sorted(bots) == ["bot1", "bot2", "bot3"]
    for bot in bots.values():
        assert bot["command"][:2] == ["otbot", "serve"]  # serve never sets the webhook
        env = bot["environment"]
        assert env["OTBOT_DATABASE_URL"].startswith("postgresql://")
        assert "TELEGRAM_WEBHOOK_SECRET" in env and "TELEGRAM_BOT_TOKEN" in env
        assert "/readyz" in " ".join(bot["healthcheck"]["test"])
        assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["balancer"]["image"].startswith("nginx")
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert sorted(re.findall(r"server (bot\d):8080", nginx)) == sorted(bots)
    assert "non_idempotent" in nginx  # a failed replica's update goes to another one
