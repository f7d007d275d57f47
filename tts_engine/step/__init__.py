"""One batched decoding step of the continuous engine: model ops, sampling, noise, KV cache, prompt prefix."""
