"""The static page served at `GET /`: index.html, app.js, app.css and the icon, as package data.

`app.api.page` serves these files; nothing here is generated at build time.
"""
