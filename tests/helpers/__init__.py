"""Shared test code: tiny videos and stores, the fixtures' weight recipe, official files, the Snakemake runner."""
