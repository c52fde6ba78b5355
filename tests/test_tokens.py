"""Tokens (issue 17, finding 9): claims with their registered types, RS256 tokens of the
province's identity provider verified against a JWKS the test serves, HS256 for the demo,
and no API or worker started outside demo mode with the documented demo secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from api.app import create_app
from api.state import AppState
from runtime.settings import DEMO_TOKEN_SECRET, DemoSecretRefused, Settings, refuse_demo_secret
from tests.api_support import SETTINGS
from tests.driver import Harness

ROOT = Path(__file__).resolve().parent.parent
ISSUER, AUDIENCE = "https://idp.example.sd.gov.cn", "gongfu"


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    """A local identity provider: an RSA key pair and its JWKS, served over HTTP."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield key, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def claims(**over: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"sub": "prov-idp", "role": "province", "region": "37", "iat": now,
            "exp": now + timedelta(hours=1), "iss": ISSUER, "aud": AUDIENCE, **over}


def rs256(key: rsa.RSAPrivateKey, kid: str = "k1", **over: Any) -> dict[str, str]:
    token = jwt.encode(claims(**over), key, algorithm="RS256", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


async def test_rs256_tokens_from_a_jwks_url(
    ts: Harness, idp: tuple[rsa.RSAPrivateKey, str],
) -> None:
    key, url = idp
    cfg = SETTINGS.model_copy(update={"token_jwks_url": url, "token_issuer": ISSUER,
                                      "token_audience": AUDIENCE})
    app = create_app(AppState(client=ts.env.client, db=ts.db, settings=cfg,
                              task_queue=ts.queue))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        assert (await http.get("/projects", headers=rs256(key))).status_code == 200
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        refused = [
            rs256(other),  # signed by a key the provider does not publish
            rs256(key, kid="k2"),  # a key id the JWKS does not hold
            rs256(key, iss="https://elsewhere"),
            rs256(key, aud="another-app"),
            rs256(key, exp=datetime.now(UTC) - timedelta(minutes=1)),
            rs256(key, exp=str(int((datetime.now(UTC) + timedelta(hours=1)).timestamp()))),
            rs256(key, sub=123),
            # the demo's HS256 is off once the identity provider is configured
            {"Authorization": "Bearer " + jwt.encode(
                {k: v for k, v in claims().items() if k not in ("iss", "aud")},
                SETTINGS.token_secret, algorithm="HS256")},
        ]
        for headers in refused:
            r = await http.get("/projects", headers=headers)
            assert r.status_code == 401 and r.json()["rule"] == "AUTH", r.text


def test_hs256_claims_must_have_their_registered_types() -> None:
    from api.auth import decode_token
    from api.errors import ApiError

    secret = SETTINGS.token_secret
    ok = {k: v for k, v in claims().items() if k not in ("iss", "aud")}
    assert decode_token(jwt.encode(ok, secret, algorithm="HS256"), SETTINGS).user_id == "prov-idp"
    for bad in ({"exp": "9999999999"}, {"exp": True}, {"iat": "0"}, {"nbf": "1"},
                {"role": ["province"]}, {"unit": 5}):
        token = jwt.encode({**ok, **bad}, secret, algorithm="HS256")
        with pytest.raises(ApiError) as exc:
            decode_token(token, SETTINGS)
        assert exc.value.status == 401, bad


def test_outside_demo_mode_the_demo_secret_is_refused() -> None:
    with pytest.raises(DemoSecretRefused):
        refuse_demo_secret(Settings(token_secret=DEMO_TOKEN_SECRET), "API")
    refuse_demo_secret(Settings(token_secret=DEMO_TOKEN_SECRET, demo=True), "API")
    refuse_demo_secret(Settings(token_secret="a-long-random-secret-" + "y" * 20,
                                seal_secret="another-long-random-secret-" + "z" * 20), "API")
    refuse_demo_secret(Settings(token_secret=DEMO_TOKEN_SECRET,
                                seal_secret="another-long-random-secret-" + "z" * 20,
                                token_jwks_url="https://idp/jwks"), "API")
    with pytest.raises(DemoSecretRefused, match="GONGFU_SEAL_SECRET"):  # the seal's too
        refuse_demo_secret(Settings(token_secret="a-long-random-secret-" + "y" * 20), "API")
    env = {k: v for k, v in os.environ.items()
           if k not in ("GONGFU_TOKEN_SECRET", "GONGFU_DEMO")}
    env["GONGFU_TEMPORAL_ADDRESS"] = "127.0.0.1:1"  # never reached: refused before
    for command in ("api", "worker"):
        proc = subprocess.run([sys.executable, "-m", "tools.cli", command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0, proc.stdout
        assert "GONGFU_TOKEN_SECRET" in proc.stderr and "GONGFU_DEMO" in proc.stderr, (
            proc.stderr)
