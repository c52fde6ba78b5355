# The application image: the API (`gongfu api`), the worker (`gongfu worker`) and the
# migrations (`gongfu migrate`) are the same image with different commands.
FROM python:3.11-slim AS app

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 GONGFU_LOG_FORMAT=json
WORKDIR /app

# Dependencies first (cached while only the code changes). psycopg2-binary ships wheels:
# no compiler needed.
COPY pyproject.toml README.md ./
RUN mkdir -p domain workflows activities api models services runtime tools \
    && touch worker.py && pip install . && pip uninstall -y gongfu-baijing

COPY . .
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 gongfu \
    && mkdir -p /var/lib/gongfu/documents && chown -R gongfu /var/lib/gongfu
USER gongfu

EXPOSE 8000
CMD ["gongfu", "api"]
