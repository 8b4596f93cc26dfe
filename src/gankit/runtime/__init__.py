"""Below everything that trains, samples or measures: devices and process groups, the cache folder,
checkpoint files and named random seeds."""
