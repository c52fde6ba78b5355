"""Bearer tokens: signed JWTs carrying user id, role, region and, for applicants, the
unit's credit code. The demo and the tests sign them with a shared secret (HS256,
`gongfu token`); in production the province's identity provider signs them (RS256) and
publishes its keys at a JWKS URL (`GONGFU_TOKEN_JWKS_URL`), and only those are accepted.

Registered claims must have their registered types (RFC 7519: NumericDate for exp, iat,
nbf; strings for sub, iss): PyJWT converts a numeric string such as "9999999999" with
int() and would accept it, so the types are checked here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError, model_validator

from api.errors import unauthorized
from api.state import AppState, app_state
from domain.decisions import Actor
from domain.roles import Role
from runtime.settings import Settings

ALGORITHM = "HS256"
IDP_ALGORITHMS = ["RS256"]
_NUMERIC_DATES = ("exp", "iat", "nbf")
_STRINGS = ("sub", "iss", "role", "region", "jti")
_bearer = HTTPBearer(auto_error=False, description="a token from `gongfu token`")


class Principal(BaseModel):
    user_id: str = Field(min_length=1, max_length=64)
    role: Role
    region: str = Field(pattern=r"^37(\d{2}){0,2}$")
    unit_code: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Principal:
        if self.role is Role.SYSTEM:
            raise ValueError("no token is issued for the system role")
        if self.role is Role.APPLICANT and not self.unit_code:
            raise ValueError("an applicant's token names its unit")
        expected = {Role.COUNTY: 6, Role.CITY: 4, Role.CITY_FINANCE: 4}.get(self.role, None)
        if expected and len(self.region) != expected:
            raise ValueError(f"a {self.role.value} acts for a {expected}-digit region code")
        if self.role in (Role.PROVINCE, Role.PROVINCE_FINANCE) and self.region != "37":
            raise ValueError("the province acts for region 37")
        return self

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, role=self.role, region=self.region,
                     unit_code=self.unit_code)


def issue_token(p: Principal, secret: str, ttl: timedelta = timedelta(hours=12)) -> str:
    now = datetime.now(UTC)
    claims = {"sub": p.user_id, "role": p.role.value, "region": p.region, "iat": now,
              "exp": now + ttl}
    if p.unit_code:
        claims["unit"] = p.unit_code
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _typed(claims: dict[str, Any]) -> bool:
    """Registered (and our) claims have the types they are registered with."""
    for name in _NUMERIC_DATES:
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            return False
    if any(name in claims and not isinstance(claims[name], str) for name in _STRINGS):
        return False
    unit = claims.get("unit")
    return unit is None or isinstance(unit, str)


@lru_cache(maxsize=4)
def _jwks(url: str) -> jwt.PyJWKClient:
    """One client per URL: it caches the provider's keys and fetches them again when a
    token names a key it does not hold (key rotation)."""
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def decode_token(token: str, cfg: Settings | str) -> Principal:
    """The principal a token carries, or 401. `cfg`: the settings (HS256 with the secret,
    or RS256 with the JWKS URL when one is set); a bare secret means HS256."""
    if isinstance(cfg, str):
        cfg = Settings(token_secret=cfg)
    try:
        options: Any = {"require": ["exp", "iat", "sub"]}
        if cfg.token_jwks_url:
            key: Any = _jwks(cfg.token_jwks_url).get_signing_key_from_jwt(token).key
            claims = jwt.decode(token, key, algorithms=IDP_ALGORITHMS, options=options,
                                issuer=cfg.token_issuer, audience=cfg.token_audience)
        else:
            claims = jwt.decode(token, cfg.token_secret, algorithms=[ALGORITHM],
                                options=options)
        if not _typed(claims):
            raise jwt.InvalidTokenError("a registered claim has the wrong type")
        return Principal(user_id=claims["sub"], role=claims["role"], region=claims["region"],
                         unit_code=claims.get("unit"))
    except jwt.ExpiredSignatureError:
        raise unauthorized("令牌已过期，请重新登录", "the token has expired") from None
    except jwt.PyJWKClientConnectionError:
        raise unauthorized("暂时无法获取身份提供方的公钥，请稍后重试",
                           "the identity provider's keys cannot be fetched; retry later"
                           ) from None
    except (jwt.InvalidTokenError, jwt.PyJWKClientError, KeyError, ValidationError):
        raise unauthorized() from None


def current_principal(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise unauthorized()
    return decode_token(creds.credentials, state.settings)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
