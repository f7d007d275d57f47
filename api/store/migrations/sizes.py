"""Column sizes that several migrations use. Frozen like the migrations themselves: a migration must
build today what it built when it was written, so a size here never changes (a new one gets a new
name)."""

KEY_ID = 11  # "qk_" + 8 hex digits
IDEMPOTENCY_KEY = 255 + KEY_ID + 1  # a client's key (255 at most), prefixed by its owner's key id and ":"
