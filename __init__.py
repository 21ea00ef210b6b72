"""Stepwise: an annotation-campaign server with a GraphQL API."""
