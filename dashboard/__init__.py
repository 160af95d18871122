"""anju dashboard: Dash pages, view models, tile endpoint and briefing renderer.

The dashboard reads a plan directory written by ``anju run`` and never computes GIS
itself, except when a planner re-runs the relocation stage for a scenario.
"""
