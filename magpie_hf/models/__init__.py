"""Models: presets (data), carriers of packaged weights, the reward model, sentence embeddings."""
