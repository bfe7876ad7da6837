"""HTTP routes, one module per concern, each with its own `router`; `app.main` includes them."""
