"""Voice-clone prompts as plain arrays, and the reference audio they are built from."""
