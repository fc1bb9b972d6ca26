"""Rendering the maps: colours, heatmap and overlay videos (whole or in segments), per-frame exports, AOI outlines."""
