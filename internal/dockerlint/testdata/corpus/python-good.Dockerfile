FROM python:3.13-slim@sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0
ENV PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /srv
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY app/ ./app/
RUN useradd --system --uid 10001 app
USER 10001
EXPOSE 8000/tcp
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/healthz')"]
ENTRYPOINT ["gunicorn", "-b", "0.0.0.0:8000", "app.wsgi:application"]
