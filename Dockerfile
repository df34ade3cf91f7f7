# drawdown in a container: the locked runtime dependencies only, run as a non-root user.
#   docker build -t drawdown .
#   docker run -p 8000:8000 -v drawdown-data:/data drawdown      # SQLite in /data
# compose.yaml runs it with PostgreSQL.

FROM python:3.12-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.12-slim
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home drawdown
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DRAWDOWN_DATABASE_URL=sqlite:////data/drawdown.db \
    DRAWDOWN_HOST=0.0.0.0 \
    DRAWDOWN_PORT=8000
USER drawdown
WORKDIR /data
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('DRAWDOWN_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["drawdown"]
CMD ["serve"]
