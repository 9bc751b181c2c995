"""The web shell: server-rendered pages (Jinja2 + htmx), their JSON twins under /api, auth and CSRF.

Build the app with `xjip.app.create_app(settings)`; `xjip serve` runs it with uvicorn."""
