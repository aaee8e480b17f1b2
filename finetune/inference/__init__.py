"""Applying a fine-tuned model: `predictor` (the fast path: chunked, length-sorted, batched windows,
long notes streamed in bounded memory) and `runner` (what every inference command shares: settings,
contiguous shards, the finished-run marker). The commands are `finetune.predict` and `finetune.deid`."""
