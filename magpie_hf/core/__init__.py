"""The framework's core: stage declaration and registry, pipelines, recipes, column chains, fingerprints, seeds."""
