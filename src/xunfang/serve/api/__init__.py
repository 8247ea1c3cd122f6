"""The dispatch service (command centre): FastAPI application, one router per resource,
settings, security, live feed and the glue between the dispatch core and the store."""
