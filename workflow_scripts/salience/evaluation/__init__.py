"""Comparing the maps with people: gaze on the video's timeline, metrics, AOIs, human heatmaps, report figures."""
