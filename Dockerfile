# The forum's web image: gunicorn serving Django, run by docker-compose.yml.
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app

WORKDIR /app

# The runtime dependencies from pyproject.toml (no dev extras), in their own layer
# so a code change does not reinstall them; all but the routers, which are installed
# from their folder once it is copied. The app itself runs from /app.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*(d for d in tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'] if not d.startswith('django-replica-routers')), sep='\n')" >/tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps ./routers && rm -rf routers/build routers/*.egg-info

# Settings refuse to load without a secret key when DEBUG is off; this one exists
# only for this build step and is not in the image's environment.
RUN DJANGO_SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput -v0

USER app
EXPOSE 8000

ENTRYPOINT ["/app/docker/web-entrypoint.sh"]
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
