"""Turns the input stream into FeatureFrames, hop by hop, causally."""
