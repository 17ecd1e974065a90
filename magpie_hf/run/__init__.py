"""Running recipes: shard plans, the runner, checkpoint storage, sources, executors."""
