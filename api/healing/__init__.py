"""The healer: finds a model whose backend died and reloads it (see healer.py)."""
