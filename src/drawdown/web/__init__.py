"""The web console: server-rendered pages for admins under /console (see `app.mount`)."""
