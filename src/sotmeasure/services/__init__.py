"""sotmeasure.services: the rules of the service, called by the API routers and the pages alike.

Layering (docs/DESIGN.md): store (tables) and jobs (the worker) below, api / web / cli above.
A service function takes a database session, the acting user and plain values; it returns
rows or typed values and raises `services.errors` (not-found, conflict, invalid input),
which the API answers as 404/409/422 JSON and the pages as an HTML page. Nothing here
imports FastAPI.
"""
