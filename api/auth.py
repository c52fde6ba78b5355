"""Bearer tokens: signed JWTs (HS256) carrying user id, role, region and, for applicants,
the unit's credit code. `gongfu token` issues them for the demo and the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError, model_validator

from api.errors import unauthorized
from api.state import AppState, app_state
from domain.decisions import Actor
from domain.roles import Role

ALGORITHM = "HS256"
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


def decode_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp"]})
        return Principal(user_id=claims["sub"], role=claims["role"], region=claims["region"],
                         unit_code=claims.get("unit"))
    except jwt.ExpiredSignatureError:
        raise unauthorized("令牌已过期，请重新登录", "the token has expired") from None
    except (jwt.InvalidTokenError, KeyError, ValidationError):
        raise unauthorized() from None


def current_principal(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise unauthorized()
    return decode_token(creds.credentials, state.settings.token_secret)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
