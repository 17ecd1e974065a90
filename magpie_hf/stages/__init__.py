"""The stage library: generic stages any pipeline composes (sample, grade, the ask family).

Each module registers its stage with `magpie_hf.core.stage.stage`; pipelines
add their own stages in `magpie_hf/pipelines/<name>/`.
"""
