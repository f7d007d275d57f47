"""Scheduling: the generation loop each model hands its requests to, and the runners it drives."""
